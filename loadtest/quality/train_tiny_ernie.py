#!/usr/bin/python3
"""Trains a tiny dense ERNIE-4.5 (`ernie4_5`) causal LM from scratch on English text already on
this machine and writes it as a checkpoint Tandem serves with `--model DIR`.

Why: `tandem bench quality` needs a checkpoint whose next-token distributions are peaked the way a
trained model's are; random-weight checkpoints are nearly flat, so top-1 agreement under
quantization means nothing on them. No trained checkpoint can be downloaded here, so one is made.

    apt-get install -y python3-torch libopenblas0-pthread
    npm run build      # the corpus is tokenized by dist/loadtest/quality/tokenize-text.js
    /usr/bin/python3 loadtest/quality/train_tiny_ernie.py --out /tmp/tiny-ernie --minutes 20

The architecture mirrors what Tandem computes for `ernie4_5` (services/engine/reference): RMSNorm
before attention and MLP, interleaved RoPE (pairs (2i, 2i+1), inverse frequencies
1/theta^(2i/head_dim)), GQA, SwiGLU, a final RMSNorm, and an LM head tied to the embedding table
(Tandem's default `tie_word_embeddings: true`). The tokenizer is the one `tandem gen-model` writes,
and the text is tokenized by Tandem's own tokenizer code, so the ids match at serving time.

Offline tooling only: nothing the product runs is Python.
"""
import argparse
import gzip
import hashlib
import json
import math
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import time

# Before numpy/torch load OpenBLAS: the machine is shared, so one BLAS thread as well.
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')
os.environ.setdefault('OMP_NUM_THREADS', '1')

