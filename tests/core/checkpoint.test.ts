import { describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint, LOSS_HISTORY_CAP, type Checkpoint } from '../../src/core/checkpoint';

const metadata = {
  name: 'training-lab',
  config: { inputShape: [28, 28, 1] as [number, number, number], channels: [8, 16], numResBlocks: 1, attention: false, tembDim: 16, groups: 4, numClasses: 0 },
  schedule: { kind: 'cosine' as const, T: 1000 },
};

function sample(): Checkpoint {
  return {
    metadata,
    state: { step: 120, lossHistory: [[10, 0.9], [20, 0.5]], settings: { batchSize: 16, lr: 0.001, seed: 3 }, savedAt: '2026-11-22T03:00:00Z' },
    weights: {
      'in.conv.w': { shape: [3, 3, 1, 8], data: Float32Array.from({ length: 72 }, (_, i) => Math.sin(i) * 0.1) },
      'in.conv.b': { shape: [8], data: new Float32Array([0.5, -0.25, 1e-7, 3, -2, 0, 1, 2]) },
    },
  };
}

describe('training checkpoints', () => {
  it('round-trip weights exactly, with config, schedule and training state', () => {
    const back = decodeCheckpoint(encodeCheckpoint(sample()));
    expect(back.metadata.config).toEqual(metadata.config);
    expect(back.metadata.schedule).toEqual({ kind: 'cosine', T: 1000 });
    expect(back.state.step).toBe(120);
    expect(back.state.lossHistory).toEqual([[10, 0.9], [20, 0.5]]);
    expect([...back.weights['in.conv.b'].data]).toEqual([...sample().weights['in.conv.b'].data]);
    expect([...back.weights['in.conv.w'].data]).toEqual([...sample().weights['in.conv.w'].data]);
  });

  it('refuse files that are not checkpoints, with a message naming the file', () => {
    expect(() => decodeCheckpoint(new TextEncoder().encode('hello, this is a text file'), 'notes.txt')).toThrow(
      /notes\.txt is not a valid Diffusion Lab checkpoint: it does not start with "DLCK"/,
    );
    expect(() => decodeCheckpoint(new Uint8Array(3), 'empty.dlck')).toThrow(/only 3 bytes/);
  });

  it('refuse a truncated checkpoint', () => {
    const bytes = encodeCheckpoint(sample());
    expect(() => decodeCheckpoint(bytes.slice(0, bytes.length - 10), 'cut.dlck')).toThrow(/cut\.dlck.*truncated/);
    expect(() => decodeCheckpoint(bytes.slice(0, 40), 'cut.dlck')).toThrow(/truncated/);
  });

  it('refuse corrupted weights and a corrupted header', () => {
    const bytes = encodeCheckpoint(sample());
    const nan = bytes.slice();
    new DataView(nan.buffer).setFloat32(nan.length - 4, Number.NaN, true);
    expect(() => decodeCheckpoint(nan, 'nan.dlck')).toThrow(/NaN/);
    const badJson = bytes.slice();
    badJson[12] = 0x5d; // the JSON now opens with ']'
    expect(() => decodeCheckpoint(badJson, 'bad.dlck')).toThrow(/bad\.dlck.*(JSON|valid)/);
    const version = bytes.slice();
    version[4] = 9;
    expect(() => decodeCheckpoint(version, 'v9.dlck')).toThrow(/version 9/);
  });

  it('refuse a checkpoint without a usable U-Net configuration', () => {
    const bad = sample();
    bad.metadata = { ...metadata, config: { ...metadata.config, groups: 3 } };
    expect(() => decodeCheckpoint(encodeCheckpoint(bad), 'groups.dlck')).toThrow(/groups/);
  });

  const withState = (state: Record<string, unknown>) => encodeCheckpoint({ ...sample(), state: { ...sample().state, ...state } } as unknown as Checkpoint);

  it.each([
    ['lossHistory null', { lossHistory: null }, /"lossHistory" must be an array/],
    ['lossHistory not an array', { lossHistory: 'many' }, /"lossHistory" must be an array/],
    ['lossHistory [[1, "x"]]', { lossHistory: [[1, 'x']] }, /"lossHistory" entry 0 is not a \[step, loss\] pair/],
    ['a non-finite loss', { lossHistory: [[1, 0.5], [2, null]] }, /"lossHistory" entry 1/],
    ['a fractional step in the history', { lossHistory: [[1.5, 0.5]] }, /"lossHistory" entry 0/],
    ['decreasing steps', { lossHistory: [[20, 0.5], [10, 0.4]] }, /"lossHistory" entry 1 has step 10/],
    ['steps past state.step', { lossHistory: [[10, 0.5], [121, 0.4]] }, /"lossHistory" entry 1 has step 121/],
    ['step 1e300', { step: 1e300 }, /"step" must be an integer/],
    ['a negative step', { step: -1 }, /"step" must be an integer/],
    ['settings null', { settings: null }, /"settings" must be an object/],
  ])('refuse a training state with %s, naming the field', (_, state, message) => {
    expect(() => decodeCheckpoint(withState(state), 'bad.dlck')).toThrow(message);
    expect(() => decodeCheckpoint(withState(state), 'bad.dlck')).toThrow(/^bad\.dlck is not a valid Diffusion Lab checkpoint/);
  });

  it('thin a loss history of 300k points to the cap, keeping the first and last points and the order', () => {
    const long = Array.from({ length: 300_000 }, (_, i) => [i, 1 / (1 + i)]);
    const back = decodeCheckpoint(withState({ step: 300_000, lossHistory: long }));
    const h = back.state.lossHistory;
    expect(h.length).toBeLessThanOrEqual(LOSS_HISTORY_CAP);
    expect(h[0]).toEqual(long[0]);
    expect(h.at(-1)).toEqual(long.at(-1));
    for (let i = 1; i < h.length; i++) expect(h[i][0]).toBeGreaterThan(h[i - 1][0]);
  });
});
