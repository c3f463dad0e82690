import type { Span } from '@opentelemetry/api';
import { ATTR, SPAN } from './span-names.js';
import { withSpan } from './spans.js';

/**
 * Spans of the vision stage (Prefill-Vision), ready for the code that runs it: wrap the work and
 * the span becomes a child of whatever span is active (the worker's leg span), so it lands in the
 * request's trace between the router's plan and the prefill.
 *
 *   const emb = await traceVisionEncode({ requestId, images: 2, imageTokens: 512 }, () => runner.encodeImages(...));
 *   await traceEmbeddingTransfer({ bytes, backend: transfer.backend, targetWorker }, () => push.finish());
 *
 * Attributes not listed can be added from inside: `(span) => { span.setAttribute('tandem.x', 1); ... }`.
 */
export function traceVisionEncode<T>(
  a: { requestId?: string; workerId?: string; images: number; imageTokens?: number; encoderCacheHits?: number },
  fn: (span: Span) => Promise<T> | T,
): Promise<T> {
  return withSpan(
    SPAN.visionEncode,
    {
      ...(a.requestId !== undefined ? { [ATTR.requestId]: a.requestId } : {}),
      ...(a.workerId !== undefined ? { [ATTR.workerId]: a.workerId } : {}),
      'tandem.vision.images': a.images,
      ...(a.imageTokens !== undefined ? { 'tandem.vision.image_tokens': a.imageTokens } : {}),
      ...(a.encoderCacheHits !== undefined ? { 'tandem.vision.encoder_cache_hits': a.encoderCacheHits } : {}),
    },
    fn,
  );
}

export function traceEmbeddingTransfer<T>(a: { bytes?: number; backend?: string; targetWorker?: string }, fn: (span: Span) => Promise<T> | T): Promise<T> {
  return withSpan(
    SPAN.embeddingTransfer,
    {
      ...(a.bytes !== undefined ? { [ATTR.kvBytes]: a.bytes } : {}),
      ...(a.backend !== undefined ? { [ATTR.kvBackend]: a.backend } : {}),
      ...(a.targetWorker !== undefined ? { [ATTR.kvTargetWorker]: a.targetWorker } : {}),
    },
    fn,
  );
}
