/** The content checks of scripts/check-content.ts on small examples: each catches what it is for, and only that. */
import { describe, expect, it } from 'vitest';
import {
  mdxFigureFindings,
  paramCountFindings,
  processWordFindings,
  proseBlocks,
  renderedNumberFindings,
  shownNumber,
  visibleText,
} from '../../scripts/check-content';

describe('processWordFindings', () => {
  it('flags the words of the project’s work organisation', () => {
    for (const text of [
      'Run history. Session 6 (shipped): 10,500 steps.',
      'the examples of the session-4 run',
      'every row now has the 1,000 digits issue 4 asks for',
      'only the smaller network fits the one-hour budget',
      '- **The missed target.** DDIM-50 has 1.78×',
      '| ddim50-vs-ddpm | ratio 1.782 | missed |',
      '- Target (issue 4): each model trains in ≤ 60 min — **met**',
      'TODO: say more',
    ]) {
      expect(processWordFindings(text, 'x').length, text).toBeGreaterThan(0);
    }
  });

  it('leaves ordinary uses of "target" alone and reports the line', () => {
    expect(processWordFindings('Noise is the better target.\nChoose a target class and move the strength.\nbind chosen targets', 'x')).toEqual([]);
    expect(processWordFindings('fine\nsecond session here', 'f.md')[0].where).toBe('f.md:2');
  });
});

describe('visibleText', () => {
  it('keeps text, alt and aria-label texts and drops scripts, styles, comments and tags', () => {
    const html = '<style>.session{}</style><script>let issue = 1;</script><!-- TODO --><p>Hello <b>world</b> &amp; more</p><img alt="budget chart"><svg aria-label="a session">';
    const text = visibleText(html);
    expect(text).toContain('Hello');
    expect(text).toContain('& more');
    expect(text).toContain('budget chart');
    expect(text).toContain('a session');
    expect(text).not.toContain('issue');
    expect(text).not.toContain('TODO');
    expect(text).not.toContain('.session');
  });
});

describe('renderedNumberFindings', () => {
  it('flags a value that reads as 0, 1 or 100 % without being it', () => {
    expect(renderedNumberFindings('<span class="lesson-num" data-value="0.9995">1.000</span>', 'p')).toHaveLength(1);
    expect(renderedNumberFindings('<span data-value="0.0004">0%</span>', 'p')).toHaveLength(1);
    expect(renderedNumberFindings('<span data-value="0.9996">100%</span>', 'p')).toHaveLength(1);
    expect(renderedNumberFindings('<td class="n" data-value="0.00004">0.0000</td>', 'p')).toHaveLength(1);
    expect(renderedNumberFindings('<span data-value="-0.99999">−1.000</span>', 'p')).toHaveLength(1);
  });

  it('accepts exact bounds and values shown with enough digits', () => {
    const ok = ['<span data-value="1">1</span>', '<span data-value="0.1">10%</span>', '<span data-value="0.9995">0.9995</span>', '<td data-value="1">1.0000</td>', '<span data-value="0">0</span>', '<span data-value="4.04e-5">4.04 × 10⁻⁵</span>', '<span data-value="0.5">0.500</span>'];
    for (const html of ok) expect(renderedNumberFindings(html, 'p'), html).toEqual([]);
  });

  it('reads numbers as the site writes them', () => {
    expect(shownNumber('1,234.5')).toBe(1234.5);
    expect(shownNumber('−0.25')).toBe(-0.25);
    expect(shownNumber('99.95%')).toBeCloseTo(0.9995, 12);
    expect(shownNumber('4.04 × 10⁻⁵')).toBeNull();
    expect(shownNumber('—')).toBeNull();
  });
});

