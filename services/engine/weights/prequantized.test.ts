import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateCheckpoint } from '../../../tools/gen/gen-model.js';
import { isQuantized } from '../model-types.js';
import { ModelRunner } from '../runner/model-runner.js';
import { loadTextModelWeights } from './load-text-weights.js';

const root = mkdtempSync(join(tmpdir(), 'tandem-prequant-'));
const dirs: Record<string, string> = {};
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

beforeAll(async () => {
  for (const [key, quantization] of [['bf16', undefined], ['wint4', 'wint4'], ['wint8', 'wint8']] as const) {
    dirs[key] = join(root, key);
    await generateCheckpoint({ family: 'ernie4_5_moe', size: 'tiny', outDir: dirs[key]!, seed: 4, quantization, tokenizer: false });
  }
}, 60_000);

async function logits(dir: string, quantization?: 'wint8' | 'wint4' | 'none') {
  const w = await loadTextModelWeights(dir);
  const r = new ModelRunner(w, { numBlocks: 8, blockSize: 16, maxBatchTokens: 64, maxModelLen: 128, quantization });
  const [l] = await r.forward([{ tokens: Array.from({ length: 30 }, (_, i) => (i * 37) % 1000), startPos: 0, blockTable: [0, 1], logits: 'all' }]);
  return { l: l!, r, w };
}

