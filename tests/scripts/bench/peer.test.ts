import { afterEach, describe, expect, it } from 'vitest';
import { benchPeer, findTorchPython, INSTALL_HINT, paramDifferences } from '../../../scripts/bench/peer';

describe('peer benchmark (ours vs PyTorch)', () => {
  const saved = process.env.PEER_PYTHON;
  afterEach(() => {
    if (saved === undefined) delete process.env.PEER_PYTHON;
    else process.env.PEER_PYTHON = saved;
  });

  it('skips with the install instructions when no python can import torch', async () => {
    process.env.PEER_PYTHON = '/nonexistent/python3';
    expect(findTorchPython()).toBeNull();
    const result = await benchPeer(process.cwd(), { rounds: 1, repeats: 1 });
    expect(result.skipped).toBe(INSTALL_HINT);
    expect(INSTALL_HINT).toMatch(/apt-get install -y python3-torch/);
    expect(result).not.toHaveProperty('forward_ratio');
  });

  it('names every parameter that differs in name or shape between the two models', () => {
    const ours: [string, number[]][] = [
      ['in.conv.w', [3, 3, 1, 16]],
      ['in.conv.b', [16]],
      ['out.conv.b', [1]],
    ];
    expect(paramDifferences(ours, ours)).toEqual([]);
    const theirs: [string, number[]][] = [
      ['in.conv.w', [3, 3, 16, 1]],
      ['in.conv.b', [16]],
      ['mid.attn.q.w', [32, 32]],
    ];
    expect(paramDifferences(ours, theirs)).toEqual(['in.conv.w: ours [3×3×1×16], PyTorch [3×3×16×1]', 'out.conv.b [1] only in ours', 'mid.attn.q.w [32×32] only in PyTorch']);
  });
});
