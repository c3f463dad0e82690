import { AsyncQueue } from '../common/async-queue.js';
import { traceVisionEncode } from '../common/telemetry/index.js';
import type { Engine, RequestStream } from '../engine/loop/engine.js';
import type { RequestOutput } from '../protocol/request.js';
import type { EngineRequest } from '../engine/request-types.js';
import type { ImageEncoder } from './image-encoder.js';

/** What happened to a request's images before its prefill (for stage history and traces). */
export interface ImageResolution {
  hits: number;
  encoded: number;
}

/**
 * engine.submit for requests that may carry images: the images get their embeddings first
 * (encoder cache or the vision encoder), then the request enters the engine. Text-only requests
 * go straight in. Errors (a text model given images, an image without pixels nor cache entry)
 * come out as the stream's error output, like the engine's own.
 */
export function submitWithImages(
  engine: Engine,
  encoder: ImageEncoder | undefined,
  req: EngineRequest,
  onResolved?: (r: ImageResolution) => void,
): RequestStream {
  if (!req.images?.length) return engine.submit(req);
  let inner: RequestStream | undefined;
  let aborted = false;
  const queue = new AsyncQueue<RequestOutput>(() => abort());
  const abort = () => {
    aborted = true;
    inner?.abort();
    queue.close();
  };
  const fail = (message: string) => {
    queue.push({ requestId: req.id, tokens: [], finished: true, finishReason: 'error', promptTokens: req.promptTokenIds.length, completionTokens: 0, cachedPromptTokens: 0, error: message, errorCode: 'invalid' });
    queue.close();
  };
  void (async () => {
    if (!encoder) return fail('this worker serves a model that does not take images');
    try {
      // Not `onResolved?.(await …)`: an absent callback would skip evaluating its argument.
      const imageTokens = req.images!.reduce((n, i) => n + i.tokenCount, 0);
      const resolved = await traceVisionEncode({ requestId: req.id, images: req.images!.length, imageTokens }, async (span) => {
        const r = await encoder.resolve(req.images!);
        span.setAttribute('tandem.vision.encoder_cache_hits', r.hits);
        return r;
      });
      onResolved?.(resolved);
    } catch (e) {
      return fail(`image encoding failed: ${(e as Error).message}`);
    }
    if (aborted) return;
    try {
      inner = engine.submit(req);
    } catch (e) {
      return fail((e as Error).message);
    }
    for await (const o of inner) queue.push(o);
    queue.close();
  })();
  return Object.assign(queue, { requestId: req.id, abort });
}
