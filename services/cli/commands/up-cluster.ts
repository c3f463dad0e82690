import { readModelCard } from '../../protocol/model-card.js';
import { spawnTandem, stopAll, type ClusterProcess } from '../cluster.js';
import { supervise, type Supervised } from '../supervise.js';
import { trapShutdownSignals } from '../signals.js';
import { clusterKeysOption, generatedSecretFile, GRPC_TLS_ENV, grpcTlsFiles, SECRET_FILE_ENV } from '../cluster-secret.js';
import { clusterTls } from '../cluster-tls.js';
import { METRICS_ENV } from '../metrics-access.js';

export interface ClusterUpOptions {
  natsUrl: string;
  redisUrl: string;
  modelDir: string;
  servedModelName?: string;
  prefill: number;
  /** Prefill-Vision workers (default: 1 for a vision-language model, else 0). */
  vision?: number;
  decode: number;
  /** Routers behind the gateway (default 1); each can take and resume any request. */
  routers?: number;
  /** The gateway keeps its admission bound in Redis, shared with other gateways of the cluster. */
  sharedAdmission?: boolean;
  port: number;
  host: string;
  apiKey?: string;
  apiKeysFile?: string;
  /** Forwarded to the gateway's admission bound (workers get --max-num-seqs in extraWorkerArgs). */
  maxNumSeqs: number;
  maxWaiting: number;
  /** The key /metrics (and the gateway's /ready) need on every process (absent: open). */
  metricsApiKey?: string;
  /** Where that key came from, when from a file: the children get the path, not the key. */
  metricsApiKeyFile?: string;
  /** Address the router's and workers' /metrics ports bind (default 127.0.0.1). */
  metricsHost?: string;
  extraWorkerArgs: string[];
  clusterName?: string;
  /** The cluster secret to share (absent: a fresh one is generated for this run). */
  secretFile?: string;
  /** Run every component unauthenticated (each warns loudly). */
  insecure?: boolean;
}

/**
 * `tandem up --cluster`: router, prefill-text and decode-text workers and the gateway as separate
 * processes against real NATS and Redis; prints each with its role, pid and /metrics URL.
 */
