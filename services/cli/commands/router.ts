import { POLICY_NAMES, type PolicyName } from '../../router/policies/index.js';
import { startRouter } from '../../router/start-router.js';
import { initTracing } from '../../common/telemetry/index.js';
import { CliError } from '../cli-error.js';
import { clusterName, intOption, parseCommandArgs } from '../parse.js';
import { exitSoon, shutdownGraceMs, trapShutdownSignals } from '../signals.js';
import { METRICS_ACCESS_HELP, METRICS_ACCESS_OPTIONS, metricsApiKeyOption, metricsHostOption } from '../metrics-access.js';
import { clusterKeysOption, GRPC_TLS_HELP, GRPC_TLS_OPTIONS, grpcTlsOption, SECURITY_HELP } from '../cluster-secret.js';

const HELP = `usage: tandem router [--nats URL] [--redis URL] [--host 127.0.0.1] [--port 0]
                     [--policy cost|prefix-aware|least-load|round-robin] [--local-prefill-below N]
                     [--cluster-name NAME] [--lease-ms 30000] [--metrics-port 0] [--metrics-host ADDR]
                     [--metrics-api-key-file FILE]
                     [--cluster-secret-file FILE | --insecure]
                     [--grpc-tls-cert FILE --grpc-tls-key FILE] [--grpc-tls-ca FILE]

The stage planner and dispatcher: watches the worker registry on NATS, records sequence state
in Redis, serves tandem.v1.Router over gRPC. --cluster-name (or TANDEM_CLUSTER) picks which
cluster's workers it sees when several share one NATS. --metrics-port serves /metrics and /health
(0 = a free port). Prints one JSON line {"role":"router","pid","grpc","metrics"}.

${METRICS_ACCESS_HELP}

${SECURITY_HELP}

${GRPC_TLS_HELP}`;

export async function runRouter(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    nats: { type: 'string' },
    redis: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    policy: { type: 'string' },
    'local-prefill-below': { type: 'string' },
    'cluster-name': { type: 'string' },
    'lease-ms': { type: 'string' },
    'metrics-port': { type: 'string' },
    'cluster-secret-file': { type: 'string' },
    insecure: { type: 'boolean' },
    ...GRPC_TLS_OPTIONS,
    ...METRICS_ACCESS_OPTIONS,
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const natsUrl = values.nats ?? process.env.TANDEM_NATS_URL;
  const redisUrl = values.redis ?? process.env.TANDEM_REDIS_URL;
  if (!natsUrl || !redisUrl) throw new CliError('--nats and --redis URLs (or TANDEM_NATS_URL / TANDEM_REDIS_URL) are required');
  const policy = (values.policy ?? 'cost') as PolicyName;
  if (!POLICY_NAMES.includes(policy)) throw new CliError(`--policy must be one of ${POLICY_NAMES.join(', ')}`);
  const log = (m: string) => process.stderr.write(m + '\n');
  const keys = clusterKeysOption({ secretFile: values['cluster-secret-file'], insecure: values.insecure }, 'tandem router', log);
  const grpcTls = grpcTlsOption(values, 'tandem router', true, log);
  const graceMs = shutdownGraceMs();
  const signals = trapShutdownSignals(log, graceMs);
  initTracing('tandem-router');
  const r = await startRouter({
    natsUrl,
    redisUrl,
    host: values.host,
    port: intOption(values.port, 'port', 0, 0),
    policy,
    localPrefillBelow: intOption(values['local-prefill-below'], 'local-prefill-below', 32, 0),
    cluster: clusterName(values['cluster-name']),
    // How long a decode worker holds blocks reserved for a prefill that never reports back.
    leaseMs: intOption(values['lease-ms'] ?? process.env.TANDEM_LEASE_MS, 'lease-ms', 30_000, 100),
    metricsPort: intOption(values['metrics-port'], 'metrics-port', 0, 0),
    metricsHost: metricsHostOption(values['metrics-host']),
    metricsApiKey: metricsApiKeyOption({ file: values['metrics-api-key-file'] }, log),
    keys,
    grpcTls,
  });
  console.log(JSON.stringify({ role: 'router', pid: process.pid, grpc: r.address, metrics: r.metricsUrl }));
  await signals.ready();
  const how = await r.close(graceMs);
  log(`[tandem] router stopped (${how})`);
  return exitSoon(0);
}
