#!/usr/bin/python3
"""Splits what `tandem bench quality` measures on a trained checkpoint into its causes.

Tandem's wint8/wint4 GEMMs quantize two things: the weights (per channel / per 128-group) and,
at run time, each token's activations to int8 with one scale per row. The bench reports their
combined effect; this script replays Tandem's quantizers (kernels/src/quant_weights.cc) in
torch on the bench's own prompts so the two can be told apart, and shows how close to a tie the
bf16 top two tokens were where top-1 flips.

    /usr/bin/python3 loadtest/quality/quant_ablation.py --model /tmp/tiny-ernie \\
        --prompts /tmp/tiny-ernie-work/prompts.jsonl [--tokens 128]

The 'w+a' rows should reproduce the bench's figures (same quantizers, same positions) up to
summation order; that agreement is the check that the emulation is faithful.
Offline analysis only, like train_tiny_ernie.py.
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_tiny_ernie as tte  # noqa: E402  (sets the one-thread BLAS environment first)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def load_checkpoint(model_dir):
    with open(os.path.join(model_dir, 'config.json')) as f:
        cfg = json.load(f)
    model = tte.TinyErnie(cfg)
    with open(os.path.join(model_dir, 'model.safetensors'), 'rb') as f:
        n = int.from_bytes(f.read(8), 'little')
        header = json.loads(f.read(n))
        data = f.read()
    params = dict(model.named_parameters())
    names = {k: v for k, v in tte.state_for_export(model).items()}
    with torch.no_grad():
        for name, t in names.items():
            h = header[name]
            assert h['dtype'] == 'BF16', name
            a, b = h['data_offsets']
            bits = np.frombuffer(data[a:b], dtype='<u2').astype(np.uint32) << 16
            t.copy_(torch.from_numpy(bits.view(np.float32).reshape(h['shape'])))
    del params
    return model.eval(), cfg


# The range factors the asymmetric wint4 quantizer tries (kernels/src/quant.h kClipSearch).
CLIP_SEARCH = (1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7)


def group_order(group):
    """Element order within a 128-block that makes Tandem's groups of 32 / 64 contiguous: a block's
    group j is its code bytes [j * G/2, (j + 1) * G/2), i.e. elements i and i + 64 for those i."""
    return torch.tensor(sorted(range(128), key=lambda k: ((k % 64) // (group // 2), k)))


def asymmetric_groups(g):
    """Dequantized groups g [..., G] as Tandem's asymmetric wint4 stores them (quant_weights.cc)."""
    lo0 = g.amin(-1, keepdim=True).clamp(max=0)
    hi0 = g.amax(-1, keepdim=True).clamp(min=0)
    best, best_err = None, None
    for f in CLIP_SEARCH:
        lo, hi = lo0 * f, hi0 * f
        scale = (hi - lo) / 15.0
        inv = torch.where(scale != 0, 1.0 / scale, torch.zeros_like(scale))
        z = torch.clamp(torch.round(-lo * inv), 0, 15)
        d = (torch.clamp(torch.round(g * inv) + z, 0, 15) - z) * scale
        err = ((d - g) ** 2).sum(-1, keepdim=True)
        if best is None:
            best, best_err = d, err
        else:
            better = err < best_err
            best, best_err = torch.where(better, d, best), torch.where(better, err, best_err)
    return best


