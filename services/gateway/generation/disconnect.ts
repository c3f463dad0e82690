import type { FastifyReply } from 'fastify';
import type { RequestStream } from '../../protocol/request.js';

/**
 * When the client goes away before the response is complete, abort every choice (frees KV at
 * once). A client that left before the choices started (while the prompt was rendered and
 * tokenized, or admission waited for the cluster-wide count) has no 'close' event left to fire:
 * those choices are aborted here and now, instead of running to max_tokens for nobody.
 */
export function abortOnDisconnect(reply: FastifyReply, streams: RequestStream[]): void {
  const abortUnlessDone = () => {
    if (!reply.raw.writableFinished) for (const s of streams) s.abort();
  };
  if (reply.raw.closed) abortUnlessDone();
  else reply.raw.on('close', abortUnlessDone);
}
