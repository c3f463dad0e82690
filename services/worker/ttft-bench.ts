/**
 * How much the KV hand-off adds to a disaggregated request's time to first token, for
 * `tandem bench transfer`: a prefill engine in this process, the decode side's KV pool as a
 * registered region in another process (RemoteReceiver, the same put path a decode worker
 * serves, guarded by one lease over the whole pool and pushed to with its grant, as a decode worker
 * is: for ucx these are checked puts). Per repeat, three variants run back to back on fresh prompts (no prefix-cache hits):
 * prefill alone, prefill then push everything, and layer-wise push during the prefill. The
 * variants interleave so machine noise hits them alike; medians are reported.
 */
import { performance } from 'node:perf_hooks';
import type { KvLayout } from '../../kernels/ts/index.js';
import { Engine } from '../engine/loop/engine.js';
import type { SamplingParams } from '../protocol/request.js';
import { ModelRunner } from '../engine/runner/model-runner.js';
import type { TextModelWeights } from '../engine/model-types.js';
import { RemoteReceiver } from '../transfer/receiver-client.js';
import { createTransferEngine } from '../transfer/transfer-engine.js';
import type { TransferBackend } from '../transfer/types.js';
import { KvPush, type KvPushMode } from './kv-push.js';

export interface TtftBenchOptions {
  weights: TextModelWeights;
  backend: Exclude<TransferBackend, 'local'>;
  promptTokens: number;
  repeats: number;
  log?: (m: string) => void;
}

export interface TtftBenchResult {
  backend: string;
  promptTokens: number;
  kvBytes: number;
  repeats: number;
  /** Median seconds to the first token (and, with a push, all KV landed on the decode side). */
  prefillOnlySeconds: number;
  afterPrefillSeconds: number;
  layerwiseSeconds: number;
  /** (variant − prefill only) / prefill only. Target for layer-wise: < 0.10. */
  afterPrefillAdded: number;
  layerwiseAdded: number;
}

const GREEDY_ONE: SamplingParams = { temperature: 0, topP: 1, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1, maxTokens: 1, stopTokenIds: [], ignoreEos: true };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchTtftPush(o: TtftBenchOptions): Promise<TtftBenchResult> {
  const bs = 16;
  const blocksPerPrompt = Math.ceil((o.promptTokens + 1) / bs);
  const runner = new ModelRunner(o.weights, { numBlocks: blocksPerPrompt + 2, blockSize: bs, maxBatchTokens: Math.max(o.promptTokens, 16), maxModelLen: o.promptTokens + 16 });
  const engine = new Engine(runner, { eosTokenIds: [], enablePrefixCaching: false });
  const decodeLayout: KvLayout = { ...runner.kv.layout, numBlocks: blocksPerPrompt };
  const elem = decodeLayout.dtype === 'bf16' ? 2 : 4;
  const regionBytes = decodeLayout.layers * 2 * decodeLayout.numBlocks * bs * decodeLayout.kvHeads * decodeLayout.headDim * elem;
  const grant = 'ttft-bench-lease';
  const receiver = await RemoteReceiver.spawn({ backend: o.backend, bytes: regionBytes, regionId: 'kv-decode', grant: { id: grant, offset: 0, length: regionBytes } });
  const sender = await createTransferEngine(o.backend);
  const vocab = o.weights.config.vocabSize;
  let promptSeed = 1;
  const freshPrompt = () => {
    const s = promptSeed++;
    return Array.from({ length: o.promptTokens }, (_, i) => (s * 7919 + i * 104729) % vocab);
  };
  const dstBlocks = Array.from({ length: Math.ceil(o.promptTokens / bs) }, (_, i) => i);

  const once = async (mode: KvPushMode | 'none', id: string): Promise<{ seconds: number; bytes: number }> => {
    const push = new KvPush(sender, runner.kv, { region: receiver.descriptor, layout: decodeLayout, blockIds: dstBlocks, fromBlock: 0, grant });
    const t0 = performance.now();
    let blocks: number[] = [];
    const stream = engine.submit({ id, promptTokenIds: freshPrompt(), sampling: GREEDY_ONE, prefillOnly: true, onKvWritten: mode === 'layerwise' ? push.onLayer : undefined });
    for await (const out of stream) {
      if (out.error) throw new Error(out.error);
      if (out.prefilledBlocks) blocks = out.prefilledBlocks;
    }
    const sent = mode === 'none' ? { bytes: 0 } : await push.finish(blocks);
    const seconds = (performance.now() - t0) / 1000;
    engine.releaseBlocks(blocks);
    return { seconds, bytes: sent.bytes };
  };

  try {
    await once('layerwise', 'warmup'); // first-touch of buffers, UCX endpoint creation
    const times: Record<KvPushMode | 'none', number[]> = { none: [], 'after-prefill': [], layerwise: [] };
    let kvBytes = 0;
    for (let r = 0; r < o.repeats; r++) {
      for (const mode of ['none', 'after-prefill', 'layerwise'] as const) {
        const res = await once(mode, `${mode}-${r}`);
        times[mode].push(res.seconds);
        if (res.bytes) kvBytes = res.bytes;
      }
      o.log?.(`[bench] ttft ${o.backend} repeat ${r + 1}/${o.repeats}`);
    }
    const base = median(times.none);
    const after = median(times['after-prefill']);
    const layer = median(times.layerwise);
    return {
      backend: o.backend,
      promptTokens: o.promptTokens,
      kvBytes,
      repeats: o.repeats,
      prefillOnlySeconds: base,
      afterPrefillSeconds: after,
      layerwiseSeconds: layer,
      afterPrefillAdded: (after - base) / base,
      layerwiseAdded: (layer - base) / base,
    };
  } finally {
    await engine.shutdown();
    await sender.close();
    await receiver.close();
  }
}
