import type { FastifyReply } from 'fastify';
import type { RequestStream } from '../../protocol/request.js';

/** When the client goes away before the response is complete, abort every choice (frees KV at once). */
export function abortOnDisconnect(reply: FastifyReply, streams: RequestStream[]): void {
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) for (const s of streams) s.abort();
  });
}
