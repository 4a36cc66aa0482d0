import { describe, expect, it } from 'vitest';
import { CellSyntaxError, compileCell, patternNames } from '../../../src/widgets/notebook/compile';
import { cellFileName, cellPosition, makeCellFunction, measureLineOffset } from '../../../src/workers/kernelProtocol';
import { parse } from 'acorn';

/** Run compiled cells one after another in one scope, as the kernel does. */
function kernelScope(api: Record<string, unknown> = {}) {
  const scope: Record<string, unknown> = Object.create(Object.assign(Object.create(null), api));
  let id = 1;
  return {
    scope,
    async run(source: string): Promise<unknown> {
      const { js, declared } = compileCell(source);
      for (const n of declared) if (!Object.prototype.hasOwnProperty.call(scope, n)) scope[n] = undefined;
      return makeCellFunction(js, id++)(scope);
    },
  };
}

describe('compileCell', () => {
  it('strips TypeScript and keeps every line where it was', () => {
    const src = [
      'interface P { a: number }',
      'const x: number = 1;',
      'type T = string | number;',
      'function f(p: P): number {',
      '  return p.a as number;',
      '}',
      'f({ a: x })',
    ].join('\n');
    const { js } = compileCell(src);
    const lines = js.split('\n');
    expect(lines.length).toBe(7);
    expect(lines[1]).toMatch(/x = 1/);
    expect(lines[1]).not.toMatch(/number/);
    expect(lines[3]).toMatch(/^f = function f\(p\)/);
    expect(lines[4]).toMatch(/return p\.a/);
    expect(lines[6]).toMatch(/^return \(f\(\{ a: x \}\)\);/);
  });

  it('lists the top-level names, including destructuring, and only top-level ones', () => {
    const { declared } = compileCell(
      'const a = 1, { b, c: [d, ...e] } = o, [f = 2] = p;\nlet g;\nvar h = 3;\nclass K {}\nasync function run() { const inner = 1; }\nfor (let i = 0; i < 2; i++) {}\n',
    );
    expect(declared.sort()).toEqual(['K', 'a', 'b', 'd', 'e', 'f', 'g', 'h', 'run']);
  });

  it('patternNames follows every pattern form', () => {
    const decl = (parse('const { a, b: { c }, ...r } = x;', { ecmaVersion: 'latest' }) as unknown as { body: [{ declarations: [{ id: never }] }] }).body[0];
    expect(patternNames(decl.declarations[0].id)).toEqual(['a', 'c', 'r']);
  });

  it('shares variables between cells and lets a cell be re-run (no "already declared")', async () => {
    const k = kernelScope();
    await k.run('const a: number = 2;\nlet list = [1, 2, 3];');
    expect(await k.run('a * 10 + list.length')).toBe(23);
    await k.run('const a = 5;');
    expect(await k.run('a')).toBe(5);
    await k.run('function double(v: number) { return 2 * v }\nclass Box { constructor(public v: number) {} }');
    expect(await k.run('double(new Box(a).v)')).toBe(10);
  });

  it('does not let a line without a semicolon call the next declaration', async () => {
    const k = kernelScope({ log: [] as number[] });
    expect(await k.run('const f = () => 1\nconst { x } = { x: 4 }\n;[f(), x]')).toEqual([1, 4]);
  });

  it('reads globals and the API through the scope, and unknown names still throw', async () => {
    const k = kernelScope({ answer: 42 });
    expect(await k.run('Math.max(answer, 1)')).toBe(42);
    await expect(k.run('undefinedThing + 1')).rejects.toThrow(/undefinedThing is not defined/);
  });

  it('supports top-level await and returns nothing when the last statement is not an expression', async () => {
    const k = kernelScope();
    expect(await k.run('const v = await Promise.resolve(7);')).toBeUndefined();
    expect(await k.run('await Promise.resolve(v + 1)')).toBe(8);
  });

  it('reports syntax errors at the reader’s line and column', () => {
    const src = 'const a = 1;\nconst b = 2;\nconst c = (a + ;\n';
    try {
      compileCell(src);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CellSyntaxError);
      expect((e as CellSyntaxError).line).toBe(3);
      expect((e as CellSyntaxError).column).toBe(16);
      expect(() => compileCell('let ok = 1;\nlet x = 1 +* 2;')).toThrow(expect.objectContaining({ line: 2, column: 12 }));
      expect((e as CellSyntaxError).message).not.toMatch(/\(\d+:\d+\)/);
    }
  });

  it('rejects import and export with a clear message and the line', () => {
    // (an unused import is dropped by the type stripper, like a type-only one, and is harmless)
    expect(() => compileCell('const a = 1;\nimport x from "y";\nx(a);')).toThrow(/import and export are not available/);
    expect(() => compileCell('export const a = 1;')).toThrow(/import and export are not available/);
    try {
      compileCell('const a = 1;\nimport x from "y";\nx(a);');
    } catch (e) {
      expect((e as CellSyntaxError).line).toBe(2);
    }
  });

  it('maps a runtime error to the reader’s line through the wrapper (V8, as in Chrome)', async () => {
    const offset = await measureLineOffset();
    const src = 'const a = 1;\n\nconst o: any = null;\nconst b = o.field;\n';
    const { js } = compileCell(src);
    const fn = makeCellFunction(js, 77);
    try {
      await fn(Object.create(null));
      expect.unreachable();
    } catch (e) {
      expect(cellPosition((e as Error).stack, cellFileName(77), offset)).toEqual({ line: 4, column: expect.any(Number) });
    }
  });
});

describe('cellPosition', () => {
  it('finds the innermost frame of the cell’s file and subtracts the offset', () => {
    const stack = 'Error: boom\n    at inner (http://x/_astro/core.js:10:5)\n    at eval (notebook-cell-3.js:7:12)\n    at eval (notebook-cell-3.js:9:1)';
    expect(cellPosition(stack, 'notebook-cell-3.js', 2)).toEqual({ line: 5, column: 12 });
    expect(cellPosition(stack, 'notebook-cell-4.js', 2)).toBeUndefined();
    expect(cellPosition(undefined, 'notebook-cell-3.js', 0)).toBeUndefined();
  });
});

describe('makeCellFunction', () => {
  it('runs a cell’s code once: the function object cannot run it again with another scope', async () => {
    const fn = makeCellFunction('__scope.n = (__scope.n ?? 0) + 1;\nreturn n', 5);
    const scope: Record<string, unknown> = {};
    expect(await fn(scope)).toBe(1);
    const spy: Record<string, unknown> = {};
    expect(await fn(spy)).toBeUndefined();
    expect(await fn(scope)).toBeUndefined();
    expect(spy).toEqual({});
    expect(scope.n).toBe(1);
  });

  it('does not build the cell through a replaced global Function', async () => {
    const real = globalThis.Function;
    const seen: string[] = [];
    (globalThis as { Function: unknown }).Function = function (...args: string[]) {
      seen.push(args.join());
      return real(...args);
    };
    try {
      await makeCellFunction('return 1', 6)({});
    } finally {
      (globalThis as { Function: unknown }).Function = real;
    }
    expect(seen).toEqual([]);
  });
});
