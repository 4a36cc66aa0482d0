#!/usr/bin/env python3
"""The shipped unet-mnist U-Net in PyTorch, for `npm run bench -- peer` (scripts/bench/peer.ts).

A line-by-line copy of src/core/unet.ts with MNIST_UNET_CONFIG (28x28x1, levels 28/14/7 with 16/32/32 channels,
one res block per level each way, single-head self-attention at 7x7, time MLP 16 -> 64 -> 64, 10 classes + null,
GroupNorm with 8 groups, 128,961 parameters). Every parameter is reported under the TypeScript model's name and
shape (convolutions as [k, k, in, out], dense layers as [in, out]), so the bench can check the two models match
parameter for parameter, load our weights and compare outputs.

Runs on one thread (torch.set_num_threads(1)). Talks to the bench over stdin/stdout, one JSON object per line:
  {"cmd": "info"}                                   -> parameter names, shapes, count, versions
  {"cmd": "check", "file": path}                    -> loads weights + inputs from a JSON file, returns the output
  {"cmd": "forward"|"step", "repeats": n}           -> wall and process CPU ms of n runs
  {"cmd": "quit"}
"""
import json
import math
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # the bench prints how to install it
    print(json.dumps({"error": "no-torch", "detail": str(e)}), flush=True)
    sys.exit(3)

torch.set_num_threads(1)

CONFIG = {
    "input_shape": (28, 28, 1),
    "channels": (16, 32, 32),
    "num_res_blocks": 1,
    "attention": True,
    "temb_dim": 64,
    "groups": 8,
    "num_classes": 10,
}
GN_EPS = 1e-5
MAX_PERIOD = 10000.0


def sinusoid(t, dim):
    """[N] integer timesteps -> [N, dim]: sin(t w_i) then cos(t w_i), w_i = 10000^(-i/(half-1))."""
    half = dim // 2
    i = torch.arange(half, dtype=torch.float32)
    freqs = torch.exp(-math.log(MAX_PERIOD) * i / (half - 1))
    args = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class ResBlock(nn.Module):
    """out = skip(x) + conv1(SiLU(GN(conv0(SiLU(GN(x))) + W SiLU(emb))))."""

    def __init__(self, c_in, c_out, temb, groups):
        super().__init__()
        self.norm0 = nn.GroupNorm(groups, c_in, eps=GN_EPS)
        self.conv0 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.temb = nn.Linear(temb, c_out)
        self.norm1 = nn.GroupNorm(groups, c_out, eps=GN_EPS)
        self.conv1 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else None

    def forward(self, x, emb_act):
        h = self.conv0(F.silu(self.norm0(x)))
        h = h + self.temb(emb_act)[:, :, None, None]
        h = self.conv1(F.silu(self.norm1(h)))
        return (self.skip(x) if self.skip is not None else x) + h


class SelfAttention(nn.Module):
    """x + proj(softmax(q k^T / sqrt(C)) v) over the H*W positions of GroupNorm(x); one head."""

    def __init__(self, c, groups):
        super().__init__()
        self.norm = nn.GroupNorm(groups, c, eps=GN_EPS)
        self.q = nn.Linear(c, c)
        self.k = nn.Linear(c, c)
        self.v = nn.Linear(c, c)
        self.proj = nn.Linear(c, c)

    def forward(self, x):
        n, c, h, w = x.shape
        seq = self.norm(x).flatten(2).transpose(1, 2)  # [N, HW, C]
        q, k, v = self.q(seq), self.k(seq), self.v(seq)
        weights = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(c), dim=-1)
        out = self.proj(weights @ v)
        return x + out.transpose(1, 2).reshape(n, c, h, w)


class UNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        chans, temb, groups = cfg["channels"], cfg["temb_dim"], cfg["groups"]
        levels = len(chans)
        self.levels, self.nres, self.sin_dim, self.num_classes = levels, cfg["num_res_blocks"], chans[0], cfg["num_classes"]
        self.time0 = nn.Linear(chans[0], temb)
        self.time1 = nn.Linear(temb, temb)
        self.class_emb = nn.Parameter(torch.empty(cfg["num_classes"] + 1, temb).uniform_(-math.sqrt(3), math.sqrt(3)))
        c_in = cfg["input_shape"][2]
        self.in_conv = nn.Conv2d(c_in, chans[0], 3, padding=1)
        self.down = nn.ModuleList()
        skip_ch = []
        c = chans[0]
        for i in range(levels):
            blocks = nn.ModuleList()
            for _ in range(self.nres):
                blocks.append(ResBlock(c, chans[i], temb, groups))
                c = chans[i]
                skip_ch.append(c)
            self.down.append(blocks)
        self.mid_attn = SelfAttention(c, groups) if cfg["attention"] else None
        up = [None] * levels
        for i in reversed(range(levels)):
            blocks = nn.ModuleList()
            for _ in range(self.nres):
                blocks.append(ResBlock(c + skip_ch.pop(), chans[i], temb, groups))
                c = chans[i]
            up[i] = blocks
        self.up = nn.ModuleList(up)
        self.out_norm = nn.GroupNorm(groups, c, eps=GN_EPS)
        self.out_conv = nn.Conv2d(c, c_in, 3, padding=1)

    def forward(self, x, t, classes):
        emb = self.time1(F.silu(self.time0(sinusoid(t, self.sin_dim))))
        emb = emb + self.class_emb[classes]
        emb_act = F.silu(emb)
        h = self.in_conv(x)
        skips = []
        for i in range(self.levels):
            for block in self.down[i]:
                h = block(h, emb_act)
                skips.append(h)
            if i < self.levels - 1:
                h = F.avg_pool2d(h, 2)
        if self.mid_attn is not None:
            h = self.mid_attn(h)
        for i in reversed(range(self.levels)):
            for block in self.up[i]:
                h = block(torch.cat([h, skips.pop()], dim=1), emb_act)
            if i > 0:
                h = F.interpolate(h, scale_factor=2, mode="nearest")
        return self.out_conv(F.silu(self.out_norm(h)))


