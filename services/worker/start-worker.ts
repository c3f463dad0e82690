import { randomUUID } from 'node:crypto';

import { createBus, decodeJson, encodeJson, SealedBus, type Bus, type Rejection } from '../bus/index.js';
import { serverAuthInterceptor } from '../common/grpc/call-auth.js';
import { authRejections } from '../common/security/auth-metrics.js';
import type { ClusterKeys } from '../common/security/cluster-keys.js';
import { startGrpcServer } from '../common/grpc/grpc-server.js';
import type { GrpcTls } from '../common/grpc/grpc-tls.js';
import { tandemV1 } from '../protocol/grpc-services.js';
import { drainOrForce, InFlightCalls } from '../common/shutdown.js';
import { bestAvailableBackend, createTransferEngine, type RegionDescriptor, type TransferEngine } from '../transfer/transfer-engine.js';
import { startEmbeddingStage } from './embedding-stage.js';
import { registerEncoderCacheMetrics } from './encoder-cache-metrics.js';
import { LeaseTable } from './leases.js';
import { kvWriteGuard } from './kv-write-guard.js';
import type { KvLayout } from '../../kernels/ts/index.js';
import { PrefillRegistry } from './prefill-registry.js';
import { BlockEventQueue } from '../protocol/block-events.js';
import {
  kvEventsSubject,
  prefillAbortSubject,
  type PrefillAbortReply,
  type PrefillAbortRequest,
  registryBucket,
  REGISTRY_TTL_MS,
  readySubject,
  reserveSubject,
  type ReadyMessage,
  type ReserveReply,
  type ReserveRequest,
  type WorkerRecord,
  type WorkerRole,
} from '../protocol/registry.js';
import type { KvPushMode } from './kv-push.js';
import { startMetricsServer } from '../common/telemetry/index.js';
import { WorkerMetrics } from './worker-metrics.js';
import { endReserveSpan, startReserveSpan, traceWorkerHandlers } from './worker-tracing.js';
import { startUnifiedWorker, type UnifiedWorkerOptions } from './unified-worker.js';
import { checkQuantizationMatches } from './quantization-check.js';
import { workerHandlers } from './worker-grpc.js';

export interface WorkerOptions extends UnifiedWorkerOptions {
  role: WorkerRole;
  id?: string;
  /** NATS URL; absent with `bus` given (in-process cluster) or for the in-memory bus. */
  natsUrl?: string;
  bus?: Bus;
  transfer?: TransferEngine;
  /** Backend of the transfer engine made when `transfer` is not given: auto (default) = ucx when UCX opens here, else tcp. */
  transferBackend?: 'auto' | 'ucx' | 'tcp';
  host?: string;
  grpcPort?: number;
  /** HTTP port for /metrics and /health (0 = ephemeral; undefined = none). */
  metricsPort?: number;
  /** Address the metrics port binds (default: `host`). */
  metricsHost?: string;
  /** Bearer key /metrics requires (absent: open); /health stays open. */
  metricsApiKey?: string;
  /** Cluster name: which registry this worker joins (several clusters may share one NATS). */
  cluster?: string;
  /** When KV goes to the decode worker: layer by layer during the prefill (default) or after it. */
  kvPushMode?: KvPushMode;
  /**
   * The cluster's keys (docs/security.md): gRPC calls need a token, every bus payload is sealed,
   * TCP transfer peers must pass the handshake. Absent = an insecure worker (--insecure).
   */
  keys?: ClusterKeys;
  /** Serve gRPC over TLS (docs/security.md); absent = plaintext. */
  grpcTls?: GrpcTls;
}

export interface RunningWorker {
  id: string;
  role: WorkerRole;
  grpcAddress: string;
  metricsUrl?: string;
  /**
   * Stops the worker: it leaves the registry and refuses new calls at once; in-flight calls get
   * `graceMs` (default: unbounded) to finish, then end with UNAVAILABLE (the router retries a
   * prefill or migrates a decode elsewhere, or fails the request cleanly).
   */
  close(graceMs?: number): Promise<'drained' | 'forced'>;
}

/**
 * One worker process: the engine for its role, its gRPC Worker service, its registry record
 * (refreshed every second), the KV-reserve handler with leases (decode-capable roles), and the
 * transfer engine whose registered region is the KV pool.
 */