export async function runClusterUp(o: ClusterUpOptions): Promise<number> {
  const log = (m: string) => process.stderr.write(m + '\n');
  // Children stop on their own signal within their grace period; this process only waits.
  const signals = trapShutdownSignals(log);
  const procs: ClusterProcess[] = [];
  const specs = new Map<ClusterProcess, { args: string[]; env?: Record<string, string> }>();
  let supervisor: Supervised | undefined;
  // Check a given secret now (one clear error instead of every child failing the same way).
  if (o.secretFile !== undefined || o.insecure) clusterKeysOption({ secretFile: o.secretFile, insecure: o.insecure }, 'tandem up --cluster', log);
  const generated = o.insecure || o.secretFile !== undefined ? undefined : generatedSecretFile(o.clusterName);
  // gRPC TLS: the files given in TANDEM_GRPC_TLS_*, else a throw-away CA and certificate for this
  // run (when openssl is here), else call tokens alone; none with --insecure.
  const tls = o.insecure ? undefined : clusterTls(grpcTlsFiles({}), o.clusterName, log);
  // What every child gets through its environment, never its command line (ps shows argv to
  // every user): the NATS and Redis URLs, which may hold credentials, and the PATH of the secret.
  const env: Record<string, string> = {
    TANDEM_NATS_URL: o.natsUrl,
    TANDEM_REDIS_URL: o.redisUrl,
    [SECRET_FILE_ENV]: o.insecure ? '' : (o.secretFile ?? generated!.path),
    TANDEM_INSECURE: '',
    [GRPC_TLS_ENV.cert]: tls?.files.cert ?? '',
    [GRPC_TLS_ENV.key]: tls?.files.key ?? '',
    [GRPC_TLS_ENV.ca]: tls?.files.ca ?? '',
    [GRPC_TLS_ENV.serverName]: tls?.files.serverName ?? '',
    ...metricsAccess(o),
  };
  const insecure = o.insecure ? ['--insecure'] : [];
  const name = o.servedModelName ? ['--served-model-name', o.servedModelName] : [];
  const cluster = o.clusterName ? ['--cluster-name', o.clusterName] : [];
  try {
    const routerArgs = ['router', ...cluster, ...insecure];
    const routerCount = o.routers ?? 1;
    const routers = await Promise.all(Array.from({ length: routerCount }, (_, i) => spawnTandem(routerCount === 1 ? 'router' : `router-${i}`, routerArgs, log, undefined, env)));
    procs.push(...routers);
    // A restarted router must come back where the gateway dials it.
    for (const r of routers) specs.set(r, { args: [...routerArgs, '--port', String(r.ready.grpc).split(':').pop()!], env });
    const isVl = (await readModelCard(o.modelDir)).takesImages;
    const workers = [
      ...Array.from({ length: o.vision ?? (isVl ? 1 : 0) }, (_, i) => ['prefill-vision', i] as const),
      ...Array.from({ length: o.prefill }, (_, i) => ['prefill-text', i] as const),
      ...Array.from({ length: o.decode }, (_, i) => ['decode-text', i] as const),
    ];
    const workerArgs = (role: string) => ['worker', '--role', role, '--model', o.modelDir, ...name, ...cluster, ...insecure, ...o.extraWorkerArgs];
    const started = await Promise.all(workers.map(([role, i]) => spawnTandem(`${role}-${i}`, workerArgs(role), log, undefined, env)));
    started.forEach((w, i) => specs.set(w, { args: workerArgs(workers[i]![0]), env }));
    procs.push(...started);
    const gatewayArgs = ['gateway', '--router', routers.map((r) => String(r.ready.grpc)).join(','), '--model', o.modelDir, '--host', o.host, ...name, ...cluster, ...insecure, '--max-num-seqs', String(o.maxNumSeqs), '--max-waiting', String(o.maxWaiting)];
    // One gateway needs no shared count; --shared-admission shares it with gateways started apart.
    const gatewayEnv = { ...env, ...gatewayCredentials(o), ...(o.sharedAdmission ? {} : { TANDEM_REDIS_URL: '' }) };
    const gw = await spawnTandem('gateway', [...gatewayArgs, '--port', String(o.port)], log, undefined, gatewayEnv);
    procs.push(gw);
    specs.set(gw, { args: [...gatewayArgs, '--port', new URL(String(gw.ready.url)).port], env: gatewayEnv });
    // Give the router a heartbeat to see every worker before announcing the URL.
    await new Promise((r) => setTimeout(r, 1200));
    for (const p of procs) {
      const r = p.ready;
      const id = r.id ? `id ${String(r.id)}  ` : '';
      const grpc = r.metrics && r.grpc ? `  grpc ${String(r.grpc)}` : '';
      console.log(`  ${p.role.padEnd(16)} pid ${String(p.proc.pid).padEnd(8)} ${id}${String(r.metrics ?? r.grpc ?? '')}${grpc}`);
    }
    const url = String(gw.ready.url);
    console.log(`Tandem cluster is serving ${String(gw.ready.model)} at ${url}  (Ctrl-C to stop)`);
    console.log(`  curl ${url}/chat/completions -H 'Content-Type: application/json' -d '{"model":"${String(gw.ready.model)}","messages":[{"role":"user","content":"Hello!"}],"max_tokens":32}'`);
    // A process that dies is restarted (the router meanwhile routes around a lost worker, retries
    // its prefills and migrates its decodes).
    supervisor = supervise(procs, specs, log);
    const why = await signals.ready();
    log(`[tandem] stopping the cluster (${why})`);
  } finally {
    supervisor?.stop();
    await stopAll(supervisor?.procs ?? procs);
    generated?.remove();
    tls?.remove();
  }
  return 0;
}

/** The gateway's keys, handed over in its environment rather than on its command line. */
function gatewayCredentials(o: ClusterUpOptions): Record<string, string> {
  return {
    ...(o.apiKey ? { TANDEM_API_KEY: o.apiKey } : {}),
    ...(o.apiKeysFile ? { TANDEM_API_KEYS_FILE: o.apiKeysFile } : {}),
  };
}

/**
 * Every child's metrics access: the bind address of the router's and workers' metrics ports and
 * the metrics key — the path of its file when it came from one, else the key itself — in the
 * environment, never on a command line. Set empty otherwise, so nothing inherited applies.
 */
function metricsAccess(o: ClusterUpOptions): Record<string, string> {
  return {
    [METRICS_ENV.host]: o.metricsHost ?? '127.0.0.1',
    [METRICS_ENV.keyFile]: o.metricsApiKeyFile ?? '',
    [METRICS_ENV.key]: o.metricsApiKeyFile ? '' : (o.metricsApiKey ?? ''),
  };
}
