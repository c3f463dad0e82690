import type { KvDtype } from '../../kernels/ts/index.js';
import type { BlockEvent } from '../protocol/block-events.js';
import { Engine } from '../engine/loop/engine.js';
import { ModelRunner } from '../engine/runner/model-runner.js';
import type { GenerationBackend } from '../protocol/generation-backend.js';
import type { ModelCard } from '../protocol/model-card.js';
import type { Quantization } from '../protocol/quantization.js';
import { VisionRunner } from '../engine/runner/vision-runner.js';
import { ImageEncoder } from './image-encoder.js';
import { loadModel } from './load-model.js';
import { submitWithImages } from './submit-with-images.js';
import type { TokenVocabulary } from '../grammar/index.js';

export interface UnifiedWorkerOptions {
  modelDir: string;
  servedModelName?: string;
  maxModelLen?: number;
  maxNumSeqs?: number;
  /** Token budget per engine step (prefill chunk size bound). */
  maxBatchTokens?: number;
  /** KV cache size in blocks; default: what kvCacheBytes holds. */
  numKvBlocks?: number;
  /** KV cache size in bytes when numKvBlocks is not given (default 512 MiB). */
  kvCacheBytes?: number;
  blockSize?: number;
  kvDtype?: KvDtype;
  /** Weight-only quantization applied at load; every worker of a P/D pair must use the same. */
  quantization?: Quantization;
  enablePrefixCaching?: boolean;
  /** Receives prefix-cache block events (stored / removed / cleared), e.g. to publish on NATS. */
  onBlockEvent?: (e: BlockEvent) => void;
  /**
   * Allocates the KV pool (bytes) instead of the kernels: a decode worker lets its transfer
   * engine allocate it, so prefill workers on the same host reach it by shared memory.
   */
  allocateKv?: (bytes: number) => Promise<ArrayBuffer>;
  /** Bytes of image embeddings kept by mm_hash (VL models; default 256 MiB). */
  encoderCacheBytes?: number;
  /** Failure drills only: pause before every engine step (see EngineOptions.faultStepDelayMs). */
  faultStepDelayMs?: number;
  /** The bytes of each token id, for structured output (EngineOptions.vocabulary). */
  vocabulary?: TokenVocabulary;
}

export interface UnifiedWorker {
  engine: Engine;
  /** VL models: the vision encoder with its cache by mm_hash. */
  encoder?: ImageEncoder;
  card: ModelCard;
  backend: GenerationBackend;
}

/** One process doing every stage: loads the model and runs the engine loop. */
export async function startUnifiedWorker(o: UnifiedWorkerOptions): Promise<UnifiedWorker> {
  const { weights, vl, card } = await loadModel(o.modelDir, { name: o.servedModelName, maxModelLen: o.maxModelLen });
  const c = weights.config;
  const blockSize = o.blockSize ?? 16;
  const kvDtype = o.kvDtype ?? 'bf16';
  const bytesPerBlock = c.numLayers * 2 * blockSize * c.numKvHeads * c.headDim * (kvDtype === 'bf16' ? 2 : 4);
  const numBlocks = o.numKvBlocks ?? Math.max(16, Math.floor((o.kvCacheBytes ?? 512 * 1024 * 1024) / bytesPerBlock));
  const kvBuffer = o.allocateKv ? await o.allocateKv(numBlocks * bytesPerBlock) : undefined;
  const runner = new ModelRunner(weights, {
    kvBuffer,
    numBlocks,
    blockSize,
    kvDtype,
    quantization: o.quantization,
    maxBatchTokens: o.maxBatchTokens ?? 512,
    maxModelLen: card.maxModelLen,
    vl,
  });
  const encoder = vl ? new ImageEncoder(new VisionRunner(vl), o.encoderCacheBytes) : undefined;
  const engine = new Engine(runner, {
    maxNumSeqs: o.maxNumSeqs ?? 64,
    eosTokenIds: card.eosTokenIds,
    enablePrefixCaching: o.enablePrefixCaching ?? true,
    onBlockEvent: o.onBlockEvent,
    faultStepDelayMs: o.faultStepDelayMs,
    vocabulary: o.vocabulary,
  });
  return {
    engine,
    encoder,
    card,
    backend: { generate: (r) => submitWithImages(engine, encoder, r), stats: () => engine.stats() },
  };
}
