import type { FastifyReply } from 'fastify';
import { SSE_DONE, sseData } from '../openai/index.js';

/** Server-sent events on a hijacked reply: `data: {...}` lines, then `data: [DONE]` (or named events, then the end). */
export class SseWriter {
  constructor(private readonly reply: FastifyReply) {
    reply.hijack();
    const trace = reply.getHeader('traceparent');
    reply.raw.writeHead(200, {
      ...(trace ? { traceparent: String(trace) } : {}),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
  }

  get closed(): boolean {
    return this.reply.raw.destroyed || this.reply.raw.writableEnded;
  }

  send(obj: object): void {
    if (this.closed) return;
    this.cork();
    this.reply.raw.write(sseData(obj));
  }

  done(): void {
    if (this.closed) return;
    this.reply.raw.write(SSE_DONE);
    this.reply.raw.end();
  }

  /** A named event (`event:` line, then `data:`), as the Responses API streams them. */
  sendEvent(name: string, obj: object): void {
    if (this.closed) return;
    this.cork();
    this.reply.raw.write(`event: ${name}\n${sseData(obj)}`);
  }

  /** Ends the stream without the `[DONE]` sentinel (Responses API streams end on their last event). */
  end(): void {
    if (!this.closed) this.reply.raw.end();
  }

  // Chunks written in the same tick (several choices, a final delta + usage + [DONE]) leave in
  // one TCP segment instead of one each.
  private corked = false;
  private cork(): void {
    if (this.corked) return;
    this.corked = true;
    this.reply.raw.cork();
    process.nextTick(() => {
      this.corked = false;
      this.reply.raw.uncork();
    });
  }
}
