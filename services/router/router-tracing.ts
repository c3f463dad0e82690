import * as grpc from '@grpc/grpc-js';
import type { Bus } from '../bus/index.js';
import { decodeJson } from '../bus/index.js';
import { ATTR, endSpan, outgoingTraceparent, runInSpan, SPAN, SpanKind, startChildSpan, startSpanFrom, tracingEnabled, type Span } from '../common/telemetry/index.js';
import type { ReserveReply } from '../protocol/registry.js';
import type { StagePlan } from './plan.js';
import type { RoutingPolicy, RoutingRequest } from './policies/index.js';
import type { WorkerClients } from './worker-clients.js';

/*
 * The router's spans, added around its collaborators rather than inside the request handler, so
 * router-service.ts only swaps childTraceparent for outgoingTraceparent and wraps planStages:
 *   router.generate (SERVER, from the gateway's traceparent)
 *     router.plan → router.select (one per policy choice)
 *     router.leg.kv_reserve (CLIENT, NATS)   router.leg.prefill / decode / generate (CLIENT, gRPC)
 * Each leg's own span ids go out in its traceparent, so the worker's spans are its children.
 * Everything here is installed only when tracing is on (start-router.ts).
 */

/** Wraps the Router service handlers: each Generate call runs inside a `router.generate` span. */
export function traceRouterHandlers(handlers: grpc.UntypedServiceImplementation): grpc.UntypedServiceImplementation {
  if (!tracingEnabled()) return handlers;
  const generate = handlers.Generate as (call: grpc.ServerWritableStream<{ requestId: string; promptTokenIds: number[] }, unknown>) => Promise<void>;
  return {
    ...handlers,
    Generate(call: grpc.ServerWritableStream<{ requestId: string; promptTokenIds: number[]; sampling?: { maxTokens?: number } }, unknown>) {
      const span = startSpanFrom(SPAN.routerGenerate, call.metadata.get('traceparent')[0]?.toString(), {
        [ATTR.requestId]: call.request.requestId,
        [ATTR.promptTokens]: call.request.promptTokenIds.length,
      });
      let failure: unknown;
      call.on('error', (e) => (failure = e));
      call.on('cancelled', () => span.setAttribute('tandem.cancelled', true));
      return runInSpan(span, () => generate(call)).finally(() => endSpan(span, failure));
    },
  };
}

/** Runs the planner inside a `router.plan` span and records what it decided. */
export function tracePlan(policy: string, plan: () => StagePlan): StagePlan {
  if (!tracingEnabled()) return plan();
  const span = startChildSpan(SPAN.routerPlan, { [ATTR.policy]: policy });
  let p: StagePlan;
  try {
    p = runInSpan(span, plan);
  } catch (e) {
    endSpan(span, e);
    throw e;
  }
  span.setAttribute(ATTR.planKind, p.kind);
  if (p.kind === 'single') span.setAttributes({ [ATTR.planReason]: p.reason, [ATTR.decodeWorker]: p.worker.id });
  if (p.kind === 'disaggregated') span.setAttributes({ [ATTR.decodeWorker]: p.decode.id, [ATTR.prefillWorkers]: p.prefillCandidates.map((w) => w.id) });
  endSpan(span, p.kind === 'none' ? p.reason : undefined);
  return p;
}

/** A routing policy whose every choice is a `router.select` span (candidates, chosen worker). */
export function tracedPolicy(policy: RoutingPolicy): RoutingPolicy {
  if (!tracingEnabled()) return policy;
  return {
    name: policy.name,
    select(workers, req: RoutingRequest) {
      const span = startChildSpan(SPAN.routerSelect, { [ATTR.policy]: policy.name, [ATTR.candidates]: workers.map((w) => w.id), 'tandem.worker.role': workers[0]?.role ?? '' });
      const chosen = policy.select(workers, req);
      span.setAttribute(ATTR.selected, chosen?.id ?? '');
      span.end();
      return chosen;
    },
  };
}

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

