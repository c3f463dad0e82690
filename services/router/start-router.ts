import { createBus, SealedBus, type Bus } from '../bus/index.js';
import { serverAuthInterceptor } from '../common/grpc/call-auth.js';
import { authRejections } from '../common/security/auth-metrics.js';
import type { ClusterKeys } from '../common/security/cluster-keys.js';
import { drainOrForce, InFlightCalls } from '../common/shutdown.js';
import { OrphanSweeper } from './orphan-sweeper.js';
import { startGrpcServer } from '../common/grpc/grpc-server.js';
import type { GrpcTls } from '../common/grpc/grpc-tls.js';
import { tandemV1 } from '../protocol/grpc-services.js';
import { createSequenceStore, type SequenceStore } from '../state/index.js';
import { startMetricsServer } from '../common/telemetry/index.js';
import { createPolicy, type PolicyName } from './policies/index.js';
import { PrefixIndex } from './prefix-index.js';
import { RegistryView } from './registry-view.js';
import { routerHandlers, type RouterDeps } from './router-service.js';
import { RouterMetrics, trackForgottenWorkers } from './router-metrics.js';
import { tracedBus, tracedPolicy, traceRouterHandlers, tracedWorkerClients } from './router-tracing.js';
import { WorkerClients } from './worker-clients.js';

export interface RouterOptions {
  natsUrl?: string;
  redisUrl?: string;
  bus?: Bus;
  store?: SequenceStore;
  host?: string;
  port?: number;
  policy?: PolicyName;
  /** Prompts shorter than this prefill on the decode worker (default 32 tokens). */
  localPrefillBelow?: number;
  leaseMs?: number;
  /** Cluster name: whose worker registry to watch (see registryBucket). */
  cluster?: string;
  /** HTTP port for /metrics and /health (0 = ephemeral; undefined = none). */
  metricsPort?: number;
  /** Address the metrics port binds (default: `host`). */
  metricsHost?: string;
  /** Bearer key /metrics requires (absent: open); /health stays open. */
  metricsApiKey?: string;
  /**
   * The cluster's keys (docs/security.md): callers need a token, worker calls carry one, bus
   * payloads and registry records are sealed. Absent = an insecure router (--insecure).
   */
  keys?: ClusterKeys;
  /** Serve, and dial workers, over TLS (docs/security.md); absent = plaintext gRPC. */
  grpcTls?: GrpcTls;
}

export interface RunningRouter {
  address: string;
  metricsUrl?: string;
  counters: RouterDeps['counters'];
  /**
   * Stops serving: in-flight Generate streams get `graceMs` (default: unbounded) to finish, then
   * fail with UNAVAILABLE at the gateway; then the registry watch, clients, store and bus close.
   */
  close(graceMs?: number): Promise<'drained' | 'forced'>;
}

export async function startRouter(o: RouterOptions): Promise<RunningRouter> {
  // 'router': its NATS user and reply inbox (TANDEM_NATS_USER={component}, deploy/nats).
  const plainBus = o.bus ?? (await createBus(o.natsUrl, { component: 'router' }));
  // Forged, unsigned or stale records and messages are dropped by the sealed bus and counted
  // here once the metrics registry exists (it needs the registry view, which needs the bus).
  let refused: ReturnType<typeof authRejections> | undefined;
  const bus: Bus = o.keys ? new SealedBus(plainBus, o.keys.bus, (r) => refused?.inc({ plane: r.kind === 'record' ? 'registry' : 'message', reason: r.reason })) : plainBus;
  // With the cluster's keys, prompts and tokens are encrypted before they reach Redis.
  // Checkpointed tokens whose tags fail (changed in Redis) are dropped from a read and counted;
  // a record whose fields' tag fails is refused (not resumable) and counted.
  let onTamper: ((kind: 'tokens' | 'record') => void) | undefined;
  const store = o.store ?? (await createSequenceStore(o.redisUrl, { atRestKey: o.keys?.state, onTamper: (_id, _what, kind) => onTamper?.(kind) }));
  const view = await RegistryView.start(bus, o.cluster);
  const prefixIndex = PrefixIndex.start(bus);
  const clients = tracedWorkerClients(new WorkerClients(o.keys?.grpc, o.grpcTls));
  const counters = { disaggregated: 0, localPrefill: 0, unified: 0, prefillRetries: 0, inFlight: 0 };
  const policyName = o.policy ?? 'cost';
  const metrics = new RouterMetrics(counters, view, policyName);
  refused = authRejections(metrics.registry);
  onTamper = (kind) => refused?.inc({ plane: 'state', reason: kind === 'record' ? 'bad_record_tag' : 'bad_tag' });
  trackForgottenWorkers(view, metrics);
  const deps: RouterDeps = {
    bus: tracedBus(bus),
    store,
    view,
    clients,
    policy: tracedPolicy(createPolicy(policyName, prefixIndex)),
    plan: { localPrefillBelow: o.localPrefillBelow ?? 32, prefillSaturation: 64 },
    leaseMs: o.leaseMs ?? 30_000,
    counters,
    onStoreError: (op) => metrics.storeErrors.inc({ op: op.includes('→') ? 'transition' : op }),
  };
  const sweeper = new OrphanSweeper(store, { onSwept: (n) => metrics.orphansSwept.inc(n), onError: () => metrics.storeErrors.inc({ op: 'sweep' }) });
  const host = o.host ?? '127.0.0.1';
  const interceptors = o.keys ? [serverAuthInterceptor(o.keys.grpc, (_method, reason) => refused?.inc({ plane: 'grpc', reason }))] : [];
  const calls = new InFlightCalls();
  const { server, port } = await startGrpcServer((s) => s.addService(tandemV1().Router.service, calls.wrap(traceRouterHandlers(routerHandlers(deps)))), host, o.port ?? 0, interceptors, o.grpcTls);
  const metricsHttp = o.metricsPort === undefined ? undefined : await startMetricsServer(metrics.registry, o.metricsHost ?? host, o.metricsPort, { apiKey: o.metricsApiKey });
  return {
    address: `${host}:${port}`,
    metricsUrl: metricsHttp?.url,
    counters,
    async close(graceMs = Infinity) {
      // New calls are refused at once; the registry view stays up so in-flight requests can still
      // retry a prefill or migrate a decode while they drain.
      const drained = new Promise<void>((r) => server.tryShutdown(() => r()));
      const how = await drainOrForce(drained, () => calls.failAll('the router is shutting down'), graceMs);
      if (how === 'forced') server.forceShutdown();
      await metricsHttp?.close();
      sweeper.stop();
      view.stop();
      prefixIndex.stop();
      clients.close();
      if (!o.store) await store.close();
      if (!o.bus) await bus.close();
      return how;
    },
  };
}