describe('paramCountFindings', () => {
  const counts = (m: string) => ({ 'latent-mnist/denoiser': 232388, 'unet-mnist': 128961 })[m] ?? null;

  it('flags a count that is not the one of the model.json it names', () => {
    const html = '<span class="lesson-num" data-model="latent-mnist/denoiser" data-unit="params" data-value="251604">251,604</span>';
    expect(paramCountFindings(html, 'p', counts)).toHaveLength(1);
    expect(paramCountFindings('<span data-model="unet-mnist" data-unit="kib16" data-value="300">300</span>', 'p', counts)).toHaveLength(1);
    expect(paramCountFindings('<span data-model="nope" data-value="1">1</span>', 'p', counts)).toHaveLength(1);
  });

  it('accepts the right totals and sizes, and leaves parts of a U-Net to the unit tests', () => {
    expect(paramCountFindings('<span data-model="unet-mnist" data-unit="params" data-value="128961">128,961</span>', 'p', counts)).toEqual([]);
    expect(paramCountFindings('<span data-model="unet-mnist" data-unit="kib16" data-value="251.9">252</span>', 'p', counts)).toEqual([]);
    expect(paramCountFindings('<span data-model="unet-mnist" data-part="mid" data-value="4288">4,288</span>', 'p', counts)).toEqual([]);
  });
});

describe('mdxFigureFindings', () => {
  it('flags FD and accuracy figures of our models typed into prose or tables', () => {
    expect(mdxFigureFindings('On our digits DDPM-1000 scores an MNIST-FD of 4.44 at n = 1000.', 'l')).toHaveLength(1);
    expect(mdxFigureFindings('The classifier recognises 98.5 % of the reconstructions.', 'l')).toHaveLength(1);
    expect(mdxFigureFindings('DDIM-50 has 1.78× the MNIST-FD of DDPM-1000.', 'l')).toHaveLength(1);
    // A citation in one sentence does not excuse a typed figure in another.
    expect(mdxFigureFindings('Its MNIST-FD is 1.78 times that of DDPM. The reason is known ([Lu et al. 2022](../../references/#lu2022ode)).', 'l')).toHaveLength(1);
    expect(mdxFigureFindings('The MNIST-FD of our runs follows. DDPM scores 4.44 there.', 'l')).toHaveLength(1);
    const table = ['| sampler | S = 10 | 50 |', '|---|---|---|', '| DDIM, η = 0 | <EvalValue path="a" /> | <EvalValue path="b" /> |', '| DDIM, η = 1 | <EvalValue path="c" /> | 4.64 |'].join('\n');
    expect(mdxFigureFindings(table, 'l')).toHaveLength(1); // a typed cell in a column of measured values
    const named = ['| w | recognised as requested |', '|---|---|', '| 0.5 | 83.6 % |'].join('\n');
    expect(mdxFigureFindings(named, 'l')).toHaveLength(1); // a column whose header names a measurement; the setting w is not checked
    const rows = ['| | 10 | 100 |', '|---|---|---|', '| MNIST-FD | 9.87 | 7.67 |'].join('\n');
    expect(mdxFigureFindings(rows, 'l')).toHaveLength(2);
  });

  it('accepts figures read through components, settings, and results quoted from cited papers', () => {
    const ok = [
      'DDPM scores <EvalValue path="unet.settings.ddpm-1000-beta.byCount.1000.fd" digits={2} /> MNIST-FD.',
      'A classifier recognises <EvalValue path="latent.reconstruction.accuracyOriginal" percent digits={1} /> of them.',
      'The DDIM paper’s CIFAR-10 model: 4.67 for DDIM-50 against 3.17 for DDPM-1000.',
      'Our MNIST-FD gap has a known cause. The DDIM paper’s own model shows it too: 4.67 against 3.17.',
      'On ImageNet the classifier-free FID was 1.55 at w = 0.1 ([Ho & Salimans](../../references/#ho2022)).',
      'Classifier-free guidance: drop the label about 10% of the time.',
      'The latent scale factor is 0.18215 for Stable Diffusion.',
      '```ts\nconst accuracy = 0.99; // MNIST-FD 4.4\n```',
    ];
    for (const text of ok) expect(mdxFigureFindings(text, 'l'), text).toEqual([]);
  });

  it('splits a lesson into prose blocks without frontmatter, imports and code', () => {
    const mdx = ['---', 'title: x', '---', "import A from 'a';", '', 'One', 'paragraph.', '', '- item one', '- item two', '', '```', 'code', '```', 'Last.'].join('\n');
    expect(proseBlocks(mdx).map((b) => b.text)).toEqual(['One\nparagraph.', '- item one', '- item two', 'Last.']);
    expect(proseBlocks(mdx)[0].line).toBe(6);
  });
});