/**
 * Makes the worker clients' RPCs `router.leg.<rpc>` CLIENT spans. The service methods are the
 * PascalCase properties of a grpc-js client (its own helpers are camelCase), so new RPCs (e.g. the
 * vision stage's) are traced without changes here.
 */
export function tracedWorkerClients(clients: WorkerClients): WorkerClients {
  if (!tracingEnabled()) return clients;
  const get = clients.get.bind(clients);
  const proxies = new Map<string, ReturnType<WorkerClients['get']>>();
  clients.get = (address: string) => {
    const client = get(address);
    let p = proxies.get(address);
    if (!p) {
      p = new Proxy(client, {
        get(target, prop, receiver) {
          const v = Reflect.get(target, prop, receiver) as unknown;
          if (typeof prop !== 'string' || typeof v !== 'function' || !/^[A-Z]/.test(prop) || prop === 'Health') return v;
          return (...args: unknown[]) => tracedCall(prop, address, (v as (...a: unknown[]) => unknown).bind(target), args);
        },
      });
      proxies.set(address, p);
    }
    return p;
  };
  return clients;
}

function tracedCall(method: string, address: string, call: (...a: unknown[]) => unknown, args: unknown[]): unknown {
  const md = args.find((a): a is grpc.Metadata => a instanceof grpc.Metadata);
  if (!md) return call(...args);
  const span = startChildSpan(SPAN.routerLeg(lowerFirst(method)), { [ATTR.rpcMethod]: method, [ATTR.workerAddress]: address }, SpanKind.CLIENT);
  md.set('traceparent', outgoingTraceparent(undefined, span));
  const last = args.length - 1;
  if (typeof args[last] === 'function') {
    const cb = args[last] as (err: unknown, reply: unknown) => void;
    args[last] = (err: unknown, reply: { sentBytes?: number; backend?: string } | undefined) => {
      // The prefill reply says what moved: record it on the leg too.
      if (reply?.sentBytes !== undefined) span.setAttributes({ [ATTR.kvBytes]: Number(reply.sentBytes), [ATTR.kvBackend]: reply.backend ?? '' });
      cb(err, reply);
    };
  }
  const c = call(...args) as grpc.Call;
  c.on('status', (s: grpc.StatusObject) => {
    span.setAttribute(ATTR.grpcStatus, s.code);
    endSpan(span, s.code === grpc.status.OK ? undefined : `${grpc.status[s.code]}: ${s.details}`);
  });
  return c;
}

/** A bus whose request/reply calls are CLIENT spans (`router.leg.kv_reserve` for the KV handshake). */
export function tracedBus(bus: Bus): Bus {
  if (!tracingEnabled()) return bus;
  return new Proxy(bus, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (prop !== 'request') return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      return async (subject: string, data: Uint8Array, opts: { timeoutMs: number; headers?: Record<string, string> }) => {
        const reserve = subject.startsWith('tandem.v1.kv.reserve.');
        const span = startChildSpan(reserve ? SPAN.routerKvReserve : `router.leg.request`, { [ATTR.subject]: subject }, SpanKind.CLIENT);
        try {
          const reply = await target.request(subject, data, { ...opts, headers: { ...opts.headers, traceparent: outgoingTraceparent(undefined, span) } });
          if (reserve) recordReserve(span, decodeJson<ReserveReply>(reply.data));
          span.end();
          return reply;
        } catch (e) {
          endSpan(span, e);
          throw e;
        }
      };
    },
  });
}

function recordReserve(span: Span, r: ReserveReply): void {
  if ('error' in r) span.setAttribute('tandem.kv.reserve_error', r.error);
  else span.setAttributes({ [ATTR.kvBlocks]: r.blockIds.length, [ATTR.cachedTokens]: r.cachedTokens, [ATTR.leaseId]: r.leaseId });
}
