/**
 * Loads an ERNIE-4.5 text checkpoint into `TextModelWeights`: every expected tensor must be present
 * with exactly the shape config.json implies; matrices become bf16 (zero-copy views of bf16 files),
 * norms / MoE gate / correction bias become fp32.
 */
import { endianness } from 'node:os';
import type { Bf16Matrix, LayerWeights, LinearWeight, MoeMlpWeights, QuantizedMatrix, TextModelConfig, TextModelWeights } from '../model-types.js';
import { bf16Of, isMoeLayer } from '../model-types.js';
import { openCheckpoint, type Checkpoint } from './checkpoint.js';
import { parseTextModelConfig } from './config.js';
import { bf16ArrayToF32, f16ArrayToBf16, f16ArrayToF32, f32ArrayToBf16, LOADABLE_DTYPES } from './dtype.js';
import { CheckpointError } from './errors.js';
import { isSilentlyIgnoredTensor, layerPrefix, matrixQuantization, quantizedShape, storedTensorSpecs, type TensorSpec } from './layout.js';
import type { TensorBytes } from './safetensors.js';
import { isRotatedMatrix } from '../../protocol/quantization.js';

const LITTLE_ENDIAN = endianness() === 'LE';

export interface LoadOptions {
  /** Receives one human-readable message listing tensors the checkpoint has but the model does not use. */
  onWarning?: (message: string) => void;
}

export interface LoadReport {
  weights: TextModelWeights;
  /** Names of tensors present in the checkpoint and not used (mtp* and RoPE buffers excluded). */
  unusedTensors: string[];
  warnings: string[];
}

/** Reads `dir` (config.json + safetensors) into engine weights. */
export async function loadTextModelWeights(dir: string, opts: LoadOptions = {}): Promise<TextModelWeights> {
  const ckpt = openCheckpoint(dir);
  const report = readTextModelWeights(ckpt);
  const warn = opts.onWarning ?? ((m: string) => process.emitWarning(m, { code: 'TANDEM_CHECKPOINT' }));
  for (const w of report.warnings) warn(w);
  return report.weights;
}

/** The synchronous core of `loadTextModelWeights`, for an already-open checkpoint. */
export function readTextModelWeights(ckpt: Checkpoint, config: TextModelConfig = parseTextModelConfig(ckpt.config)): LoadReport {
  const specs = storedTensorSpecs(config);
  checkPresenceAndShapes(ckpt, specs);

  const expected = new Set(specs.map((s) => s.name));
  const unused = ckpt.tensorNames().filter((n) => !expected.has(n) && !isSilentlyIgnoredTensor(n));
  const warnings: string[] = [];
  if (unused.length > 0) {
    const shown = unused.slice(0, 20).map((n) => (n === 'lm_head.weight' ? `${n} (tie_word_embeddings is true)` : n));
    warnings.push(
      `${ckpt.dir}: ignoring ${unused.length} tensor(s) the ${config.modelType} model does not use: ${shown.join(', ')}${unused.length > 20 ? ', …' : ''}`,
    );
  }

  const loaded = loadTensorsByFile(ckpt, specs, (t, s) =>
    s.role === 'matrix' ? toBf16Matrix(t, s) : s.role === 'qweight' || s.role === 'zeros' ? toCodes(t, s) : toF32Vector(t, s),
  );
  const mat = (name: string): LinearWeight => {
    const m = loaded.get(name);
    if (m) return m as Bf16Matrix;
    return quantizedMatrix(name, loaded, config);
  };
  const vec = (name: string) => loaded.get(name) as Float32Array;
  const mlp = (p: string) => ({ gateProj: mat(`${p}.gate_proj.weight`), upProj: mat(`${p}.up_proj.weight`), downProj: mat(`${p}.down_proj.weight`) });

  const layers: LayerWeights[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const p = layerPrefix(i);
    let layerMlp: LayerWeights['mlp'];
    if (isMoeLayer(config, i)) {
      const m = config.moe!;
      const moe: MoeMlpWeights = {
        kind: 'moe',
        gate: vec(`${p}.mlp.gate.weight`),
        correctionBias: vec(`${p}.mlp.moe_statics.e_score_correction_bias`),
        experts: Array.from({ length: m.numExperts }, (_, e) => mlp(`${p}.mlp.experts.${e}`)),
      };
      if (m.numSharedExperts > 0) moe.shared = mlp(`${p}.mlp.shared_experts`);
      layerMlp = moe;
    } else {
      layerMlp = { kind: 'dense', ...mlp(`${p}.mlp`) };
    }
    layers.push(decoderLayer(p, layerMlp, mat, vec));
  }
  return { weights: decoderWeights(config, layers, mat, vec), unusedTensors: unused, warnings };
}