def quantize_weight(w, bits, group=None, zero_points=False):
    """Dequantized copy of w [rows, cols] as Tandem stores it (round half to even, like cvtss2si).

    bits 8: one scale per row. bits 4: groups of `group` (default 128; 32 / 64 interleaved within
    each block as kernels/src/quant.h defines them), symmetric (signed extreme -> -8) or with
    `zero_points` (asymmetric, range widened to include 0, factor of CLIP_SEARCH with the least
    squared error per group)."""
    rows, cols = w.shape
    padded = -(-cols // 128) * 128
    group = padded if bits == 8 else (group or 128)
    wp = torch.zeros(rows, padded)
    wp[:, :cols] = w
    if bits == 4 and group < 128:
        order = group_order(group)
        wp = wp.view(rows, padded // 128, 128)[:, :, order].reshape(rows, padded)
    g = wp.view(rows, padded // group, group)
    if bits == 4 and zero_points:
        out = asymmetric_groups(g).reshape(rows, padded)
    else:
        if bits == 8:
            scale = g.abs().amax(-1, keepdim=True) / 127.0
            lo, hi = -127, 127
        else:
            # The signed extreme maps to -8, so both ends of [-8, 7] are reachable.
            idx = g.abs().argmax(-1, keepdim=True)
            scale = g.gather(-1, idx) / -8.0
            lo, hi = -8, 7
        inv = torch.where(scale != 0, 1.0 / scale, torch.zeros_like(scale))
        out = (torch.clamp(torch.round(g * inv), lo, hi) * scale).reshape(rows, padded)
    if bits == 4 and group < 128:
        back = torch.empty_like(out.view(rows, padded // 128, 128))
        back[:, :, group_order(group)] = out.view(rows, padded // 128, 128)
        out = back.reshape(rows, padded)
    return out[:, :cols]


def quantize_act(x):
    """Per-token int8 activations: one scale per row, amax / 127."""
    amax = x.abs().amax(-1, keepdim=True)
    inv = torch.where(amax > 0, 127.0 / amax, torch.zeros_like(amax))
    return torch.round(x * inv) * (amax / 127.0)


def hadamard(n):
    """The normalized n x n Hadamard matrix in Sylvester order (what kernels/src/quant_weights.cc applies)."""
    h = torch.ones(1, 1)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h / (n ** 0.5)


H128 = hadamard(128)


def rotate(x):
    """Each block of 128 along the last axis times H (symmetric and orthogonal), zero-padded to whole blocks."""
    k = x.shape[-1]
    kp = -(-k // 128) * 128
    if kp != k:
        x = F.pad(x, (0, kp - k))
    return (x.reshape(*x.shape[:-1], kp // 128, 128) @ H128).reshape(*x.shape[:-1], kp)


class QLinear(torch.nn.Module):
    def __init__(self, weight, bits, act, rotated=False, group=None, zero_points=False):
        super().__init__()
        w = weight.detach()
        self.rotated = rotated and bits
        if self.rotated:
            w = rotate(w)
        self.w = quantize_weight(w, bits, group, zero_points) if bits else w
        self.act = act

    def forward(self, x):
        if self.rotated:
            x = rotate(x)
        return (quantize_act(x) if self.act else x) @ self.w.t()


def quantized_logits_fn(model, bits, act, rotated=False, group=None, zero_points=False, head_bits=None, rotate_down=False):
    """A forward function with every linear layer (and the tied head) quantized like Tandem's.

    rotated: every matrix Hadamard-rotated; rotate_down: the MLP down projections only (Tandem's
    wint8). head_bits: the head's own width (8 = per output channel, as Tandem's wint4 keeps it)."""
    layers = []
    for l in model.layers:
        layers.append({n: QLinear(getattr(l, n).weight, bits, act, rotated or (rotate_down and n == 'down_proj'), group, zero_points)
                       for n in ('q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj')})
    hb = head_bits or bits
    head = QLinear(model.embed_tokens.weight, hb, act, rotated, group if hb == 4 else None, zero_points and hb == 4)
    c = model.c

    @torch.no_grad()
    def run(ids):
        T = ids.shape[1]
        cos, sin = tte.rope_tables(T, c['head_dim'], c['rope_theta'])
        mask = torch.full((T, T), float('-inf')).triu(1)
        x = model.embed_tokens(ids)
        for l, q in zip(model.layers, layers):
            B = x.shape[0]
            n = l.input_layernorm(x)
            qq = q['q_proj'](n).view(B, T, l.nh, l.hd).transpose(1, 2)
            k = q['k_proj'](n).view(B, T, l.nkv, l.hd).transpose(1, 2)
            v = q['v_proj'](n).view(B, T, l.nkv, l.hd).transpose(1, 2)
            qq, k = tte.rope_interleaved(qq, cos, sin), tte.rope_interleaved(k, cos, sin)
            k, v = k.bfloat16().float(), v.bfloat16().float()
            g = l.nh // l.nkv
            k, v = k.repeat_interleave(g, dim=1), v.repeat_interleave(g, dim=1)
            s = (qq @ k.transpose(-1, -2)) / (l.hd ** 0.5) + mask
            a = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, l.nh * l.hd)
            x = x + q['o_proj'](a)
            n = l.post_attention_layernorm(x)
            x = x + q['down_proj'](F.silu(q['gate_proj'](n)) * q['up_proj'](n))
        return head(model.norm(x))

    return run


def prompt_ids(model_dir, prompts_file, tokens):
    with open(prompts_file) as f:
        texts = [json.loads(line) for line in f if line.strip()]
    ids = tte.tokenize(model_dir, texts)
    # tokenize-text ends each document with EOS (2); split back into prompts, cut as the bench does.
    out, cur = [], []
    for t in ids.tolist():
        if t == 2:
            out.append(cur[:tokens])
            cur = []
        else:
            cur.append(t)
    return [p for p in out if len(p) == tokens]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', required=True)
    ap.add_argument('--prompts', required=True)
    ap.add_argument('--tokens', type=int, default=128)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, _ = load_checkpoint(args.model)
    ids = torch.tensor(prompt_ids(args.model, args.prompts, args.tokens))
    ref = quantized_logits_fn(model, 0, False)(ids).flatten(0, 1)
    lp_ref = ref.log_softmax(-1)
    p = lp_ref.exp()
    top2 = p.topk(2, -1).values
    gap = top2[:, 0] - top2[:, 1]
    rows = []
    # (name, bits, activations int8, options): the wint4 rows walk from the scheme Tandem had
    # (symmetric, groups of 128, int4 head) to the one it has now (docs/quantization.md, "wint4").
    variants = [
        ('w8 (weights only)', 8, False, {}), ('w8+a8 unrotated (Tandem wint8 before rotation)', 8, True, {}),
        ('w8+a8 down projections rotated (as Tandem wint8)', 8, True, {'rotate_down': True}),
        ('w8+a8 every matrix rotated', 8, True, {'rotated': True}),
        ('w4 g128 symmetric, int4 head (weights only)', 4, False, {}),
        ('w4+a8 g128 symmetric, int4 head (Tandem wint4 before)', 4, True, {}),
        ('w4+a8 g128 symmetric, every matrix rotated', 4, True, {'rotated': True}),
        ('w4+a8 g128 symmetric, int8 head', 4, True, {'head_bits': 8}),
        ('w4+a8 g64 symmetric, int8 head', 4, True, {'head_bits': 8, 'group': 64}),
        ('w4+a8 g32 symmetric, int8 head', 4, True, {'head_bits': 8, 'group': 32}),
        ('w4+a8 g128 zero points, int8 head', 4, True, {'head_bits': 8, 'zero_points': True}),
        ('w4 g32 zero points, int8 head (weights only)', 4, False, {'head_bits': 8, 'group': 32, 'zero_points': True}),
        ('w4+a8 g32 zero points, int8 head (as Tandem wint4)', 4, True, {'head_bits': 8, 'group': 32, 'zero_points': True}),
        ('w4+a8 g32 zero points, int8 head, down projections rotated', 4, True, {'head_bits': 8, 'group': 32, 'zero_points': True, 'rotate_down': True}),
        ('a8 only (bf16 weights)', 0, True, {}),
    ]
    for name, bits, act, opts in variants:
        lg = quantized_logits_fn(model, bits, act, **opts)(ids).flatten(0, 1)
        lp = lg.log_softmax(-1)
        kl = (p * (lp_ref - lp)).sum(-1).mean().item()
        same = lg.argmax(-1) == ref.argmax(-1)
        flips = ~same
        confident = gap >= 0.1
        rows.append({
            'variant': name, 'mean_kl': kl, 'top1_agreement': same.float().mean().item(),
            'flips': int(flips.sum()),
            'flip_bf16_p_gap_median': gap[flips].median().item() if flips.any() else None,
            'top1_agreement_where_bf16_gap_ge_0.1': same[confident].float().mean().item(),
        })
    # How spiky each GEMM's input is per token: one int8 scale per row puts the row's maximum at
    # 127, so a value of typical size (one RMS) is 127 / (max / RMS) steps of the grid.
    spikes = {}
    hooks = [mod.register_forward_hook(lambda m, inp, out, n=name.rsplit('.', 1)[-1]: spikes.setdefault(n, []).append(
        (inp[0].abs().amax(-1) / inp[0].pow(2).mean(-1).sqrt()).median().item()))
        for name, mod in model.named_modules() if isinstance(mod, torch.nn.Linear)]
    with torch.no_grad():
        model(ids)
    for h in hooks:
        h.remove()
    summary = {
        'positions': int(ref.shape[0]),
        'gemm_input_max_over_rms_median_per_layer': {k: [round(v, 1) for v in vs] for k, vs in spikes.items()},
        'bf16_top1_prob_median': top2[:, 0].median().item(),
        'bf16_p_gap_median': gap.median().item(),
        'share_bf16_gap_lt_0.1': (gap < 0.1).float().mean().item(),
        'variants': rows,
    }
    print(json.dumps(summary))


if __name__ == '__main__':
    main()