import numpy as np
import torch
import torch.nn.functional as F

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
# The files `tandem gen-model` writes besides weights and config.json.
TOKENIZER_FILES = ['tokenizer.model', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json']


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Corpus: Debian's licences, package READMEs and man pages, reflowed into plain paragraphs.

def reflow(text):
    """Joins wrapped lines into one line per paragraph and collapses runs of spaces.

    groff output and licence files are hard-wrapped and indented; kept as they are, most tokens
    would be runs of spaces (1.6 characters a token instead of ~2.5), which teaches the model
    layout instead of language.
    """
    text = text.replace('\r', '').replace('\t', ' ')
    text = re.sub(r'[\x00-\x08\x0b-\x1f\x7f]', '', text)
    paras = []
    for block in re.split(r'\n\s*\n', text):
        line = ' '.join(block.split())
        # Page headers/footers and rules ("LS(1) User Commands LS(1)", "-----"): too few words.
        if len(re.findall(r'[A-Za-z]{2,}', line)) < 4:
            continue
        # Man page header and footer lines, which end in the page name: "LS(1)".
        if len(line) < 120 and re.search(r'\(\d\w*\)$', line):
            continue
        paras.append(line)
    return '\n\n'.join(paras)


def read_maybe_gz(path):
    with open(path, 'rb') as f:
        data = f.read()
    if path.endswith('.gz'):
        data = gzip.decompress(data)
    return data.decode('utf-8', errors='replace')


def render_man(path):
    # -Tascii with -P-cbou: plain ASCII, no overstrike bold/underline, no colour escapes.
    zcat = subprocess.run(['zcat', path], capture_output=True, check=True).stdout
    r = subprocess.run(['groff', '-t', '-man', '-Tascii', '-P-cbou'], input=zcat, capture_output=True)
    return r.stdout.decode('ascii', errors='replace')


def collect_corpus(target_bytes, seed):
    """Documents (one per source file), deterministic for a given machine and seed."""
    sources = []
    lic = '/usr/share/common-licenses'
    if os.path.isdir(lic):
        sources += [('text', os.path.join(lic, n)) for n in sorted(os.listdir(lic))]
    doc = '/usr/share/doc'
    if os.path.isdir(doc):
        for pkg in sorted(os.listdir(doc)):
            d = os.path.join(doc, pkg)
            if not os.path.isdir(d):
                continue
            for n in sorted(os.listdir(d)):
                if re.match(r'README(\.(md|txt|rst))?(\.gz)?$', n, re.I) or n in ('README.Debian', 'README.Debian.gz'):
                    sources.append(('text', os.path.join(d, n)))
    man = []
    for sec in ('man1', 'man5', 'man7', 'man8'):
        d = os.path.join('/usr/share/man', sec)
        if os.path.isdir(d):
            # gcloud's ~16,000 generated pages share one template: kept, they would be most of
            # the corpus and teach (and test) boilerplate instead of English.
            man += [('man', os.path.join(d, n)) for n in sorted(os.listdir(d)) if n.endswith('.gz') and not n.startswith('gcloud')]
    # Man pages are most of the text; a seeded shuffle samples all of them rather than a*-pages.
    random.Random(seed).shuffle(man)
    sources += man

    docs, seen, total = [], set(), 0
    for kind, path in sources:
        if total >= target_bytes:
            break
        real = os.path.realpath(path)
        if real in seen or not os.path.isfile(real):
            continue
        seen.add(real)
        try:
            raw = render_man(real) if kind == 'man' else read_maybe_gz(real)
        except (OSError, subprocess.CalledProcessError, EOFError):
            continue
        text = reflow(raw)
        h = hashlib.sha1(text.encode()).hexdigest()
        # Licence texts recur under several names; one copy each.
        if len(text) < 500 or h in seen:
            continue
        seen.add(h)
        docs.append(text)
        total += len(text)
    return docs


def tokenize(tok_dir, docs):
    node = shutil.which('node') or 'node'
    helper = os.path.join(REPO, 'dist', 'loadtest', 'quality', 'tokenize-text.js')
    if not os.path.exists(helper):
        sys.exit(f'{helper} is missing: run `npm run build` first')
    r = subprocess.run([node, helper, '--model', tok_dir], input='\f'.join(docs).encode('utf-8'), capture_output=True)
    if r.returncode != 0:
        sys.exit(r.stderr.decode())
    log(r.stderr.decode().strip())
    return np.frombuffer(r.stdout, dtype='<u2').astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Model: Tandem's ernie4_5 forward pass, in torch.

class RMSNorm(torch.nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(seq, head_dim, theta):
    # Float32 at every step, as services/engine/reference/ops.ts ropeInvFreq computes them.
    i = torch.arange(head_dim // 2, dtype=torch.float32)
    inv = 1.0 / torch.pow(torch.tensor(theta, dtype=torch.float32), (2 * i) / head_dim)
    ang = torch.arange(seq, dtype=torch.float32)[:, None] * inv[None, :]
    return torch.cos(ang), torch.sin(ang)


def rope_interleaved(x, cos, sin):
    # x: [B, heads, T, head_dim]; pair i is (2i, 2i+1), not the two halves (HF Llama's layout).
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack((a * cos - b * sin, b * cos + a * sin), dim=-1).flatten(-2)


class Layer(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        h, hd = c['hidden_size'], c['head_dim']
        self.nh, self.nkv, self.hd = c['num_attention_heads'], c['num_key_value_heads'], hd
        self.input_layernorm = RMSNorm(h, c['rms_norm_eps'])
        self.q_proj = torch.nn.Linear(h, self.nh * hd, bias=False)
        self.k_proj = torch.nn.Linear(h, self.nkv * hd, bias=False)
        self.v_proj = torch.nn.Linear(h, self.nkv * hd, bias=False)
        self.o_proj = torch.nn.Linear(self.nh * hd, h, bias=False)
        self.post_attention_layernorm = RMSNorm(h, c['rms_norm_eps'])
        self.gate_proj = torch.nn.Linear(h, c['intermediate_size'], bias=False)
        self.up_proj = torch.nn.Linear(h, c['intermediate_size'], bias=False)
        self.down_proj = torch.nn.Linear(c['intermediate_size'], h, bias=False)

    def forward(self, x, cos, sin, mask, kv_bf16):
        B, T, _ = x.shape
        n = self.input_layernorm(x)
        q = self.q_proj(n).view(B, T, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(n).view(B, T, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(n).view(B, T, self.nkv, self.hd).transpose(1, 2)
        q, k = rope_interleaved(q, cos, sin), rope_interleaved(k, cos, sin)
        if kv_bf16:
            # Tandem's KV cache is bf16: K (after RoPE) and V are rounded before attention.
            k, v = k.bfloat16().float(), v.bfloat16().float()
        g = self.nh // self.nkv
        k, v = k.repeat_interleave(g, dim=1), v.repeat_interleave(g, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd) + mask
        a = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, self.nh * self.hd)
        x = x + self.o_proj(a)
        n = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(n)) * self.up_proj(n))


class TinyErnie(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = torch.nn.Embedding(c['vocab_size'], c['hidden_size'])
        self.layers = torch.nn.ModuleList([Layer(c) for _ in range(c['num_hidden_layers'])])
        self.norm = RMSNorm(c['hidden_size'], c['rms_norm_eps'])
        std = 0.02
        for name, p in self.named_parameters():
            if p.dim() == 2:
                # GPT-2's residual scaling: each layer's output projections start small, so the
                # residual stream does not grow with depth at initialisation.
                s = std / math.sqrt(2 * c['num_hidden_layers']) if name.endswith(('o_proj.weight', 'down_proj.weight')) else std
                torch.nn.init.normal_(p, 0.0, s)

    def forward(self, ids, kv_bf16=False):
        T = ids.shape[1]
        cos, sin = rope_tables(T, self.c['head_dim'], self.c['rope_theta'])
        mask = torch.full((T, T), float('-inf')).triu(1)
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, cos, sin, mask, kv_bf16)
        # Tied head: the embedding table is the output projection.
        return self.norm(x) @ self.embed_tokens.weight.t()


# ---------------------------------------------------------------------------------------------
# Export: the Hugging Face names and shapes of services/engine/weights/layout.ts, bf16.

def bf16_bits(t):
    """Round-to-nearest-even fp32 -> bf16, as uint16 bits (what Tandem's f32ArrayToBf16 does)."""
    u = t.detach().float().contiguous().numpy().view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype(np.uint16)


def state_for_export(model):
    out = {'model.embed_tokens.weight': model.embed_tokens.weight}
    for i, l in enumerate(model.layers):
        p = f'model.layers.{i}'
        out[f'{p}.input_layernorm.weight'] = l.input_layernorm.weight
        for n in ('q_proj', 'k_proj', 'v_proj', 'o_proj'):
            out[f'{p}.self_attn.{n}.weight'] = getattr(l, n).weight
        out[f'{p}.post_attention_layernorm.weight'] = l.post_attention_layernorm.weight
        for n in ('gate_proj', 'up_proj', 'down_proj'):
            out[f'{p}.mlp.{n}.weight'] = getattr(l, n).weight
    out['model.norm.weight'] = model.norm.weight
    return out


def write_safetensors(path, tensors):
    header, blobs, offset = {'__metadata__': {'format': 'pt'}}, [], 0
    for name, t in tensors.items():
        b = bf16_bits(t).tobytes()
        header[name] = {'dtype': 'BF16', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    js = json.dumps(header, separators=(',', ':')).encode()
    # Data 64-byte aligned, like Tandem's own writer, so the mapped bf16 views are aligned.
    padded = math.ceil((len(js) + 8) / 64) * 64 - 8
    with open(path + '.tmp', 'wb') as f:
        f.write(struct.pack('<Q', padded))
        f.write(js + b' ' * (padded - len(js)))
        for b in blobs:
            f.write(b)
    os.replace(path + '.tmp', path)


def round_weights_to_bf16(model):
    # What Tandem will compute with: the torch model after this is the exported checkpoint.
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.bfloat16().float())


# ---------------------------------------------------------------------------------------------

def batches(data, seq, batch, rng):
    starts = rng.integers(0, len(data) - seq - 1, size=batch)
    x = np.stack([data[s:s + seq + 1] for s in starts])
    return torch.from_numpy(x[:, :-1]), torch.from_numpy(x[:, 1:])


@torch.no_grad()
def eval_loss(model, data, seq, windows):
    model.eval()
    # Fixed, evenly spaced windows: the same held-out text at every evaluation.
    step = max(1, (len(data) - seq - 1) // windows)
    losses = []
    for s in range(0, step * windows, step):
        x = torch.from_numpy(data[s:s + seq + 1][None])
        logits = model(x[:, :-1])
        losses.append(F.cross_entropy(logits.flatten(0, 1), x[0, 1:]).item())
    model.train()
    return float(np.mean(losses))


def prompts_from(docs, n, min_chars):
    """One text prompt per held-out document, from its start: each long enough for --tokens 128."""
    out = []
    for d in docs:
        text = ''
        for para in d.split('\n\n'):
            text = para if not text else text + '\n\n' + para
            if len(text) >= min_chars:
                break
        if len(text) >= min_chars:
            out.append(text)
        if len(out) == n:
            break
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', required=True, help='model directory to write (config.json, model.safetensors, tokenizer)')
    ap.add_argument('--work', help='corpus, token ids and verification files (default: OUT-work)')
    ap.add_argument('--minutes', type=float, default=20, help='training time budget (ignored with --steps)')
    ap.add_argument('--steps', type=int, help='a fixed number of steps instead of a time budget')
    ap.add_argument('--corpus-mb', type=float, default=6)
    ap.add_argument('--hidden', type=int, default=256)
    ap.add_argument('--layers', type=int, default=4)
    ap.add_argument('--heads', type=int, default=4)
    ap.add_argument('--kv-heads', type=int, default=2)
    ap.add_argument('--head-dim', type=int, default=64)
    ap.add_argument('--intermediate', type=int, default=768)
    ap.add_argument('--seq', type=int, default=256)
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--prompts', type=int, default=32, help='held-out text prompts written to WORK/prompts.jsonl')
    args = ap.parse_args()

    # The machine is shared: one thread for torch and for the BLAS below it.
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    out = os.path.abspath(args.out)
    work = os.path.abspath(args.work or out + '-work')
    os.makedirs(out, exist_ok=True)
    os.makedirs(work, exist_ok=True)

    # 1. Tokenizer: the one every generated Tandem checkpoint has (`gen-model --size tiny`: 1024 ids).
    tok_dir = os.path.join(work, 'tokenizer-source')
    subprocess.run(['node', os.path.join(REPO, 'bin', 'tandem.js'), 'gen-model', '--family', 'ernie4_5', '--size', 'tiny', '--out', tok_dir],
                   check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(tok_dir, 'config.json')) as f:
        gen_cfg = json.load(f)

    # 2. Corpus, split by document so held-out prompts are text the model never saw.
    t0 = time.time()
    docs = collect_corpus(int(args.corpus_mb * 1e6), args.seed)
    held = [d for i, d in enumerate(docs) if i % 20 == 7]
    train = [d for i, d in enumerate(docs) if i % 20 != 7]
    log(f'corpus: {len(docs)} documents, {sum(map(len, train)) / 1e6:.2f} MB train, {sum(map(len, held)) / 1e6:.2f} MB held out ({time.time() - t0:.0f}s)')
    train_ids = tokenize(tok_dir, train)
    held_ids = tokenize(tok_dir, held)
    train_ids.astype('<u2').tofile(os.path.join(work, 'train.u16'))
    held_ids.astype('<u2').tofile(os.path.join(work, 'heldout.u16'))
    prompts = prompts_from(held, args.prompts, 1200)
    with open(os.path.join(work, 'prompts.jsonl'), 'w') as f:
        for p in prompts:
            f.write(json.dumps(p) + '\n')
    log(f'{len(prompts)} held-out prompts -> {work}/prompts.jsonl')

    # 3. Model config: gen-model's tiny config.json with trained shapes.
    cfg = dict(gen_cfg)
    cfg.pop('tandem_generated', None)
    cfg.update({
        'hidden_size': args.hidden, 'intermediate_size': args.intermediate, 'num_hidden_layers': args.layers,
        'num_attention_heads': args.heads, 'num_key_value_heads': args.kv_heads, 'head_dim': args.head_dim,
        # Short training context: the default theta suits it better than ERNIE's 500000.
        'rope_theta': 10000.0, 'max_position_embeddings': 4096, 'tie_word_embeddings': True,
    })
    model = TinyErnie(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    log(f'model: {n_params / 1e6:.2f} M parameters, hidden {args.hidden}, {args.layers} layers, {args.heads} heads ({args.kv_heads} KV) x {args.head_dim}, vocab {cfg["vocab_size"]}')

    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': no_decay, 'weight_decay': 0.0}], lr=args.lr, betas=(0.9, 0.95))
    rng = np.random.default_rng(args.seed)
    budget = args.minutes * 60
    warmup = 30
    start, step, recent = time.time(), 0, []
    while True:
        elapsed = time.time() - start
        progress = step / args.steps if args.steps else elapsed / budget
        if progress >= 1:
            break
        # Linear warm-up, then cosine to 10% of the peak by the end of the budget.
        lr = args.lr * min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
        for g in opt.param_groups:
            g['lr'] = lr
        x, y = batches(train_ids, args.seq, args.batch, rng)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        recent = (recent + [loss.item()])[-20:]
        step += 1
        if step % 20 == 0:
            tps = step * args.seq * args.batch / (time.time() - start)
            log(f'step {step} loss {np.mean(recent):.3f} lr {lr:.2e} {time.time() - start:.0f}s {tps:.0f} tok/s')
        if step % 200 == 0:
            log(f'step {step} held-out loss {eval_loss(model, held_ids, args.seq, 16):.3f}')
    train_secs = time.time() - start
    train_loss = float(np.mean(recent))

    # 4. Export what Tandem will run: weights rounded to bf16, then measured as such.
    round_weights_to_bf16(model)
    held_loss = eval_loss(model, held_ids, args.seq, 64)
    tokens_seen = step * args.seq * args.batch
    log(f'done: {step} steps, {tokens_seen / 1e6:.2f} M tokens in {train_secs / 60:.1f} min; train loss {train_loss:.3f} (last 20 steps), held-out loss {held_loss:.3f} (bf16 weights)')
    cfg['tandem_trained'] = {
        'script': 'loadtest/quality/train_tiny_ernie.py', 'steps': step, 'tokens': tokens_seen, 'seq': args.seq, 'batch': args.batch,
        'lr': args.lr, 'seed': args.seed, 'corpus_train_tokens': int(len(train_ids)), 'corpus_heldout_tokens': int(len(held_ids)),
        'train_loss': round(train_loss, 4), 'heldout_loss': round(held_loss, 4), 'minutes': round(train_secs / 60, 1),
    }
    for n in TOKENIZER_FILES:
        shutil.copy(os.path.join(tok_dir, n), os.path.join(out, n))
    write_safetensors(os.path.join(out, 'model.safetensors'), state_for_export(model))
    # config.json last: as with gen-model, its presence marks a complete checkpoint.
    with open(os.path.join(out, 'config.json'), 'w') as f:
        json.dump(cfg, f, indent=2)
        f.write('\n')
    log(f'wrote {out}')

    # 5. Reference outputs for verify-export.ts: teacher-forced logits and greedy continuations
    # of held-out token windows, computed with the bf16 weights and a bf16-rounded KV as Tandem does.
    model.eval()
    seqs, logits = [], []
    with torch.no_grad():
        for s in (0, len(held_ids) // 3, 2 * len(held_ids) // 3, len(held_ids) - 300):
            ids = held_ids[s:s + 192].tolist()
            lg = model(torch.tensor([ids]), kv_bf16=True)[0]
            logits.append(lg.numpy().astype('<f4'))
            prompt, greedy = ids[:64], []
            for _ in range(32):
                nxt = int(model(torch.tensor([prompt + greedy]), kv_bf16=True)[0, -1].argmax())
                greedy.append(nxt)
            seqs.append({'ids': ids, 'greedy_prompt': 64, 'greedy': greedy})
    np.concatenate(logits).tofile(os.path.join(work, 'verify_logits.f32'))
    with open(os.path.join(work, 'verify.json'), 'w') as f:
        json.dump({'vocab': cfg['vocab_size'], 'sequences': seqs}, f)
    log(f'verification data -> {work}/verify.json, verify_logits.f32')


if __name__ == '__main__':
    main()
