import * as grpc from '@grpc/grpc-js';
import { AsyncQueue } from '../common/async-queue.js';
import { outputFromPb, requestToPb, type pb } from '../protocol/wire.js';
import { CHANNEL_OPTIONS } from '../common/grpc/grpc-server.js';
import { tandemV1 } from '../protocol/grpc-services.js';
import type { RequestStream } from '../protocol/request.js';
import type { GenerationRequest, RequestOutput } from '../protocol/request.js';
import type { GenerationBackend } from './backend.js';

type Stats = ReturnType<GenerationBackend['stats']>;

/** The gateway's backend in cluster mode: the router's gRPC Generate stream. */
export class RouterBackend implements GenerationBackend {
  private readonly client: grpc.Client & Record<string, (...a: unknown[]) => unknown>;
  private last: Stats = { running: 0, waiting: 0, kvUsage: 0, prefixCacheHitRate: 0, numBlocks: 1, freeBlocks: 0, preemptions: 0 };
  private readonly timer: NodeJS.Timeout;
  /** In-flight Generate calls, so a shutdown can fail them cleanly (see failInFlight). */
  private readonly inFlight = new Set<(reason: string) => void>();

  /**
   * `requestTimeoutMs` becomes the gRPC deadline of every Generate call; the router hands the
   * same deadline to each worker leg, so nothing keeps computing for a caller that gave up.
   */
  constructor(address: string, private readonly requestTimeoutMs = 10 * 60_000) {
    this.client = new (tandemV1().Router)(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS) as typeof this.client;
    // Scrapes read the router's aggregate, refreshed in the background (never on the request path).
    this.timer = setInterval(() => this.refresh(), 1000);
    this.timer.unref();
    this.refresh();
  }

  private refresh(): void {
    this.client.Stats({}, (err: Error | null, s: Stats & { workers: number }) => {
      if (!err && s) this.last = { ...s };
    });
  }

  stats(): Stats {
    return this.last;
  }

  generate(req: GenerationRequest): RequestStream {
    const md = new grpc.Metadata();
    if (req.traceparent) md.set('traceparent', req.traceparent);
    const call = this.client.Generate(requestToPb(req), md, { deadline: Date.now() + this.requestTimeoutMs }) as grpc.ClientReadableStream<pb.TokenChunk>;
    let cancelledHere = false;
    const cancel = () => {
      cancelledHere = true;
      call.cancel();
    };
    const queue = new AsyncQueue<RequestOutput>(cancel);
    let finished = false;
    const fail = (error: string, errorCode: RequestOutput['errorCode']) => {
      if (!finished) {
        finished = true;
        queue.push({ requestId: req.id, tokens: [], finished: true, finishReason: 'error', promptTokens: req.promptTokenIds.length, completionTokens: 0, cachedPromptTokens: 0, error, errorCode });
      }
      queue.close();
    };
    const shutdown = (reason: string) => {
      fail(reason, 'unavailable');
      cancel();
    };
    this.inFlight.add(shutdown);
    const done = () => this.inFlight.delete(shutdown);
    call.on('data', (c: pb.TokenChunk) => {
      const o = outputFromPb(req.id, c);
      if (o.finished) finished = true;
      queue.push(o);
    });
    call.on('end', () => {
      done();
      queue.close();
    });
    call.on('error', (e: grpc.ServiceError) => {
      done();
      // CANCELLED is our own abort (the client went away) unless the stream had not finished and
      // nobody here cancelled it: then the far end dropped it, and the client must hear so.
      if (e.code === grpc.status.CANCELLED && (finished || cancelledHere)) return queue.close();
      const unavailable = e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.RESOURCE_EXHAUSTED;
      fail(e.details || e.message, unavailable || e.code === grpc.status.CANCELLED ? 'unavailable' : e.code === grpc.status.INVALID_ARGUMENT ? 'invalid' : e.code === grpc.status.DEADLINE_EXCEEDED ? 'timeout' : undefined);
    });
    return Object.assign(queue, { requestId: req.id, abort: cancel });
  }

  /** Requests still streaming from the router. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /**
   * Ends every in-flight request with an `unavailable` error (the client gets a 503 or an SSE
   * error event) and cancels its router call. Used by the gateway's shutdown past its grace period.
   */
  failInFlight(reason: string): void {
    for (const f of [...this.inFlight]) f(reason);
    this.inFlight.clear();
  }

  close(): void {
    this.failInFlight('the gateway is shutting down');
    clearInterval(this.timer);
    this.client.close();
  }
}