/**
 * Reads and converts the tensors of `specs`, file by file, so a converted (non-bf16) shard's
 * bytes can be dropped right after.
 */
export function loadTensorsByFile<S extends { name: string }, T>(ckpt: Checkpoint, specs: readonly S[], convert: (t: TensorBytes, s: S) => T): Map<string, T> {
  const loaded = new Map<string, T>();
  const byFile = new Map<string, S[]>();
  for (const s of specs) {
    const f = ckpt.fileOf(s.name)!;
    if (!byFile.has(f)) byFile.set(f, []);
    byFile.get(f)!.push(s);
  }
  for (const [file, list] of byFile) {
    for (const s of list) loaded.set(s.name, convert(ckpt.get(s.name), s));
    ckpt.release(file);
  }
  return loaded;
}

type MatOf = (name: string) => LinearWeight;
type VecOf = (name: string) => Float32Array;

/** One decoder layer's norms and attention projections (real tensor names) around its MLP. */
export function decoderLayer(p: string, mlp: LayerWeights['mlp'], mat: MatOf, vec: VecOf): LayerWeights {
  return {
    inputLayernorm: vec(`${p}.input_layernorm.weight`),
    postAttentionLayernorm: vec(`${p}.post_attention_layernorm.weight`),
    qProj: mat(`${p}.self_attn.q_proj.weight`),
    kProj: mat(`${p}.self_attn.k_proj.weight`),
    vProj: mat(`${p}.self_attn.v_proj.weight`),
    oProj: mat(`${p}.self_attn.o_proj.weight`),
    mlp,
  };
}

/** The decoder around its layers: embeddings, final norm, LM head (tied or not). */
export function decoderWeights(config: TextModelConfig, layers: LayerWeights[], mat: MatOf, vec: VecOf): TextModelWeights {
  const embedTokens = bf16Of(mat('model.embed_tokens.weight'), 'the embedding table');
  // A quantized head is stored on its own even when tied: the embedding table stays bf16.
  const ownHead = !config.tieWordEmbeddings || (config.quantization?.lmHead ?? false);
  return { config, embedTokens, layers, norm: vec('model.norm.weight'), lmHead: ownHead ? mat('lm_head.weight') : embedTokens };
}

/** The `X.qweight` codes and `X.scales` of a pre-quantized `X.weight`, checked against each other. */
function quantizedMatrix(name: string, loaded: Map<string, unknown>, config: TextModelConfig): QuantizedMatrix {
  const q = config.quantization;
  const base = name.replace(/\.weight$/, '');
  const codes = loaded.get(`${base}.qweight`) as { rows: number; data: Uint8Array; of: TensorSpec } | undefined;
  const scales = loaded.get(`${base}.scales`) as Float32Array | undefined;
  if (!q || !codes || !scales) throw new CheckpointError('missing_tensor', `tensor '${name}' (or its ${base}.qweight / ${base}.scales) is missing`);
  const [rows, cols] = codes.of.shape as [number, number];
  const mq = matrixQuantization(q, name);
  const shape = quantizedShape(rows, cols, mq);
  const zeros = mq.zeroPoints ? (loaded.get(`${base}.zeros`) as { data: Uint8Array } | undefined) : undefined;
  if (mq.zeroPoints && !zeros) throw new CheckpointError('missing_tensor', `tensor '${base}.zeros' is missing (quantization_config.zero_points is true)`);
  return {
    rows, cols, bits: mq.bits, group: shape.group, data: codes.data, scales,
    ...(isRotatedMatrix(q.rotation, name) ? { rotated: true } : {}),
    ...(zeros ? { zeros: zeros.data } : {}),
  };
}

/** U8 codes as they are (a view of the mapped file). */
function toCodes(t: TensorBytes, s: TensorSpec): { rows: number; data: Uint8Array; of: TensorSpec } {
  if (t.dtype !== 'U8') throw new CheckpointError('unsupported_dtype', `tensor '${s.name}' has dtype ${t.dtype}; quantized codes must be U8`);
  return { rows: s.shape[0]!, data: t.bytes, of: s.of! };
}

