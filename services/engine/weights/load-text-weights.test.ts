import { mkdtempSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCheckpoint } from '../../../tools/gen/gen-model.js';
import type { Bf16Matrix, TextFamily, TextModelWeights } from '../model-types.js';
import { openCheckpoint, type Checkpoint } from './checkpoint.js';
import {
  bf16ArrayToF32,
  f16ArrayToF32,
  f32ArrayToBf16,
  f32ArrayToF16,
  f32FromBits,
  type SafetensorsDtype,
} from './dtype.js';
import { CheckpointError } from './errors.js';
import { loadTextModelWeights } from './load-text-weights.js';
import { writeCheckpointShards, type TensorSource } from './safetensors-writer.js';

const root = mkdtempSync(join(tmpdir(), 'tandem-load-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const single: Record<TextFamily, string> = { ernie4_5: join(root, 'dense-single'), ernie4_5_moe: join(root, 'moe-single') };
const sharded: Record<TextFamily, string> = { ernie4_5: join(root, 'dense-sharded'), ernie4_5_moe: join(root, 'moe-sharded') };

beforeAll(async () => {
  for (const family of ['ernie4_5', 'ernie4_5_moe'] as const) {
    await generateCheckpoint({ family, size: 'tiny', outDir: single[family], seed: 7, tokenizer: false });
    await generateCheckpoint({ family, size: 'tiny', outDir: sharded[family], seed: 7, tokenizer: false, maxShardBytes: 100_000 });
  }
});

const u16 = (b: Uint8Array) => new Uint16Array(b.slice().buffer);
const f32 = (b: Uint8Array) => new Float32Array(b.slice().buffer);
const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
/** Bitwise equality of two typed arrays (fast, unlike a deep toEqual). */
const sameBits = (a: ArrayBufferView, b: ArrayBufferView) => Buffer.from(bytesOf(a)).equals(Buffer.from(bytesOf(b)));

interface RewriteOptions {
  /** Return a replacement source, null to drop, undefined to copy unchanged. */
  transform?: (name: string, t: { dtype: SafetensorsDtype; shape: number[]; bytes: Uint8Array }) => TensorSource | null | undefined;
  prepend?: TensorSource[];
  append?: TensorSource[];
  config?: Record<string, unknown>;
}

/** Copies a checkpoint into a new single-file directory, changing tensors on the way. */
async function rewrite(src: string, name: string, opts: RewriteOptions = {}): Promise<string> {
  const ckpt = openCheckpoint(src);
  const dst = mkdtempSync(join(root, `${name}-`));
  const sources: TensorSource[] = [...(opts.prepend ?? [])];
  for (const n of ckpt.tensorNames()) {
    const t = ckpt.get(n);
    const r = opts.transform?.(n, t);
    if (r === null) continue;
    sources.push(r ?? { name: n, dtype: t.dtype, shape: t.shape, produce: () => t.bytes });
  }
  sources.push(...(opts.append ?? []));
  await writeCheckpointShards(dst, sources);
  writeFileSync(join(dst, 'config.json'), JSON.stringify({ ...ckpt.config, ...opts.config }));
  return dst;
}

async function loadError(dir: string): Promise<CheckpointError> {
  try {
    await loadTextModelWeights(dir, { onWarning: () => undefined });
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return e as CheckpointError;
  }
  throw new Error(`expected ${dir} to fail loading`);
}

/** Every matrix and vector of the model with a path-like key. */
function flatten(w: TextModelWeights): Map<string, Bf16Matrix | Float32Array> {
  const out = new Map<string, Bf16Matrix | Float32Array>();
  const walk = (prefix: string, v: unknown) => {
    if (v instanceof Float32Array) out.set(prefix, v);
    else if (v && typeof v === 'object' && 'data' in v && (v as Bf16Matrix).data instanceof Uint16Array) out.set(prefix, v as Bf16Matrix);
    else if (Array.isArray(v)) v.forEach((x, i) => walk(`${prefix}.${i}`, x));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) if (k !== 'config') walk(`${prefix}.${k}`, x);
  };
  walk('', w);
  return out;
}

function expectSameWeights(a: TextModelWeights, b: TextModelWeights): void {
  expect(a.config).toEqual(b.config);
  const fa = flatten(a);
  const fb = flatten(b);
  expect([...fa.keys()]).toEqual([...fb.keys()]);
  for (const [k, va] of fa) {
    const vb = fb.get(k)!;
    if (va instanceof Float32Array) expect(sameBits(va, vb as Float32Array), k).toBe(true);
    else {
      const mb = vb as Bf16Matrix;
      expect([va.rows, va.cols], k).toEqual([mb.rows, mb.cols]);
      expect(sameBits(va.data, mb.data), k).toBe(true);
    }
  }
}

describe('loadTextModelWeights', () => {
  it.each(['ernie4_5', 'ernie4_5_moe'] as const)('reads a sharded %s checkpoint identically to the single-file one', async (family) => {
    const sh = openCheckpoint(sharded[family]);
    const one = openCheckpoint(single[family]);
    expect(sh.files.length).toBeGreaterThanOrEqual(3);
    expect(one.files).toEqual(['model.safetensors']);
    expect(sh.tensorNames()).toEqual(one.tensorNames());
    for (const n of one.tensorNames()) {
      const a = sh.get(n);
      const b = one.get(n);
      expect(a.dtype).toBe(b.dtype);
      expect(a.shape).toEqual(b.shape);
      expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes)), n).toBe(true);
    }
    const warnings: string[] = [];
    const ws = await loadTextModelWeights(sharded[family], { onWarning: (m) => warnings.push(m) });
    const w1 = await loadTextModelWeights(single[family], { onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
    expectSameWeights(ws, w1);
  });

  it('builds the dense model structure with zero-copy bf16 matrices', async () => {
    const w = await loadTextModelWeights(single.ernie4_5);
    expect(w.layers).toHaveLength(4);
    expect(w.lmHead).toBe(w.embedTokens);
    expect([w.embedTokens.rows, w.embedTokens.cols]).toEqual([1024, 64]);
    const l = w.layers[0]!;
    expect([l.qProj.rows, l.qProj.cols, l.kProj.rows, l.oProj.rows, l.oProj.cols]).toEqual([64, 64, 32, 64, 64]);
    expect(l.mlp.kind).toBe('dense');
    // A view into the file buffer, not a copy.
    expect(l.qProj.data.buffer.byteLength).toBeGreaterThan(l.qProj.data.byteLength);
    expect(l.qProj.data.buffer).toBe(w.embedTokens.data.buffer);
    // Norms are 1 ± noise, as fp32.
    expect(l.inputLayernorm).toBeInstanceOf(Float32Array);
    expect(Math.max(...Array.from(l.inputLayernorm, (x) => Math.abs(x - 1)))).toBeLessThan(0.3);
    expect(w.norm).toHaveLength(64);
  });

  it('builds the MoE structure: dense layer 0, MoE layers with experts, shared experts, fp32 gate and bias', async () => {
    const w = await loadTextModelWeights(single.ernie4_5_moe);
    expect(w.config.moe).toMatchObject({ numExperts: 8, topK: 2, intermediateSize: 32, numSharedExperts: 2, layerStartIndex: 1 });
    expect(w.layers.map((l) => l.mlp.kind)).toEqual(['dense', 'moe', 'moe', 'moe']);
    const m = w.layers[2]!.mlp;
    if (m.kind !== 'moe') throw new Error('unreachable');
    expect(m.gate).toHaveLength(8 * 64);
    expect(m.correctionBias).toHaveLength(8);
    expect(m.experts).toHaveLength(8);
    expect([m.experts[3]!.gateProj.rows, m.experts[3]!.downProj.cols]).toEqual([32, 32]);
    expect([m.shared!.upProj.rows, m.shared!.downProj.cols]).toEqual([64, 64]);
    expect(m.correctionBias.some((x) => x !== 0)).toBe(true);
  });

  it('converts fp32 matrices and vectors (exact for bf16-representable values, RNE otherwise)', async () => {
    const special = [1 + 2 ** -8, 1 + 2 ** -7 + 2 ** -8, 1 + 2 ** -8 + 2 ** -20, -3.0e38, 3.4e38, f32FromBits(0x7fc00001), -0, 1e-40];
    const specialBits = [0x3f80, 0x3f82, 0x3f81, 0xff62, 0x7f80, -1, 0x8000, 0x0001];
    const dir = await rewrite(single.ernie4_5_moe, 'f32', {
      transform: (name, t) => {
        if (t.dtype !== 'BF16') return undefined;
        const v = bf16ArrayToF32(u16(t.bytes));
        if (name === 'model.layers.0.self_attn.q_proj.weight') v.set(special);
        return { name, dtype: 'F32', shape: t.shape, produce: () => bytesOf(v) };
      },
    });
    expect(openCheckpoint(dir).info('model.layers.1.input_layernorm.weight')!.dtype).toBe('F32');
    const got = await loadTextModelWeights(dir);
    const want = await loadTextModelWeights(single.ernie4_5_moe);
    const q = got.layers[0]!.qProj.data;
    for (let i = 0; i < special.length; i++) {
      if (specialBits[i] === -1) expect(q[i]! & 0x7f80).toBe(0x7f80), expect(q[i]! & 0x7f).not.toBe(0);
      else expect(q[i], `element ${i}`).toBe(specialBits[i]);
    }
    // Apart from the special values, everything matches the bf16 original bit for bit.
    q.set(want.layers[0]!.qProj.data.subarray(0, special.length));
    expectSameWeights(got, want);
  });

  it('converts fp16 files (fp16 → fp32 → bf16)', async () => {
    const dir = await rewrite(single.ernie4_5, 'f16', {
      transform: (name, t) => {
        if (t.dtype !== 'BF16') return undefined;
        const h = f32ArrayToF16(bf16ArrayToF32(u16(t.bytes)));
        return { name, dtype: 'F16', shape: t.shape, produce: () => bytesOf(h) };
      },
    });
    const src = openCheckpoint(single.ernie4_5);
    const f16 = openCheckpoint(dir);
    const w = await loadTextModelWeights(dir);
    const expectMatrix = (name: string) => f32ArrayToBf16(f16ArrayToF32(u16(f16.get(name).bytes)));
    expect(sameBits(w.layers[1]!.kProj.data, expectMatrix('model.layers.1.self_attn.k_proj.weight'))).toBe(true);
    expect(sameBits(w.embedTokens.data, expectMatrix('model.embed_tokens.weight'))).toBe(true);
    expect(w.layers[3]!.postAttentionLayernorm).toEqual(f16ArrayToF32(u16(f16.get('model.layers.3.post_attention_layernorm.weight').bytes)));
    // The generated values are well inside fp16 range, so nearly all survive exactly.
    const orig = u16(src.get('model.layers.1.self_attn.k_proj.weight').bytes);
    const same = orig.filter((x, i) => x === w.layers[1]!.kProj.data[i]).length;
    expect(same / orig.length).toBeGreaterThan(0.99);
  });

  it('copies tensors that sit at unaligned offsets', async () => {
    const pad: TensorSource = { name: 'zz.pad', dtype: 'U8', shape: [3], produce: () => new Uint8Array(3) };
    const dir = await rewrite(single.ernie4_5_moe, 'unaligned', { prepend: [pad] });
    const warnings: string[] = [];
    const w = await loadTextModelWeights(dir, { onWarning: (m) => warnings.push(m) });
    expect(w.layers[0]!.qProj.data.byteOffset % 2).toBe(0);
    expectSameWeights(w, await loadTextModelWeights(single.ernie4_5_moe));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('zz.pad');
  });

  it('ignores mtp tensors silently and lists other unknown tensors in one warning', async () => {
    const extra = (name: string): TensorSource => ({ name, dtype: 'BF16', shape: [2], produce: () => new Uint8Array(4) });
    const dir = await rewrite(single.ernie4_5, 'extra', {
      append: [extra('model.mtp_block.0.self_attn.q_proj.weight'), extra('model.mtp_emb_norm.weight'), extra('model.extra.weight'), extra('lm_head.weight')],
    });
    const warnings: string[] = [];
    await loadTextModelWeights(dir, { onWarning: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('ignoring 2 tensor(s)');
    expect(warnings[0]).toContain('model.extra.weight');
    expect(warnings[0]).toContain('lm_head.weight (tie_word_embeddings is true)');
    expect(warnings[0]).not.toContain('mtp');
  });

  it('uses lm_head.weight when embeddings are not tied, and requires it', async () => {
    const head = openCheckpoint(single.ernie4_5).get('model.embed_tokens.weight');
    const dir = await rewrite(single.ernie4_5, 'untied', {
      config: { tie_word_embeddings: false },
      append: [{ name: 'lm_head.weight', dtype: 'BF16', shape: head.shape, produce: () => head.bytes }],
    });
    const w = await loadTextModelWeights(dir);
    expect(w.lmHead === w.embedTokens).toBe(false);
    expect(sameBits(w.lmHead.data, w.embedTokens.data)).toBe(true);
    const e = await loadError(await rewrite(single.ernie4_5, 'untied-missing', { config: { tie_word_embeddings: false } }));
    expect(e.code).toBe('missing_tensor');
    expect(e.message).toContain("'lm_head.weight' (not listed in model.safetensors)");
  });

  it('refuses a wrong shape, naming the tensor, the actual and the expected shape', async () => {
    const dir = await rewrite(single.ernie4_5, 'shape', {
      transform: (name, t) =>
        name === 'model.layers.2.self_attn.k_proj.weight'
          ? { name, dtype: 'BF16', shape: [16, 64], produce: () => t.bytes.subarray(0, 16 * 64 * 2) }
          : undefined,
    });
    const e = await loadError(dir);
    expect(e.code).toBe('shape_mismatch');
    expect(e.message).toContain("tensor 'model.layers.2.self_attn.k_proj.weight' in model.safetensors has shape [16, 64], expected [32, 64]");
    expect(e.message).toContain('num_key_value_heads*head_dim');
  });

  it('refuses a missing tensor, naming it and where it should be', async () => {
    const dir = await rewrite(single.ernie4_5_moe, 'missing', {
      transform: (name) => (name === 'model.layers.1.mlp.experts.5.up_proj.weight' ? null : undefined),
    });
    const e = await loadError(dir);
    expect(e.code).toBe('missing_tensor');
    expect(e.message).toContain("'model.layers.1.mlp.experts.5.up_proj.weight' (not listed in model.safetensors)");

    // Sharded: the index points at a shard that does not hold the tensor.
    const dir2 = mkdtempSync(join(root, 'badindex-'));
    const src = openCheckpoint(sharded.ernie4_5);
    for (const f of [...src.files, 'config.json']) writeFileSync(join(dir2, f), readFileSync(join(sharded.ernie4_5, f)));
    const index = JSON.parse(readFileSync(join(sharded.ernie4_5, 'model.safetensors.index.json'), 'utf8'));
    const name = 'model.layers.3.mlp.down_proj.weight';
    const wrongFile = src.files.find((f) => f !== index.weight_map[name])!;
    index.weight_map[name] = wrongFile;
    writeFileSync(join(dir2, 'model.safetensors.index.json'), JSON.stringify(index));
    const e2 = await loadError(dir2);
    expect(e2.code).toBe('missing_tensor');
    expect(e2.message).toContain(`'${name}' (listed in model.safetensors.index.json as being in ${wrongFile}, which does not contain it)`);
    expect(() => openCheckpoint(dir2).get(name)).toThrow(/says it is in model-0000\d-of-0000\d\.safetensors/);
  });

  it('refuses a truncated shard, naming the file, the tensor and the byte counts', async () => {
    const dir = mkdtempSync(join(root, 'trunc-'));
    const src = openCheckpoint(sharded.ernie4_5);
    for (const f of [...src.files, 'config.json', 'model.safetensors.index.json']) {
      writeFileSync(join(dir, f), readFileSync(join(sharded.ernie4_5, f)));
    }
    const victim = src.files[1]!;
    const size = readFileSync(join(dir, victim)).length;
    truncateSync(join(dir, victim), size - 1000);
    const e = await loadError(dir);
    expect(e.code).toBe('truncated_file');
    expect(e.message).toContain(victim);
    expect(e.message).toMatch(/tensor 'model\.layers\.\d+\.[a-z_.]+weight' needs data bytes \[\d+, \d+\)/);
    expect(e.message).toContain(`file is ${size - 1000} bytes, needs at least ${size}`);

    unlinkSync(join(dir, victim));
    const e2 = await loadError(dir);
    expect(e2.code).toBe('missing_file');
    expect(e2.message).toContain(victim);
  });

  it('refuses an unknown dtype, naming it, the tensor and the file', async () => {
    const dir = await rewrite(single.ernie4_5, 'dtype');
    const path = join(dir, 'model.safetensors');
    const buf = readFileSync(path);
    const at = buf.indexOf('"BF16"');
    buf.write('"BQ16"', at, 'latin1'); // same length: offsets stay valid
    writeFileSync(path, buf);
    const e = await loadError(dir);
    expect(e.code).toBe('unknown_dtype');
    expect(e.message).toMatch(/unknown dtype 'BQ16' for tensor '[^']+' in model\.safetensors/);
  });

  it('refuses a known but non-float dtype for a weight', async () => {
    const dir = await rewrite(single.ernie4_5, 'i64', {
      transform: (name) =>
        name === 'model.norm.weight' ? { name, dtype: 'I64', shape: [64], produce: () => new Uint8Array(64 * 8) } : undefined,
    });
    const e = await loadError(dir);
    expect(e.code).toBe('unsupported_dtype');
    expect(e.message).toContain("tensor 'model.norm.weight' in model.safetensors has dtype I64");
  });

  it('refuses use_bias=true, a missing config and an unsupported model type', async () => {
    const e = await loadError(await rewrite(single.ernie4_5, 'bias', { config: { use_bias: true } }));
    expect(e.code).toBe('bad_config');
    expect(e.message).toContain('not supported');
    const e2 = await loadError(await rewrite(single.ernie4_5, 'vl', { config: { model_type: 'ernie4_5_vl_moe' } }));
    expect(e2.code).toBe('bad_config');
    expect(e2.message).toContain('supported text model types: ernie4_5, ernie4_5_moe');
    const empty = mkdtempSync(join(root, 'empty-'));
    expect((await loadError(empty)).code).toBe('missing_file');
    writeFileSync(join(empty, 'config.json'), '{}');
    const e3 = await loadError(empty);
    expect(e3.code).toBe('missing_file');
    expect(e3.message).toContain('no model.safetensors or model.safetensors.index.json');
  });

  it('releases and re-reads shard data on demand', () => {
    const c: Checkpoint = openCheckpoint(sharded.ernie4_5);
    const a = Buffer.from(c.get('model.norm.weight').bytes);
    c.release();
    expect(Buffer.from(c.get('model.norm.weight').bytes).equals(a)).toBe(true);
    expect(f32(new Uint8Array(4)).length).toBe(1);
  });
});