export async function startWorker(o: WorkerOptions): Promise<RunningWorker> {
  const id = o.id ?? `${o.role}-${randomUUID().slice(0, 8)}`;
  const host = o.host ?? '127.0.0.1';
  const blockEvents = new BlockEventQueue();
  // A Prefill-Vision worker runs the vision encoder only: a token KV pool is enough for its engine.
  const vision = o.role === 'prefill-vision';
  const decodes = o.role === 'decode-text' || o.role === 'unified';
  // Refusals are counted once the metrics registry exists (it needs the engine, made below).
  let refused: ReturnType<typeof authRejections> | undefined;
  const transfer = o.transfer ?? (await createTransferEngine(o.transferBackend === 'ucx' || o.transferBackend === 'tcp' ? o.transferBackend : bestAvailableBackend(), { host, authKey: o.keys?.transfer, onAuthRefused: (reason) => refused?.inc({ plane: 'transfer', reason }), onPutRefused: () => refused?.inc({ plane: 'transfer', reason: 'not_granted' }) }));
  // Decode-capable roles: the transfer engine allocates (and registers) the KV pool, which is what
  // gives same-host UCX puts their shared-memory path (ADR 0009).
  let region: RegionDescriptor | undefined;
  // Puts into the pool must name a live lease and stay inside its blocks, on every backend (ucx:
  // a guarded pool takes checked puts only, ADR 0020). Both are made below, before any put.
  let guardLeases: LeaseTable | undefined;
  let kvLayout: KvLayout | undefined;
  const guard = kvWriteGuard(() => kvLayout, (leaseId) => guardLeases?.writableBlocks(leaseId));
  const allocateKv = decodes
    ? async (bytes: number) => {
        const r = await transfer.allocateRegion(`kv-${id}`, bytes, { guard });
        region = r.descriptor;
        return r.buffer;
      }
    : undefined;
  const { engine, card, encoder } = await startUnifiedWorker({ ...o, ...(vision ? { numKvBlocks: 16 } : {}), allocateKv, onBlockEvent: blockEvents.push });
  if (vision && !encoder) throw new Error(`--role prefill-vision needs a vision-language model; ${o.modelDir} is text-only`);
  // The role names its NATS credentials and reply inbox (subject permissions, deploy/nats/).
  const plainBus = o.bus ?? (await createBus(o.natsUrl, { component: o.role }));
  const onReject = (r: Rejection) => refused?.inc({ plane: r.kind === 'record' ? 'registry' : 'message', reason: r.reason });
  const bus: Bus = o.keys ? new SealedBus(plainBus, o.keys.bus, onReject) : plainBus;
  const registry = await bus.keyValue(registryBucket(o.cluster), { ttlMs: REGISTRY_TTL_MS });
  const quantization = engine.runner.quantization;
  const quantRotation = engine.runner.quantRotation;
  const quantLayout = engine.runner.quantLayout;
  try {
    await checkQuantizationMatches(registry, { id, role: o.role, model: card.name, quantization, quantRotation, ...(quantLayout ? { quantLayout } : {}) });
  } catch (e) {
    // Nothing may keep the process alive after a refused start.
    await engine.shutdown();
    await transfer.close();
    if (!o.bus) await bus.close();
    throw e;
  }
  kvLayout = engine.runner.kv.layout;
  const leases = new LeaseTable((blocks) => engine.releaseBlocks(blocks));
  guardLeases = leases;
  const prefills = new PrefillRegistry();
  const embeddings = encoder && o.role === 'prefill-text' ? await startEmbeddingStage({ id, bus, transfer, encoder }) : undefined;
  const metrics = new WorkerMetrics({ id, role: o.role, engine, leases });
  const transferMetrics = metrics.transfer;
  if (encoder) registerEncoderCacheMetrics(metrics, encoder.cache);
  refused = authRejections(metrics.registry);
  const interceptors = o.keys ? [serverAuthInterceptor(o.keys.grpc, (_method, reason) => refused?.inc({ plane: 'grpc', reason }))] : [];

  const calls = new InFlightCalls();
  const { server, port } = await startGrpcServer((s) => s.addService(tandemV1().Worker.service, calls.wrap(traceWorkerHandlers(workerHandlers({ id, role: o.role, engine, bus, transfer, leases, transferMetrics, kvPushMode: o.kvPushMode, encoder, embeddingInbox: embeddings?.inbox, prefills }), { id, role: o.role, engine }))), host, o.grpcPort ?? 0, interceptors, o.grpcTls);
  const grpcAddress = `${host}:${port}`;

  const subs: Array<{ unsubscribe(): void }> = [];
  if (o.role === 'prefill-text' || o.role === 'unified') {
    const abort = bus.subscribe(prefillAbortSubject(id));
    subs.push(abort);
    void (async () => {
      for await (const msg of abort) {
        const r = decodeJson<PrefillAbortRequest>(msg.data);
        const reply: PrefillAbortReply = { running: prefills.abort(r.requestId) };
        await bus.respond(msg, encodeJson(reply)).catch(() => undefined);
      }
    })();
  }
  if (decodes) {
    const reserve = bus.subscribe(reserveSubject(id));
    subs.push(reserve);
    void (async () => {
      for await (const msg of reserve) {
        const span = startReserveSpan(msg.headers, id);
        let reply: ReserveReply;
        try {
          const r = decodeJson<ReserveRequest>(msg.data);
          const got = engine.reserveBlocks(r.cacheKeyTokens, r.cacheSalt);
          const cachedBlocks = got ? Math.floor(got.cachedTokens / engine.runner.kv.layout.blockSize) : 0;
          reply = got ? { leaseId: leases.create(r.requestId, got.blocks, r.leaseMs, cachedBlocks), blockIds: got.blocks, cachedTokens: got.cachedTokens } : { error: 'no free KV blocks' };
        } catch (e) {
          reply = { error: (e as Error).message };
        }
        endReserveSpan(span, reply);
        await bus.respond(msg, encodeJson(reply)).catch(() => undefined);
      }
    })();
    const ready = bus.subscribe(readySubject(id));
    subs.push(ready);
    void (async () => {
      for await (const msg of ready) {
        const r = decodeJson<ReadyMessage>(msg.data);
        // A failed push frees its blocks now, not at lease expiry; after a successful one the
        // lease waits for the Decode call that names it.
        if (!r.ok) leases.cancel(r.leaseId);
      }
    })();
  }

  const startedAtMs = Date.now();
  const record = (): WorkerRecord => {
    const s = engine.stats();
    return { id, role: o.role, model: card.name, grpc: grpcAddress, region, ...(embeddings ? { embRegion: embeddings.region } : {}), layout: engine.runner.kv.layout, load: { running: s.running, waiting: s.waiting, kvUsage: s.kvUsage, freeBlocks: s.freeBlocks, preemptions: s.preemptions, prefixQueriedTokens: s.prefixCacheQueriedTokens, prefixHitTokens: s.prefixCacheHitTokens }, startedAtMs, isa: engine.runner.isa, ...(quantization !== 'none' ? { quantization } : {}), ...(quantRotation !== 'none' ? { quantRotation } : {}), ...(quantLayout ? { quantLayout } : {}) };
  };
  await registry.put(id, encodeJson(record()));
  const heartbeat = setInterval(() => void registry.put(id, encodeJson(record())).catch(() => undefined), 1000);
  // Prefix-cache events feed the router's prefix index (decode-capable workers: where KV stays).
  const eventsTimer = setInterval(() => {
    if (!decodes || blockEvents.length === 0) return;
    const events = blockEvents.drain();
    void bus.publish(kvEventsSubject(id), encodeJson({ workerId: id, events })).catch(() => undefined);
  }, 100);

  const metricsHttp = o.metricsPort === undefined ? undefined : await startMetricsServer(metrics.registry, o.metricsHost ?? host, o.metricsPort, { apiKey: o.metricsApiKey });
  const metricsUrl = metricsHttp?.url;

  return {
    id,
    role: o.role,
    grpcAddress,
    metricsUrl,
    async close(graceMs = Infinity) {
      clearInterval(heartbeat);
      clearInterval(eventsTimer);
      await registry.delete(id).catch(() => undefined);
      const drained = new Promise<void>((r) => server.tryShutdown(() => r()));
      const how = await drainOrForce(drained, () => calls.failAll(`worker ${id} is shutting down`), graceMs);
      if (how === 'forced') server.forceShutdown();
      for (const s of subs) s.unsubscribe();
      embeddings?.close();
      leases.cancelAll();
      await metricsHttp?.close();
      await engine.shutdown();
      await transfer.close();
      if (!o.bus) await bus.close();
      return how;
    },
  };
}

