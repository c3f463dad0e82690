import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { createBus, decodeJson, encodeJson, type Bus } from '../bus/index.js';
import { startGrpcServer, tandemV1 } from '../common/grpc/load-proto.js';
import { bestAvailableBackend, createTransferEngine, type TransferEngine } from '../transfer/transfer-engine.js';
import { LeaseTable } from './leases.js';
import { BlockEventQueue } from '../engine/kv/block-events.js';
import {
  kvEventsSubject,
  registryBucket,
  REGISTRY_TTL_MS,
  readySubject,
  reserveSubject,
  type ReadyMessage,
  type ReserveReply,
  type ReserveRequest,
  type WorkerRecord,
  type WorkerRole,
} from './registry-record.js';
import type { KvPushMode } from './kv-push.js';
import { TransferMetrics } from './transfer-metrics.js';
import { startUnifiedWorker, type UnifiedWorkerOptions } from './unified-worker.js';
import { workerHandlers } from './worker-grpc.js';

export interface WorkerOptions extends UnifiedWorkerOptions {
  role: WorkerRole;
  id?: string;
  /** NATS URL; absent with `bus` given (in-process cluster) or for the in-memory bus. */
  natsUrl?: string;
  bus?: Bus;
  transfer?: TransferEngine;
  host?: string;
  grpcPort?: number;
  /** HTTP port for /metrics and /health (0 = ephemeral; undefined = none). */
  metricsPort?: number;
  /** Cluster name: which registry this worker joins (several clusters may share one NATS). */
  cluster?: string;
  /** When KV goes to the decode worker: layer by layer during the prefill (default) or after it. */
  kvPushMode?: KvPushMode;
}

export interface RunningWorker {
  id: string;
  role: WorkerRole;
  grpcAddress: string;
  metricsUrl?: string;
  close(): Promise<void>;
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
  const { engine, served } = await startUnifiedWorker({ ...o, onBlockEvent: blockEvents.push });
  const bus = o.bus ?? (await createBus(o.natsUrl));
  const transfer = o.transfer ?? (await createTransferEngine(bestAvailableBackend(), { host }));
  const decodes = o.role !== 'prefill-text';
  const region = decodes ? await transfer.registerRegion(`kv-${id}`, engine.runner.kv.buffer) : undefined;
  const leases = new LeaseTable((blocks) => engine.releaseBlocks(blocks));
  const transferMetrics = new TransferMetrics();

  const { server, port } = await startGrpcServer((s) => s.addService(tandemV1().Worker.service, workerHandlers({ id, role: o.role, engine, bus, transfer, leases, transferMetrics, kvPushMode: o.kvPushMode })), host, o.grpcPort ?? 0);
  const grpcAddress = `${host}:${port}`;

  const subs: Array<{ unsubscribe(): void }> = [];
  if (decodes) {
    const reserve = bus.subscribe(reserveSubject(id));
    subs.push(reserve);
    void (async () => {
      for await (const msg of reserve) {
        let reply: ReserveReply;
        try {
          const r = decodeJson<ReserveRequest>(msg.data);
          const got = engine.reserveBlocks(r.promptTokenIds, r.cacheSalt);
          reply = got ? { leaseId: leases.create(r.requestId, got.blocks, r.leaseMs), blockIds: got.blocks, cachedTokens: got.cachedTokens } : { error: 'no free KV blocks' };
        } catch (e) {
          reply = { error: (e as Error).message };
        }
        await bus.respond(msg, encodeJson(reply)).catch(() => undefined);
      }
    })();
    const ready = bus.subscribe(readySubject(id));
    subs.push(ready);
    void (async () => {
      for await (const msg of ready) {
        const r = decodeJson<ReadyMessage>(msg.data);
        if (r.ok) leases.markReady(r.leaseId);
        else leases.cancel(r.leaseId); // the push failed: its blocks go back now, not at lease expiry
      }
    })();
  }

  const registry = await bus.keyValue(registryBucket(o.cluster), { ttlMs: REGISTRY_TTL_MS });
  const startedAtMs = Date.now();
  const record = (): WorkerRecord => {
    const s = engine.stats();
    return { id, role: o.role, model: served.name, grpc: grpcAddress, region, layout: engine.runner.kv.layout, load: { running: s.running, waiting: s.waiting, kvUsage: s.kvUsage, freeBlocks: s.freeBlocks, preemptions: s.preemptions, prefixQueriedTokens: s.prefixCacheQueriedTokens, prefixHitTokens: s.prefixCacheHitTokens }, startedAtMs };
  };
  await registry.put(id, encodeJson(record()));
  const heartbeat = setInterval(() => void registry.put(id, encodeJson(record())).catch(() => undefined), 1000);
  // Prefix-cache events feed the router's prefix index (decode-capable workers: where KV stays).
  const eventsTimer = setInterval(() => {
    if (!decodes || blockEvents.length === 0) return;
    const events = blockEvents.drain();
    void bus.publish(kvEventsSubject(id), encodeJson({ workerId: id, events })).catch(() => undefined);
  }, 100);

  let metricsServer: Server | undefined;
  let metricsUrl: string | undefined;
  if (o.metricsPort !== undefined) {
    metricsServer = createServer(async (req, res) => {
      if (req.url === '/metrics') {
        const s = engine.stats();
        const gauges = [
          `# TYPE tandem_worker_kv_cache_usage_perc gauge\ntandem_worker_kv_cache_usage_perc{worker="${id}",role="${o.role}"} ${s.kvUsage}`,
          `# TYPE tandem_worker_num_requests_running gauge\ntandem_worker_num_requests_running{worker="${id}",role="${o.role}"} ${s.running}`,
          `# TYPE tandem_worker_kv_leases gauge\ntandem_worker_kv_leases{worker="${id}"} ${leases.size}`,
          `# HELP tandem_worker_kv_leases_expired_total KV reservations whose prefill never reported back; their blocks returned at lease expiry.`,
          `# TYPE tandem_worker_kv_leases_expired_total counter\ntandem_worker_kv_leases_expired_total{worker="${id}"} ${leases.expired}`,
        ].join('\n');
        res.setHeader('content-type', transferMetrics.registry.contentType);
        res.end(`${await transferMetrics.registry.metrics()}\n${gauges}\n`);
      } else if (req.url === '/health') res.end('{"status":"ok"}');
      else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((r) => metricsServer!.listen(o.metricsPort, host, r));
    metricsUrl = `http://${host}:${(metricsServer.address() as AddressInfo).port}/metrics`;
  }

  return {
    id,
    role: o.role,
    grpcAddress,
    metricsUrl,
    async close() {
      clearInterval(heartbeat);
      clearInterval(eventsTimer);
      for (const s of subs) s.unsubscribe();
      await registry.delete(id).catch(() => undefined);
      leases.cancelAll();
      await new Promise<void>((r) => server.tryShutdown(() => r()));
      metricsServer?.close();
      await engine.shutdown();
      await transfer.close();
      if (!o.bus) await bus.close();
    },
  };
}