describe('pre-quantized checkpoints', () => {
  it.each(['wint8', 'wint4'] as const)('%s: loading the stored codes gives the same bits as quantizing the bf16 checkpoint at load', async (q) => {
    const stored = await logits(dirs[q]!);
    const atLoad = await logits(dirs.bf16!, q);
    expect(stored.r.quantization).toBe(q);
    expect(isQuantized(stored.w.layers[0]!.qProj)).toBe(true);
    expect(isQuantized(stored.w.lmHead)).toBe(true);
    expect(isQuantized(stored.w.embedTokens as never)).toBe(false);
    expect(bits(stored.l)).toEqual(bits(atLoad.l));
  });

  it('wint8 checkpoints say their down projections are Hadamard-rotated; one written before rotation (no key) is served unrotated; another value is refused', async () => {
    const cfg = JSON.parse(readFileSync(join(dirs.wint8!, 'config.json'), 'utf8'));
    expect(cfg.quantization_config.rotation).toBe('down-hadamard128');
    expect(JSON.parse(readFileSync(join(dirs.wint4!, 'config.json'), 'utf8')).quantization_config.rotation).toBe('none');
    const w = await loadTextModelWeights(dirs.wint8!);
    const mlp = w.layers[1]!.mlp;
    if (mlp.kind !== 'moe') throw new Error('expected a MoE layer');
    const [down, gate] = [mlp.experts[0]!.downProj, mlp.experts[0]!.gateProj];
    if (!isQuantized(down) || !isQuantized(gate)) throw new Error('expected quantized weights');
    expect(down.rotated).toBe(true);
    expect(gate.rotated).toBeUndefined();
    // The same codes read as an older checkpoint would be: no rotation of the activations, so other logits.
    const old = join(root, 'wint8-unrotated');
    await generateCheckpoint({ family: 'ernie4_5_moe', size: 'tiny', outDir: old, seed: 4, quantization: 'wint8', tokenizer: false });
    const { rotation: _dropped, ...rest } = cfg.quantization_config;
    writeFileSync(join(old, 'config.json'), JSON.stringify({ ...cfg, quantization_config: rest }));
    const oldW = await loadTextModelWeights(old);
    const oldMlp = oldW.layers[1]!.mlp;
    if (oldMlp.kind !== 'moe' || !isQuantized(oldMlp.experts[0]!.downProj)) throw new Error('expected quantized MoE weights');
    expect(oldMlp.experts[0]!.downProj.rotated).toBeUndefined();
    expect(bits((await logits(old)).l)).not.toEqual(bits((await logits(dirs.wint8!)).l));
    writeFileSync(join(old, 'config.json'), JSON.stringify({ ...cfg, quantization_config: { ...rest, rotation: 'spin' } }));
    await expect(loadTextModelWeights(old)).rejects.toThrow(/quantization_config.rotation.*must be "none" or "down-hadamard128"/);
  });

  it('wint4 checkpoints keep the LM head at int8 per output channel (lm_head_bits 8, format_version 3); unknown versions, row-major panels and head bits are refused', async () => {
    const cfgPath = join(dirs.wint4!, 'config.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    expect(cfg.quantization_config).toMatchObject({ scheme: 'wint4', bits: 4, group_size: 32, lm_head_bits: 8, zero_points: true, format_version: 3 });
    const w = await loadTextModelWeights(dirs.wint4!);
    const head = w.lmHead;
    if (!isQuantized(head) || !isQuantized(w.layers[0]!.qProj)) throw new Error('expected quantized weights');
    expect([head.bits, head.scales.length]).toEqual([8, head.rows]);
    expect(head.data.length).toBe(head.rows * Math.ceil(head.cols / 128) * 128);
    expect(w.layers[0]!.qProj.bits).toBe(4);
    // 4-bit matrices carry a zero point per group; the int8 head none.
    expect(w.layers[0]!.qProj.zeros?.length).toBe(w.layers[0]!.qProj.scales.length);
    expect(head.zeros).toBeUndefined();
    const { l, r } = await logits(dirs.wint4!);
    expect(r.quantLayout).toBe('g32-zp-p16-head8');
    expect(bits(l)).toEqual(bits((await logits(dirs.bf16!, 'wint4')).l));
    const bad = join(root, 'bad-version');
    await generateCheckpoint({ family: 'ernie4_5_moe', size: 'tiny', outDir: bad, seed: 4, quantization: 'wint4', tokenizer: false });
    writeFileSync(join(bad, 'config.json'), JSON.stringify({ ...cfg, quantization_config: { ...cfg.quantization_config, format_version: 4 } }));
    await expect(loadTextModelWeights(bad)).rejects.toThrow(/format_version.*must be 1, 2 or 3, got 4 .*newer Tandem/);
    // Format 2 stored zero-point groups of 32 row-major: read as panels they would be other weights.
    writeFileSync(join(bad, 'config.json'), JSON.stringify({ ...cfg, quantization_config: { ...cfg.quantization_config, format_version: 2 } }));
    await expect(loadTextModelWeights(bad)).rejects.toThrow(/format_version.*is 2: .*row-major layout of an older Tandem.*gen-model --quantization wint4/);
    // Codes written with zero points, read as symmetric: the zeros tensors are then unexpected (warned) and the logits differ.
    writeFileSync(join(bad, 'config.json'), JSON.stringify({ ...cfg, quantization_config: { ...cfg.quantization_config, zero_points: false } }));
    const warnings: string[] = [];
    const { loadTextModelWeights: load } = await import('./load-text-weights.js');
    await load(bad, { onWarning: (m) => warnings.push(m) });
    expect(warnings.join()).toMatch(/ignoring \d+ tensor\(s\).*\.zeros/);
    writeFileSync(join(bad, 'config.json'), JSON.stringify({ ...cfg, quantization_config: { ...cfg.quantization_config, scheme: 'wint8', bits: 8, group_size: 0 } }));
    await expect(loadTextModelWeights(bad)).rejects.toThrow(/zero_points is for wint4 only/);
    writeFileSync(join(bad, 'config.json'), JSON.stringify({ ...cfg, quantization_config: { ...cfg.quantization_config, lm_head_bits: 2 } }));
    await expect(loadTextModelWeights(bad)).rejects.toThrow(/lm_head_bits.*must be 8 or 4/);
    // A version-1 file (no lm_head_bits, no zero points) has an int4 head: these int8 head codes then disagree in shape.
    const { lm_head_bits: _h, zero_points: _z, ...v1 } = cfg.quantization_config;
    writeFileSync(join(bad, 'config.json'), JSON.stringify({ ...cfg, quantization_config: { ...v1, format_version: 1 } }));
    await expect(loadTextModelWeights(bad)).rejects.toThrow(/lm_head\.(qweight|scales).*shape/);
  });

  it('the file is smaller than bf16 and its codes are 64-byte aligned in the mapped file', async () => {
    const w = await loadTextModelWeights(dirs.wint4!);
    const q = w.layers[1]!.mlp.kind === 'moe' ? w.layers[1]!.mlp.experts[0]!.gateProj : w.layers[1]!.qProj;
    if (!isQuantized(q)) throw new Error('expected quantized weights');
    expect(q.data.byteOffset % 64).toBe(0);
  });

  it('serving a pre-quantized checkpoint with another scheme is refused, saying what to do', async () => {
    await expect(logits(dirs.wint4!, 'wint8')).rejects.toThrow(/stored pre-quantized as wint4; start it with --quantization wint4/);
    // none serves it as stored
    expect((await logits(dirs.wint4!, 'none')).r.quantization).toBe('wint4');
  });

  it('a damaged or mismatched file is refused with a clear error', async () => {
    const cfgPath = join(dirs.wint4!, 'config.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    const bad = join(root, 'bad');
    await generateCheckpoint({ family: 'ernie4_5_moe', size: 'tiny', outDir: bad, seed: 4, quantization: 'wint4', tokenizer: false });
    // The config claims another group size than the codes were written with: shapes disagree.
    writeFileSync(join(bad, 'config.json'), JSON.stringify({ ...cfg, quantization_config: { ...cfg.quantization_config, group_size: 256 } }));
    await expect(loadTextModelWeights(bad)).rejects.toThrow(/scales.*has shape \[\d+, 1\], expected \[\d+, 1\]|do not match config.json/);
    writeFileSync(join(bad, 'config.json'), JSON.stringify({ ...cfg, quantization_config: { ...cfg.quantization_config, quant_method: 'gptq' } }));
    await expect(loadTextModelWeights(bad)).rejects.toThrow(/quant_method "gptq" is not supported/);
    writeFileSync(join(bad, 'config.json'), JSON.stringify({ ...cfg, quantization_config: { ...cfg.quantization_config, scheme: 'wint8', bits: 8, group_size: 128, zero_points: false } }));
    await expect(loadTextModelWeights(bad)).rejects.toThrow(/do not match config.json/);
    // Groups of 32 / 64 exist for wint4 only.
    writeFileSync(join(bad, 'config.json'), JSON.stringify({ ...cfg, quantization_config: { ...cfg.quantization_config, scheme: 'wint8', bits: 8, group_size: 32 } }));
    await expect(loadTextModelWeights(bad)).rejects.toThrow(/group_size must be 0 \(per channel\), a multiple of 128, or \(wint4\) 32 or 64, got 32/);
  });
});
