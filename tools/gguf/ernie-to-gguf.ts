/**
 * Converts a dense ERNIE-4.5 text model (Tandem's loaded weights: bf16 matrices, fp32 norms) to a
 * GGUF for llama.cpp's `ernie4_5` architecture, as llama.cpp's own convert_hf_to_gguf.py does it
 * (Ernie4_5Model): same tensor names, hyper-parameter keys and SentencePiece vocabulary.
 *
 * No weight permutation: llama.cpp runs ernie4_5 with LLAMA_ROPE_TYPE_NORM, which rotates
 * consecutive pairs (2i, 2i+1) of each head, the convention of ERNIE and of Tandem's kernels
 * (the HF-Llama q/k permute exists only to map rotate-half checkpoints onto that convention).
 *
 * Formats: bf16 (matrices bf16, bit-identical to what Tandem serves), q8_0 and q4_0 (every matrix,
 * the tied embedding / LM head included, like Tandem's wint8 / wint4 which quantize the LM head;
 * i.e. llama-quantize --pure). Norms stay f32 in every format.
 */
import { basename } from 'node:path';
import { bf16ArrayToF32 } from '../../services/engine/weights/dtype.js';
import { bf16Of, type LinearWeight, type TextModelWeights } from '../../services/engine/model-types.js';
import { GgmlType, LlamaFileType, ggmlRowBytes } from './gguf-constants.js';
import { addTokenizer } from './gguf-tokenizer.js';
import { GgufWriter, type GgufTensor } from './gguf-writer.js';
import { quantizeQ4_0, quantizeQ8_0 } from './quantize-blocks.js';

export type GgufFormat = 'bf16' | 'q8_0' | 'q4_0';
export const GGUF_FORMATS: readonly GgufFormat[] = ['bf16', 'q8_0', 'q4_0'];

const MATRIX_TYPE: Record<GgufFormat, GgmlType> = { bf16: GgmlType.BF16, q8_0: GgmlType.Q8_0, q4_0: GgmlType.Q4_0 };
const FILE_TYPE: Record<GgufFormat, LlamaFileType> = { bf16: LlamaFileType.MOSTLY_BF16, q8_0: LlamaFileType.MOSTLY_Q8_0, q4_0: LlamaFileType.MOSTLY_Q4_0 };

export interface ErnieToGgufOptions {
  weights: TextModelWeights;
  /** The checkpoint directory (tokenizer.model, general.name). */
  dir: string;
  out: string;
  format: GgufFormat;
  onTensor?: (index: number, count: number, name: string) => void;
}

function matrixTensor(name: string, m: LinearWeight, format: GgufFormat): GgufTensor {
  const w = bf16Of(m, name);
  const type = MATRIX_TYPE[format];
  return {
    name,
    dims: [w.cols, w.rows],
    type,
    data: () => {
      if (type === GgmlType.BF16) return new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength);
      const rowBytes = ggmlRowBytes(type, w.cols);
      const out = new Uint8Array(rowBytes * w.rows);
      const row = new Float32Array(w.cols);
      const quantize = type === GgmlType.Q8_0 ? quantizeQ8_0 : quantizeQ4_0;
      for (let r = 0; r < w.rows; r++) {
        bf16ArrayToF32(w.data.subarray(r * w.cols, (r + 1) * w.cols), row);
        quantize(row, out.subarray(r * rowBytes, (r + 1) * rowBytes));
      }
      return out;
    },
  };
}

function normTensor(name: string, v: Float32Array): GgufTensor {
  return { name, dims: [v.length], type: GgmlType.F32, data: () => new Uint8Array(v.buffer, v.byteOffset, v.byteLength) };
}

/** The GgufWriter for `o` (metadata and tensors), not yet written. */
export function ernieGguf(o: Omit<ErnieToGgufOptions, 'out' | 'onTensor'>): GgufWriter {
  const { weights, format } = o;
  const c = weights.config;
  if (c.modelType !== 'ernie4_5' || c.moe) throw new Error(`GGUF conversion supports the dense ernie4_5 family only, not ${c.modelType}`);
  if (c.useBias) throw new Error('GGUF conversion: checkpoints with linear biases (use_bias) are not supported');
  const arch = 'ernie4_5';
  const w = new GgufWriter()
    .string('general.architecture', arch)
    .string('general.name', basename(o.dir))
    .u32('general.file_type', FILE_TYPE[format])
    .u32('general.quantization_version', 2)
    .u32(`${arch}.context_length`, c.maxPositionEmbeddings)
    .u32(`${arch}.embedding_length`, c.hiddenSize)
    .u32(`${arch}.feed_forward_length`, c.intermediateSize)
    .u32(`${arch}.block_count`, c.numLayers)
    .u32(`${arch}.attention.head_count`, c.numHeads)
    .u32(`${arch}.attention.head_count_kv`, c.numKvHeads)
    .u32(`${arch}.attention.key_length`, c.headDim)
    .u32(`${arch}.attention.value_length`, c.headDim)
    .u32(`${arch}.rope.dimension_count`, c.headDim)
    .f32(`${arch}.rope.freq_base`, c.ropeTheta)
    .f32(`${arch}.attention.layer_norm_rms_epsilon`, c.rmsNormEps)
    .u32(`${arch}.vocab_size`, c.vocabSize);
  addTokenizer(w, o.dir, c);
  w.addTensor(matrixTensor('token_embd.weight', weights.embedTokens, format));
  w.addTensor(normTensor('output_norm.weight', weights.norm));
  if (!c.tieWordEmbeddings) w.addTensor(matrixTensor('output.weight', weights.lmHead, format));
  weights.layers.forEach((l, i) => {
    if (l.mlp.kind !== 'dense') throw new Error(`layer ${i} is not dense`);
    const p = `blk.${i}`;
    w.addTensor(normTensor(`${p}.attn_norm.weight`, l.inputLayernorm))
      .addTensor(matrixTensor(`${p}.attn_q.weight`, l.qProj, format))
      .addTensor(matrixTensor(`${p}.attn_k.weight`, l.kProj, format))
      .addTensor(matrixTensor(`${p}.attn_v.weight`, l.vProj, format))
      .addTensor(matrixTensor(`${p}.attn_output.weight`, l.oProj, format))
      .addTensor(normTensor(`${p}.ffn_norm.weight`, l.postAttentionLayernorm))
      .addTensor(matrixTensor(`${p}.ffn_gate.weight`, l.mlp.gateProj, format))
      .addTensor(matrixTensor(`${p}.ffn_up.weight`, l.mlp.upProj, format))
      .addTensor(matrixTensor(`${p}.ffn_down.weight`, l.mlp.downProj, format));
  });
  return w;
}

/** Writes the GGUF; returns its size in bytes. */
export function writeErnieGguf(o: ErnieToGgufOptions): number {
  return ernieGguf(o).write(o.out, o.onTensor);
}