def ts_params(model):
    """(our name, our shape, torch tensor, layout) for every parameter, in the TypeScript model's naming."""
    out = []

    def dense(name, m):
        out.append((f"{name}.w", [m.in_features, m.out_features], m.weight, "dense"))
        out.append((f"{name}.b", [m.out_features], m.bias, "bias"))

    def conv(name, m):
        k = m.kernel_size[0]
        out.append((f"{name}.w", [k, k, m.in_channels, m.out_channels], m.weight, "conv"))
        out.append((f"{name}.b", [m.out_channels], m.bias, "bias"))

    def norm(name, m):
        out.append((f"{name}.gamma", [m.num_channels], m.weight, "bias"))
        out.append((f"{name}.beta", [m.num_channels], m.bias, "bias"))

    def res(name, b):
        norm(f"{name}.norm0", b.norm0)
        conv(f"{name}.conv0", b.conv0)
        dense(f"{name}.temb", b.temb)
        norm(f"{name}.norm1", b.norm1)
        conv(f"{name}.conv1", b.conv1)
        if b.skip is not None:
            conv(f"{name}.skip", b.skip)

    dense("time.dense0", model.time0)
    dense("time.dense1", model.time1)
    out.append(("class.emb", list(model.class_emb.shape), model.class_emb, "bias"))
    conv("in.conv", model.in_conv)
    for i, blocks in enumerate(model.down):
        for j, b in enumerate(blocks):
            res(f"down{i}.res{j}", b)
    if model.mid_attn is not None:
        a = model.mid_attn
        norm("mid.attn.norm", a.norm)
        for p in ("q", "k", "v", "proj"):
            dense(f"mid.attn.{p}", getattr(a, p))
    for i in reversed(range(len(model.up))):
        for k, b in enumerate(model.up[i]):
            res(f"up{i}.res{len(model.up[i]) - 1 - k}", b)
    norm("out.norm", model.out_norm)
    conv("out.conv", model.out_conv)
    return out


def load_ts_weights(model, weights):
    """Copy our flat, TypeScript-layout arrays into the torch parameters."""
    with torch.no_grad():
        for name, shape, p, layout in ts_params(model):
            v = torch.tensor(weights[name], dtype=torch.float32).reshape(shape)
            if layout == "conv":  # [k, k, in, out] -> [out, in, k, k]
                v = v.permute(3, 2, 0, 1)
            elif layout == "dense":  # [in, out] -> [out, in]
                v = v.t()
            p.copy_(v)


def linear_alpha_bar(T=1000):
    betas = torch.linspace(1e-4, 0.02, T, dtype=torch.float64)
    return torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(1 - betas, 0)]).float()


def timed(f, repeats):
    wall, cpu = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        f()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return {"wall_ms": wall, "cpu_ms": cpu}


def main():
    batch = int(os.environ.get("PEER_BATCH", "32"))
    torch.manual_seed(0)
    model = UNet(CONFIG)
    params = ts_params(model)
    count = sum(p.numel() for p in model.parameters())
    h, w, c = CONFIG["input_shape"]
    x0 = torch.rand(batch, c, h, w) * 2 - 1
    labels = torch.arange(batch) % 10
    x_fixed = torch.randn(batch, c, h, w)
    t_fixed = 1 + (torch.arange(batch) * 37) % 1000
    alpha_bar = linear_alpha_bar()
    # The same update as src/core/adam.ts (tfjs's epsilon 1e-7).
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)

    def forward():
        with torch.no_grad():
            model(x_fixed, t_fixed, labels)

    def step():
        # src/core/train.ts: t ~ U{1..T}, label dropout to the null class with p = 0.1, eps ~ N(0, I),
        # x_t = sqrt(abar) x0 + sqrt(1 - abar) eps, L = mean (eps - eps_theta)^2, one Adam step.
        t = torch.randint(1, 1001, (batch,))
        drop = torch.rand(batch) < 0.1
        cls = torch.where(drop, torch.full_like(labels, CONFIG["num_classes"]), labels)
        eps = torch.randn_like(x0)
        ab = alpha_bar[t][:, None, None, None]
        xt = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(model(xt, t, cls), eps)
        loss.backward()
        opt.step()

    for line in sys.stdin:
        req = json.loads(line)
        cmd = req.get("cmd")
        if cmd == "info":
            res = {
                "param_count": count,
                "params": [[name, shape] for name, shape, _, _ in params],
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "mkldnn": torch.backends.mkldnn.is_available(),
                "batch": batch,
            }
        elif cmd == "check":
            with open(req["file"]) as fh:
                data = json.load(fh)
            load_ts_weights(model, data["weights"])
            n = len(data["t"])
            x = torch.tensor(data["x"], dtype=torch.float32).reshape(n, h, w, c).permute(0, 3, 1, 2)
            with torch.no_grad():
                y = model(x, torch.tensor(data["t"]), torch.tensor(data["classes"]))
            res = {"y": y.permute(0, 2, 3, 1).reshape(-1).tolist()}
        elif cmd == "forward":
            res = timed(forward, int(req.get("repeats", 1)))
        elif cmd == "step":
            res = timed(step, int(req.get("repeats", 1)))
        elif cmd == "quit":
            break
        else:
            res = {"error": f"unknown command {cmd!r}"}
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
