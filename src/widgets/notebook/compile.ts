/**
 * Turns the TypeScript of a notebook cell into JavaScript the kernel worker can run as the body of an async
 * function, keeping every line where it was so errors point at the reader's own line numbers.
 *
 * 1. Sucrase strips the types (it preserves lines by design).
 * 2. Acorn parses the result; top-level declarations become assignments to the kernel's shared scope, so a
 *    later cell sees `const schedule = …` from an earlier one, and re-running a cell re-assigns instead of
 *    failing with "already declared" — the notebook-kernel behaviour readers know from Jupyter.
 * 3. A final expression statement becomes `return (…)`, and the kernel shows its value, as a notebook does.
 *
 * Loaded with the editor, only when the reader focuses a cell.
 */
import { transform } from 'sucrase';
import { parse, type Node } from 'acorn';

export interface CompiledCell {
  /** JavaScript for the body of `async function (scope) { with (scope) { … } }`; same line numbers as the source. */
  js: string;
  /** Names the cell declares at top level (the kernel creates them in its scope before running). */
  declared: string[];
}

/** A syntax error with its position in the reader's code (line 1-based, column 1-based). */
export class CellSyntaxError extends Error {
  constructor(message: string, readonly line: number, readonly column: number) {
    super(message);
    this.name = 'SyntaxError';
  }
}

interface Loc { line: number; column: number }
type AnyNode = Node & Record<string, any>;

/** Sucrase's columns count from 1, Acorn's from 0 (`columnBase`). */
function syntaxError(e: unknown, columnBase: 0 | 1): CellSyntaxError {
  const err = e as { message?: string; loc?: Loc };
  const loc = err.loc;
  // Both append " (line:column)" to the message; the position is reported separately.
  let message = String(err.message ?? e).replace(/\s*\(\d+:\d+\)\s*$/, '');
  if (/may appear only with 'sourceType: module'/.test(message)) message = 'import and export are not available in a cell: the core API is already in scope';
  return new CellSyntaxError(message, loc?.line ?? 1, (loc?.column ?? 0) + 1 - columnBase);
}

/** Identifiers bound by a declaration pattern (`a`, `{ a, b: [c] }`, `...rest`, `x = 1`). */
export function patternNames(p: AnyNode | null, out: string[] = []): string[] {
  if (!p) return out;
  switch (p.type) {
    case 'Identifier':
      out.push(p.name);
      break;
    case 'ObjectPattern':
      for (const prop of p.properties) patternNames(prop.type === 'RestElement' ? prop.argument : prop.value, out);
      break;
    case 'ArrayPattern':
      for (const el of p.elements) patternNames(el, out);
      break;
    case 'RestElement':
      patternNames(p.argument, out);
      break;
    case 'AssignmentPattern':
      patternNames(p.left, out);
      break;
  }
  return out;
}

interface Edit { start: number; end: number; text: string }

export function compileCell(source: string): CompiledCell {
  let js: string;
  try {
    js = transform(source, { transforms: ['typescript'], disableESTransforms: true }).code;
  } catch (e) {
    throw syntaxError(e, 1);
  }
  let program: AnyNode;
  try {
    program = parse(js, { ecmaVersion: 'latest', sourceType: 'script', allowAwaitOutsideFunction: true, allowReturnOutsideFunction: false, locations: true }) as AnyNode;
  } catch (e) {
    throw syntaxError(e, 0);
  }
  const declared: string[] = [];
  const edits: Edit[] = [];
  const body = program.body as AnyNode[];
  body.forEach((stmt, i) => {
    switch (stmt.type) {
      case 'VariableDeclaration': {
        // `const a = 1, { b } = o;` → `;(a = 1, { b } = o);` — same lines, now assignments (the leading `;`
        // keeps a previous line without a semicolon from calling the parenthesis).
        const decls = stmt.declarations as AnyNode[];
        let text = ';(';
        decls.forEach((d, k) => {
          patternNames(d.id, declared);
          text += js.slice(d.start, d.end) + (d.init ? '' : ' = undefined');
          if (k < decls.length - 1) text += js.slice(d.end, decls[k + 1].start);
        });
        text += ');';
        edits.push({ start: stmt.start, end: stmt.end, text });
        break;
      }
      case 'FunctionDeclaration':
      case 'ClassDeclaration': {
        const name = stmt.id.name as string;
        declared.push(name);
        edits.push({ start: stmt.start, end: stmt.start, text: `${name} = ` });
        edits.push({ start: stmt.end, end: stmt.end, text: ';' });
        break;
      }
      case 'ExpressionStatement':
        if (i === body.length - 1) {
          // The last expression's value is the cell's result (shown unless undefined).
          edits.push({ start: stmt.start, end: stmt.expression.start, text: 'return (' });
          edits.push({ start: stmt.expression.end, end: stmt.end, text: ');' });
        }
        break;
    }
  });
  edits.sort((a, b) => b.start - a.start || b.end - a.end);
  for (const e of edits) js = js.slice(0, e.start) + e.text + js.slice(e.end);
  return { js, declared: [...new Set(declared)] };
}
