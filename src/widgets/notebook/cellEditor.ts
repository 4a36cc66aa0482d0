/**
 * The notebook's editor and transpiler, in one chunk that the page loads only when the reader focuses a cell
 * (its compressed size is reported by scripts/report-js.mjs and kept under 300 KB).
 *
 * CodeMirror 6 with TypeScript highlighting through classes (`tok-*`, styled by the site's light and dark
 * themes in Cell.svelte). Tab is left to the browser so the keyboard can leave the editor; Ctrl/Cmd+Enter runs.
 */
import { EditorState } from '@codemirror/state';
import { EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, highlightSpecialChars, drawSelection } from '@codemirror/view';
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { bracketMatching, indentOnInput, syntaxHighlighting } from '@codemirror/language';
import { closeBrackets, closeBracketsKeymap } from '@codemirror/autocomplete';
import { javascript } from '@codemirror/lang-javascript';
import { classHighlighter } from '@lezer/highlight';

export { compileCell, CellSyntaxError } from './compile';

export interface CellEditor {
  getCode(): string;
  setCode(code: string): void;
  focus(): void;
  destroy(): void;
}

export function createEditor(parent: HTMLElement, opts: { code: string; label: string; onChange(code: string): void; onRun(): void }): CellEditor {
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: opts.code,
      extensions: [
        // bidi controls and invisible characters drawn as placeholders, as in the review of a shared link
        highlightSpecialChars({ addSpecialChars: /[\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/ }),
        lineNumbers(),
        highlightActiveLineGutter(),
        history(),
        drawSelection(),
        indentOnInput(),
        bracketMatching(),
        closeBrackets(),
        highlightActiveLine(),
        syntaxHighlighting(classHighlighter),
        javascript({ typescript: true }),
        keymap.of([
          { key: 'Mod-Enter', run: () => (opts.onRun(), true), preventDefault: true },
          { key: 'Shift-Enter', run: () => (opts.onRun(), true), preventDefault: true },
          ...closeBracketsKeymap,
          ...defaultKeymap,
          ...historyKeymap,
        ]),
        EditorView.contentAttributes.of({ 'aria-label': opts.label, spellcheck: 'false', autocapitalize: 'off', autocorrect: 'off' }),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) opts.onChange(u.state.doc.toString());
        }),
      ],
    }),
  });
  return {
    getCode: () => view.state.doc.toString(),
    setCode(code) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: code } });
    },
    focus: () => view.focus(),
    destroy: () => view.destroy(),
  };
}
