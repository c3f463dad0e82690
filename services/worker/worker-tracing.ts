import * as grpc from '@grpc/grpc-js';
import { ATTR, endSpan, recordFinishedSpan, runInSpan, SPAN, SpanKind, startSpanFrom, tracingEnabled, type Span } from '../common/telemetry/index.js';
import type { ReserveReply } from '../protocol/registry.js';

/*
 * A worker's spans, around its gRPC handlers and KV handshake so worker-grpc.ts and
 * start-worker.ts need only one-line hooks:
 *   worker.prefill (SERVER) → kv.transfer     worker.decode / worker.generate (SERVER)
 *   worker.kv_reserve (SERVER, from the kv.reserve NATS header)
 * Each handler runs with its span active, so spans and traceparents made inside (kv.transfer,
 * the kv.ready header, later the vision stage's) are its children.
 */

interface Who {
  id: string;
  role: string;
  /** The engine's running count is sampled on every output of a decode (its batch size that step). */
  engine: { stats(): { running: number } };
}

type Handler = (call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>, cb?: grpc.sendUnaryData<unknown>) => unknown;

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

/** Wraps every handler but Health in a `worker.<rpc>` span continuing the router leg's traceparent. */
export function traceWorkerHandlers(handlers: grpc.UntypedServiceImplementation, who: Who): grpc.UntypedServiceImplementation {
  if (!tracingEnabled()) return handlers;
  const out: grpc.UntypedServiceImplementation = {};
  for (const [name, h] of Object.entries(handlers)) {
    out[name] = name === 'Health' ? h : traced(name, h as unknown as Handler, who);
  }
  return out;
}

function traced(name: string, handler: Handler, who: Who): Handler {
  return (call, cb) => {
    const req = requestOf(call.request);
    const span = startSpanFrom(SPAN.worker(lowerFirst(name)), call.metadata.get('traceparent')[0]?.toString(), {
      [ATTR.workerId]: who.id,
      [ATTR.workerRole]: who.role,
      ...(req ? { [ATTR.requestId]: req.requestId, [ATTR.promptTokens]: req.promptTokenIds?.length ?? 0 } : {}),
    });
    let ended = false;
    let failure: unknown;
    const end = () => {
      if (ended) return;
      ended = true;
      endSpan(span, failure);
    };
    // Before grpc-js's own error listener, which ends the call (and so the span) at once.
    call.prependListener('error', (e: unknown) => (failure = e));
    call.on('cancelled', () => {
      span.setAttribute('tandem.cancelled', true);
      end();
    });
    if (typeof cb === 'function') {
      // Unary (Prefill): the span ends with the reply.
      const reply: grpc.sendUnaryData<unknown> = (err, value, ...rest) => {
        if (err) failure = err;
        const v = value as { sentBytes?: number; backend?: string } | undefined;
        if (v?.sentBytes !== undefined) span.setAttributes({ [ATTR.kvBytes]: Number(v.sentBytes), [ATTR.kvBackend]: v.backend ?? '' });
        end();
        cb(err, value, ...rest);
      };
      return runInSpan(span, () => handler(call, reply));
    }
    // Server streaming (Decode, Generate): tokens and the engine's batch size at each output.
    observeStream(call as unknown as grpc.ServerWritableStream<unknown, unknown>, span, who, end);
    return runInSpan(span, () => handler(call));
  };
}

function requestOf(r: unknown): { requestId: string; promptTokenIds?: number[] } | undefined {
  const x = r as { requestId?: string; request?: { requestId?: string } } | undefined;
  if (typeof x?.requestId === 'string') return x as { requestId: string; promptTokenIds?: number[] };
  if (typeof x?.request?.requestId === 'string') return x.request as { requestId: string; promptTokenIds?: number[] };
  return undefined;
}

function observeStream(call: grpc.ServerWritableStream<unknown, unknown>, span: Span, who: Who, end: () => void): void {
  let steps = 0;
  let min = Infinity;
  let max = 0;
  let sum = 0;
  let tokens = 0;
  const write = call.write.bind(call) as (chunk: unknown, ...rest: unknown[]) => boolean;
  call.write = ((chunk: { completionTokens?: number; cachedPromptTokens?: number }, ...rest: unknown[]) => {
    const running = who.engine.stats().running;
    steps++;
    min = Math.min(min, running);
    max = Math.max(max, running);
    sum += running;
    tokens = Math.max(tokens, chunk?.completionTokens ?? 0);
    if (steps === 1 && chunk?.cachedPromptTokens !== undefined) span.setAttribute(ATTR.cachedTokens, chunk.cachedPromptTokens);
    return write(chunk, ...rest);
  }) as typeof call.write;
  const finish = call.end.bind(call) as (...a: unknown[]) => unknown;
  call.end = ((...a: unknown[]) => {
    span.setAttributes({ [ATTR.completionTokens]: tokens, [ATTR.steps]: steps, ...(steps > 0 ? { [ATTR.batchMin]: min, [ATTR.batchMax]: max, [ATTR.batchMean]: sum / steps } : {}) });
    end();
    return finish(...a);
  }) as typeof call.end;
}

/**
 * One KV push, as a `kv.transfer` span under the active prefill span: from its first put to now
 * (in layer-wise mode it overlaps the prefill, which is the point).
 */
export function traceKvTransfer(sent: { bytes: number; seconds: number; puts: number }, backend: string, layerwise: boolean, targetWorker: string): void {
  recordFinishedSpan(
    SPAN.kvTransfer,
    { [ATTR.kvBytes]: sent.bytes, [ATTR.kvBackend]: backend, [ATTR.kvSeconds]: sent.seconds, [ATTR.kvLayerwise]: layerwise, [ATTR.kvPuts]: sent.puts, [ATTR.kvTargetWorker]: targetWorker },
    performance.now() - sent.seconds * 1000,
    SpanKind.PRODUCER,
  );
}

/** Starts the decode worker's `worker.kv_reserve` span from the request's NATS headers (undefined when tracing is off). */
export function startReserveSpan(headers: Record<string, string> | undefined, workerId: string): Span | undefined {
  if (!tracingEnabled()) return undefined;
  return startSpanFrom(SPAN.workerKvReserve, headers?.traceparent, { [ATTR.workerId]: workerId });
}

/** Ends it with what was reserved (or why not). */
export function endReserveSpan(span: Span | undefined, reply: ReserveReply): void {
  if (!span) return;
  if ('error' in reply) return endSpan(span, reply.error);
  span.setAttributes({ [ATTR.kvBlocks]: reply.blockIds.length, [ATTR.cachedTokens]: reply.cachedTokens, [ATTR.leaseId]: reply.leaseId });
  span.end();
}
