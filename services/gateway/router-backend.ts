import * as grpc from '@grpc/grpc-js';
import { AsyncQueue } from '../common/async-queue.js';
import { outputFromPb, requestToPb } from '../protocol/wire.js';
import { CHANNEL_OPTIONS } from '../common/grpc/grpc-server.js';
import { authenticatedClientOptions } from '../common/grpc/call-auth.js';
import { grpcChannelCredentials, grpcChannelOptions, type GrpcTls } from '../common/grpc/grpc-tls.js';
import { tandemV1 } from '../protocol/grpc-services.js';
import type { RequestStream } from '../protocol/request.js';
import type { GenerationRequest, RequestOutput } from '../protocol/request.js';
import type { GenerationBackend } from './backend.js';
import { DEFAULT_RESUME_POLICY, streamFromRouter, type ResumePolicy } from './router-stream.js';
import { RouterPool, type RouterClient } from './router-pool.js';

type Stats = ReturnType<GenerationBackend['stats']>;

/**
 * Reconnect quickly to a router that went away: grpc-js's default back-off (1 s growing to 120 s)
 * kept the gateway away from a restarted router for tens of seconds after an outage; retrying a
 * closed port every 250 ms at most costs nothing.
 */
const ROUTER_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  ...CHANNEL_OPTIONS,
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 250,
};

/**
 * The gateway's backend in cluster mode: a router's gRPC Generate stream, resumed on any of the
 * gateway's routers if that router is lost (router-pool.ts, router-stream.ts).
 */
export class RouterBackend implements GenerationBackend {
  private readonly routers: RouterPool;
  private last: Stats = { running: 0, waiting: 0, kvUsage: 0, prefixCacheHitRate: 0, numBlocks: 1, freeBlocks: 0, preemptions: 0 };
  private readonly timer: NodeJS.Timeout;
  /** In-flight Generate calls, so a shutdown can fail them cleanly (see failInFlight). */
  private readonly inFlight = new Set<(reason: string) => void>();
  /** Router.Resume calls made after losing the router mid-stream. */
  resumes = 0;

  /**
   * `requestTimeoutMs` becomes the gRPC deadline of every Generate call; the router hands the
   * same deadline to each worker leg, so nothing keeps computing for a caller that gave up.
   */
  constructor(
    /** One router address or several (each can take any request). */
    addresses: string | readonly string[],
    private readonly requestTimeoutMs = 10 * 60_000,
    private readonly resumePolicy: ResumePolicy = DEFAULT_RESUME_POLICY,
    /** Where resumes are reported (rare: a router was lost). */
    private readonly log?: (message: string) => void,
    /** The cluster's gRPC key: every call carries a call token (call-auth.ts); absent = insecure. */
    tokenKey?: Buffer,
    /** Dial the routers over TLS (grpc-tls.ts); absent = plaintext. */
    tls?: GrpcTls,
  ) {
    const options = authenticatedClientOptions(ROUTER_CHANNEL_OPTIONS, tokenKey);
    const list = typeof addresses === 'string' ? [addresses] : addresses;
    this.routers = new RouterPool(list.map((a) => new (tandemV1().Router)(a, grpcChannelCredentials(tls), grpcChannelOptions(tls, options)) as RouterClient));
    // Scrapes read the router's aggregate, refreshed in the background (never on the request path).
    this.timer = setInterval(() => this.refresh(), 1000);
    this.timer.unref();
    this.refresh();
  }

  private refresh(): void {
    // Every router sees the same workers: any connected one answers for the cluster.
    this.routers.pick().Stats({}, (err: Error | null, s: Stats & { workers: number }) => {
      if (!err && s) this.last = { ...s };
    });
  }

  stats(): Stats {
    return this.last;
  }

  generate(req: GenerationRequest): RequestStream {
    const md = new grpc.Metadata();
    if (req.traceparent) md.set('traceparent', req.traceparent);
    let cancelledHere = false;
    let cancelStream = () => {};
    const cancel = () => {
      cancelledHere = true;
      cancelStream();
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
    // A router lost mid-stream is answered with Router.Resume (router-stream.ts).
    cancelStream = streamFromRouter(this.routers, requestToPb(req), md, Date.now() + this.requestTimeoutMs, this.resumePolicy, {
      data: (c) => {
        const o = outputFromPb(req.id, c);
        if (o.finished) finished = true;
        queue.push(o);
      },
      end: () => {
        done();
        queue.close();
      },
      error: (e) => {
        done();
        // CANCELLED is our own abort (the client went away) unless the stream had not finished and
        // nobody here cancelled it: then the far end dropped it, and the client must hear so.
        if (e.code === grpc.status.CANCELLED && (finished || cancelledHere)) return queue.close();
        const unavailable = e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.RESOURCE_EXHAUSTED;
        fail(e.details || e.message, unavailable || e.code === grpc.status.CANCELLED ? 'unavailable' : e.code === grpc.status.INVALID_ARGUMENT ? 'invalid' : e.code === grpc.status.DEADLINE_EXCEEDED ? 'timeout' : undefined);
      },
      resuming: (n, delivered, lost) => {
        this.resumes++;
        this.log?.(`${req.id}: router call ended (${lost.code} ${lost.details}) after ${delivered} tokens; Resume #${n}`);
      },
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
    this.routers.close();
  }
}
