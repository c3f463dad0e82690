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


def quantize_weight(w, bits):
    """Dequantized copy of w [rows, cols] as Tandem stores it (round half to even, like cvtss2si)."""
    rows, cols = w.shape
    padded = -(-cols // 128) * 128
    group = padded if bits == 8 else 128
    wp = torch.zeros(rows, padded)
    wp[:, :cols] = w
    g = wp.view(rows, padded // group, group)
    if bits == 8:
        scale = g.abs().amax(-1, keepdim=True) / 127.0
        lo, hi = -127, 127
    else:
        # The signed extreme maps to -8, so both ends of [-8, 7] are reachable.
        idx = g.abs().argmax(-1, keepdim=True)
        scale = g.gather(-1, idx) / -8.0
        lo, hi = -8, 7
    inv = torch.where(scale != 0, 1.0 / scale, torch.zeros_like(scale))
    q = torch.clamp(torch.round(g * inv), lo, hi)
    return (q * scale).view(rows, padded)[:, :cols]


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
    def __init__(self, weight, bits, act, rotated=False):
        super().__init__()
        w = weight.detach()
        self.rotated = rotated and bits
        if self.rotated:
            w = rotate(w)
        self.w = quantize_weight(w, bits) if bits else w
        self.act = act

    def forward(self, x):
        if self.rotated:
            x = rotate(x)
        return (quantize_act(x) if self.act else x) @ self.w.t()


def quantized_logits_fn(model, bits, act, rotated=False):
    """A forward function with every linear layer (and the tied head) quantized like Tandem's."""
    layers = []
    for l in model.layers:
        layers.append({n: QLinear(getattr(l, n).weight, bits, act, rotated) for n in ('q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj')})
    head = QLinear(model.embed_tokens.weight, bits, act, rotated)
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
    variants = [
        ('w8 (weights only)', 8, False, False), ('w8+a8 unrotated (Tandem wint8 before rotation)', 8, True, False),
        ('w8+a8 rotated (as Tandem wint8)', 8, True, True), ('w4 (weights only)', 4, False, False),
        ('w4+a8 (as Tandem wint4)', 4, True, False), ('w4+a8 rotated', 4, True, True), ('a8 only (bf16 weights)', 0, True, False),
    ]
    for name, bits, act, rotated in variants:
        lg = quantized_logits_fn(model, bits, act, rotated)(ids).flatten(0, 1)
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
