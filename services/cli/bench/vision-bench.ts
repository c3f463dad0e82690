/**
 * `tandem bench vision`: the vision stage on a generated ERNIE-4.5-VL checkpoint (the `small`
 * size unless --model): encode time per image by resolution, the bytes and time of moving the
 * embeddings to another process through the transfer engine (as Prefill-Vision → Prefill-Text),
 * and time to first token of an image request with the encoder cache cold vs warm (same worker,
 * same picture, prefix cache off so only the encoder cache differs).
 */
import { performance } from 'node:perf_hooks';
import { RemoteReceiver } from '../../transfer/receiver-client.js';
import { createTransferEngine } from '../../transfer/transfer-engine.js';
import type { TransferBackend } from '../../transfer/types.js';
import { VisionRunner } from '../../engine/runner/vision-runner.js';
import type { SamplingParams } from '../../protocol/request.js';
import { startUnifiedWorker } from '../../worker/unified-worker.js';
import { summary } from './percentiles.js';

export interface VisionBenchOptions {
  modelDir: string;
  /** Image sizes in pixels (multiples of 28). */
  resolutions: Array<[number, number]>;
  repeats: number;
  backend: Exclude<TransferBackend, 'local'>;
  log: (m: string) => void;
}

const GREEDY_ONE: SamplingParams = { temperature: 0, topP: 1, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1, maxTokens: 1, stopTokenIds: [], ignoreEos: true };

/** Deterministic normalized pixels, different per seed (so every cold run is a new mm_hash). */
function pixels(w: number, h: number, seed: number): Float32Array {
  const out = new Float32Array(3 * w * h);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 3.6 - 1.8;
  }
  return out;
}

export async function runVisionBench(o: VisionBenchOptions) {
  const worker = await startUnifiedWorker({ modelDir: o.modelDir, enablePrefixCaching: false, numKvBlocks: 512, maxBatchTokens: 2048 });
  if (!worker.encoder) throw new Error(`${o.modelDir} is not a vision-language model`);
  const vl = worker.engine.runner.vl!;
  const vision = new VisionRunner(vl);
  const hidden = vl.config.text.hiddenSize;
  const patch = vl.config.vision.patchSize;
  const merge = vl.config.vision.spatialMergeSize;
  const rows: Array<Record<string, unknown>> = [];
  const receiver = await RemoteReceiver.spawn({ backend: o.backend, bytes: 64 * 1024 * 1024, regionId: 'emb-inbox' });
  const sender = await createTransferEngine(o.backend);
  let seed = 1;
  try {
    for (const [w, h] of o.resolutions) {
      const grid = { t: 1, h: h / patch, w: w / patch };
      const tokens = (grid.h / merge) * (grid.w / merge);
      o.log(`[bench] vision ${w}x${h}: ${tokens} image tokens`);
      const encode: number[] = [];
      const transfer: number[] = [];
      const ttftCold: number[] = [];
      const ttftWarm: number[] = [];
      let bytes = 0;
      await vision.encodeImages([{ pixels: pixels(w, h, 999), grid }]); // warm-up
      for (let r = 0; r < o.repeats; r++) {
        const px = pixels(w, h, seed++);
        let t = performance.now();
        const emb = await vision.encodeImages([{ pixels: px, grid }]);
        encode.push((performance.now() - t) / 1000);
        bytes = emb.byteLength;
        const source = emb.buffer.slice(emb.byteOffset, emb.byteOffset + emb.byteLength) as ArrayBuffer;
        t = performance.now();
        await sender.put(receiver.descriptor, source, [{ localOffset: 0, remoteOffset: 0, length: bytes }]);
        transfer.push((performance.now() - t) / 1000);
        // TTFT through the worker: a 32-token text around the image, cold then warm encoder cache.
        const mmHash = `bench-${w}x${h}-${r}`;
        const prompt = [...Array.from({ length: 16 }, (_, i) => 100 + i), vl.config.imageStartTokenId, ...Array(tokens).fill(vl.config.imageTokenId), vl.config.imageEndTokenId, ...Array.from({ length: 16 }, (_, i) => 200 + i)];
        for (const [label, out] of [['cold', ttftCold], ['warm', ttftWarm]] as const) {
          const image = { mmHash, offset: 17, tokenCount: tokens, grid, pixels: px };
          t = performance.now();
          for await (const _ of worker.backend.generate({ id: `${mmHash}-${label}`, promptTokenIds: prompt, sampling: GREEDY_ONE, images: [image] })) void _;
          out.push((performance.now() - t) / 1000);
        }
      }
      const s = (x: number[]) => summary(x);
      rows.push({
        width: w, height: h, imageTokens: tokens, embeddingBytes: bytes,
        encodeSeconds: s(encode), transferSeconds: s(transfer), transferGBs: bytes / s(transfer).p50 / 1e9,
        ttftColdSeconds: s(ttftCold), ttftWarmSeconds: s(ttftWarm),
      });
    }
  } finally {
    await sender.close();
    await receiver.close();
    await worker.engine.shutdown();
  }
  return { bench: 'vision', model: o.modelDir, backend: o.backend, hidden, repeats: o.repeats, rows };
}