const fmt = (shape: readonly number[]) => `[${shape.join(', ')}]`;
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

export function checkPresenceAndShapes(ckpt: Checkpoint, specs: TensorSpec[]): void {
  const missing: string[] = [];
  const wrong: string[] = [];
  const badType: string[] = [];
  for (const s of specs) {
    const info = ckpt.info(s.name);
    if (!info) {
      const f = ckpt.fileOf(s.name);
      missing.push(
        f === undefined
          ? `'${s.name}' (not listed in ${ckpt.source})`
          : `'${s.name}' (listed in ${ckpt.source} as being in ${f}, which does not contain it)`,
      );
      continue;
    }
    if (!sameShape(info.shape, s.shape) && !(s.altShapes ?? []).some((a) => sameShape(info.shape, a))) {
      wrong.push(`tensor '${s.name}' in ${info.file} has shape ${fmt(info.shape)}, expected ${fmt(s.shape)} = ${s.because}`);
    }
    const wanted = s.role === 'qweight' || s.role === 'zeros' ? ['U8'] : s.role === 'scales' ? ['F32'] : (LOADABLE_DTYPES as readonly string[]);
    if (!wanted.includes(info.dtype)) {
      const what = s.role === 'qweight' || s.role === 'scales' || s.role === 'zeros' ? `${s.role} must be` : 'weights must be';
      badType.push(`tensor '${s.name}' in ${info.file} has dtype ${info.dtype}; ${what} ${wanted.join(', ')}`);
    }
  }
  const list = (xs: string[]) => xs.slice(0, 8).join('; ') + (xs.length > 8 ? `; … (${xs.length} in total)` : '');
  if (missing.length > 0) {
    throw new CheckpointError('missing_tensor', `${ckpt.dir}: missing ${missing.length} tensor(s): ${list(missing)}`);
  }
  if (wrong.length > 0) {
    throw new CheckpointError('shape_mismatch', `${ckpt.dir}: ${wrong.length} tensor(s) do not match config.json: ${list(wrong)}`);
  }
  if (badType.length > 0) throw new CheckpointError('unsupported_dtype', `${ckpt.dir}: ${list(badType)}`);
}

/** The tensor's 16-bit elements: a view when aligned on a little-endian host, else a decoded copy. */
function u16(bytes: Uint8Array): Uint16Array {
  const n = bytes.length >>> 1;
  if (LITTLE_ENDIAN && bytes.byteOffset % 2 === 0) return new Uint16Array(bytes.buffer, bytes.byteOffset, n);
  const out = new Uint16Array(n);
  if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(bytes);
  else {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    for (let i = 0; i < n; i++) out[i] = dv.getUint16(2 * i, true);
  }
  return out;
}

/** Like `u16` for fp32 elements. */
function f32(bytes: Uint8Array): Float32Array {
  const n = bytes.length >>> 2;
  if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, n);
  const out = new Float32Array(n);
  if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(bytes);
  else {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
  }
  return out;
}

export function toBf16Matrix(t: TensorBytes, s: TensorSpec): Bf16Matrix {
  const [rows, cols] = s.shape as [number, number];
  let data: Uint16Array;
  switch (t.dtype) {
    case 'BF16':
      data = u16(t.bytes);
      break;
    case 'F32':
      data = f32ArrayToBf16(f32(t.bytes));
      break;
    case 'F16':
      data = f16ArrayToBf16(u16(t.bytes));
      break;
    default:
      throw new CheckpointError('unsupported_dtype', `tensor '${s.name}' has dtype ${t.dtype}; weights must be ${LOADABLE_DTYPES.join(', ')}`);
  }
  return { rows, cols, data };
}

/** Always a fresh array, so small vectors never pin a whole shard in memory. */
export function toF32Vector(t: TensorBytes, s: TensorSpec): Float32Array {
  switch (t.dtype) {
    case 'BF16':
      return bf16ArrayToF32(u16(t.bytes));
    case 'F32':
      return f32(t.bytes).slice();
    case 'F16':
      return f16ArrayToF32(u16(t.bytes));
    default:
      throw new CheckpointError('unsupported_dtype', `tensor '${s.name}' has dtype ${t.dtype}; weights must be ${LOADABLE_DTYPES.join(', ')}`);
  }
}
