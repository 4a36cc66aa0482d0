import { describe, expect, it } from 'vitest';
import { formatBytes, renderModelCard } from '../../scripts/lib/model-card';

describe('renderModelCard', () => {
  const card = renderModelCard({
    name: 'toy',
    title: 'Toy model',
    summary: 'A model for tests.',
    data: 'Some digits.',
    architecture: 'One dense layer.',
    paramCount: 12345,
    config: { steps: 10, learningRate: 0.001, note: 'a|b' },
    steps: 10,
    wallTimeSec: 125,
    backend: 'wasm',
    machine: '2 cores',
    command: 'npm run train -- toy',
    evaluation: [{ metric: 'accuracy', value: '99.00 %', note: 'held out' }, { metric: 'loss', value: 0.0312 }],
    lossSvg: 'loss.svg',
    samplesImage: 'samples.png',
    samplesCaption: 'Ten digits.',
    files: [{ name: 'weights.bin', bytes: 204800 }],
    notes: '## Extra\n\nMore.',
  });

  it('has the sections in order: data, architecture, training, evaluation, samples, files, notes', () => {
    const order = ['# Toy model (`toy`)', '## Data', '## Architecture', '## Training', '## Evaluation', '## Samples', '## Files', '## Extra'].map((h) => card.indexOf(h));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('reports parameters, steps, wall time, backend, the command, the tables and the images', () => {
    expect(card).toContain('Parameters: **12,345**');
    expect(card).toContain('10 steps in 2.1 min of wall time on the `wasm` backend (2 cores)');
    expect(card).toContain('`npm run train -- toy`');
    expect(card).toContain('| note | a\\|b |');
    expect(card).toContain('| accuracy | 99.00 % | held out |');
    expect(card).toContain('| loss | 0.0312 |  |');
    expect(card).toContain('![Training loss](loss.svg)');
    expect(card).toContain('![Sample grid](samples.png)');
    expect(card).toContain('| weights.bin | 200.0 KiB |');
  });

  it('formats byte counts', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(2048)).toBe('2.0 KiB');
    expect(formatBytes(3 * 1024 * 1024)).toBe('3.00 MiB');
  });
});
