import { resolve } from 'node:path';
import { RouterBackend } from '../../gateway/router-backend.js';
import { DEFAULT_RESUME_POLICY } from '../../gateway/router-stream.js';
import { buildGateway } from '../../gateway/server.js';
import { initTracing } from '../../common/telemetry/index.js';
import { loadServedModel } from '../../gateway/served-model.js';
import { gatewayApiKeys } from '../api-keys.js';
import { clientTimeouts } from '../client-timeouts.js';
import { CliError } from '../cli-error.js';
import { DEFAULT_MODEL, ensureGeneratedModel } from '../ensure-model.js';
import { clusterName, intOption, parseCommandArgs } from '../parse.js';
import { openClusterAdmission } from '../cluster-admission.js';
import { drainOrForce, exitSoon, shutdownGraceMs, trapShutdownSignals } from '../signals.js';
import { metricsApiKeyOption } from '../metrics-access.js';
import { clusterKeysOption, GRPC_TLS_HELP, GRPC_TLS_OPTIONS, grpcTlsOption, SECURITY_HELP } from '../cluster-secret.js';

const HELP = `usage: tandem gateway --router HOST:PORT[,HOST:PORT...] [--model DIR] [--port 8000] [--host 127.0.0.1]
                      [--api-key KEY] [--api-keys-file FILE] [--metrics-api-key KEY | --metrics-api-key-file FILE]
                      [--served-model-name NAME] [--max-model-len N] [--max-num-seqs N] [--max-waiting N]
                      [--request-timeout-ms 600000] [--image-allowed-hosts HOST,HOST]
                      [--redis URL] [--cluster-name NAME]
                      [--cluster-secret-file FILE | --insecure]
                      [--grpc-tls-cert FILE --grpc-tls-key FILE] [--grpc-tls-ca FILE]

The OpenAI-compatible HTTP gateway in front of one router or several (TANDEM_ROUTER_ADDR; a
comma-separated list: new requests go round-robin to the connected ones). It loads only
the tokenizer, chat template and config of --model. --request-timeout-ms (or
TANDEM_REQUEST_TIMEOUT_MS) is the deadline of each request on the router and every worker leg;
a request past it gets a 408. When a router is lost mid-stream (killed, restarted), the first of
the routers to answer (another one, or the same one back) is asked to resume each of its in-flight
requests from the sequence store, for up to TANDEM_ROUTER_RESUME_MS (10000) per loss, so clients
see one uninterrupted stream. Images come as data: URLs; remote http(s) image URLs are fetched
only from the hosts in --image-allowed-hosts (or TANDEM_IMAGE_ALLOWED_HOSTS), never from private
or loopback addresses (see docs/image-input.md). With --redis (or TANDEM_REDIS_URL: the routers'
Redis) the --max-num-seqs + --max-waiting bound is shared by every gateway of the cluster
(--cluster-name, or TANDEM_CLUSTER) and model, so replicas together never admit more, and so are
the API keys' rpm= / concurrency= limits (a key gets them once across the cluster); without it,
or while Redis does not answer within 250 ms, each gateway counts only itself. /metrics and /ready answer only the metrics key when one is
set (--metrics-api-key-file FILE or TANDEM_METRICS_API_KEY_FILE; TANDEM_METRICS_API_KEY; or
--metrics-api-key KEY, which every local user sees in ps). Prints one JSON line {"role":"gateway","pid","url"}.

${SECURITY_HELP}

${GRPC_TLS_HELP}`;

export async function runGateway(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    router: { type: 'string' },
    model: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    'api-key': { type: 'string' },
    'api-keys-file': { type: 'string' },
    'max-num-seqs': { type: 'string' },
    'max-waiting': { type: 'string' },
    'metrics-api-key': { type: 'string' },
    'metrics-api-key-file': { type: 'string' },
    'served-model-name': { type: 'string' },
    'max-model-len': { type: 'string' },
    'request-timeout-ms': { type: 'string' },
    'image-allowed-hosts': { type: 'string' },
    redis: { type: 'string' },
    'cluster-name': { type: 'string' },
    'cluster-secret-file': { type: 'string' },
    insecure: { type: 'boolean' },
    ...GRPC_TLS_OPTIONS,
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const routers = (values.router ?? process.env.TANDEM_ROUTER_ADDR ?? '').split(',').map((a) => a.trim()).filter(Boolean);
  if (routers.length === 0) throw new CliError('--router HOST:PORT[,HOST:PORT...] (or TANDEM_ROUTER_ADDR) is required');
  const log = (m: string) => process.stderr.write(m + '\n');
  const keys = clusterKeysOption({ secretFile: values['cluster-secret-file'], insecure: values.insecure }, 'tandem gateway', log);
  const grpcTls = grpcTlsOption(values, 'tandem gateway', false, log);
  const graceMs = shutdownGraceMs();
  const signals = trapShutdownSignals(log, graceMs);
  const modelDir = values.model ? resolve(values.model) : await ensureGeneratedModel(DEFAULT_MODEL.family, DEFAULT_MODEL.size, 0, log);
  const served = await loadServedModel(modelDir, {
    name: values['served-model-name'] ?? (values.model ? undefined : DEFAULT_MODEL.name),
    maxModelLen: values['max-model-len'] === undefined ? undefined : intOption(values['max-model-len'], 'max-model-len', 0, 2),
  });
  initTracing('tandem-gateway');
  const backend = new RouterBackend(routers, intOption(values['request-timeout-ms'] ?? process.env.TANDEM_REQUEST_TIMEOUT_MS, 'request-timeout-ms', 600_000, 1), {
    ...DEFAULT_RESUME_POLICY,
    windowMs: intOption(process.env.TANDEM_ROUTER_RESUME_MS, 'router-resume-ms (TANDEM_ROUTER_RESUME_MS)', DEFAULT_RESUME_POLICY.windowMs, 0),
  }, (m) => process.stderr.write(m + '\n'), keys?.grpc, grpcTls);
  const apiKeys = gatewayApiKeys(values['api-key'] ?? process.env.TANDEM_API_KEY, values['api-keys-file'] ?? process.env.TANDEM_API_KEYS_FILE);
  const metricsApiKey = metricsApiKeyOption({ file: values['metrics-api-key-file'], flagValue: values['metrics-api-key'] }, log);
  const allowedHosts = (values['image-allowed-hosts'] ?? process.env.TANDEM_IMAGE_ALLOWED_HOSTS ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  const maxInFlight =
    intOption(values['max-num-seqs'] ?? process.env.TANDEM_MAX_NUM_SEQS, 'max-num-seqs', 64, 1) + intOption(values['max-waiting'] ?? process.env.TANDEM_MAX_WAITING, 'max-waiting', 1024, 1);
  const redisUrl = values.redis ?? process.env.TANDEM_REDIS_URL;
  const shared = redisUrl ? await openClusterAdmission(redisUrl, { cluster: clusterName(values['cluster-name']), model: served.name, limit: maxInFlight }, log) : undefined;
  const app = await buildGateway({ backend, model: served, apiKeys, metricsApiKey, maxInFlight, clusterAdmission: shared?.slots, clusterKeyLimits: shared?.keyLimits, ...clientTimeouts(), media: { remote: { allowedHosts } } });
  const address = await app.listen({ port: intOption(values.port, 'port', 8000, 0), host: values.host ?? '127.0.0.1' });
  console.log(JSON.stringify({ role: 'gateway', pid: process.pid, url: `${address}/v1`, metrics: `${address}/metrics`, model: served.name }));
  await signals.ready();
  // Stop listening at once (new connections are refused, idle keep-alive ones closed); requests
  // in flight get the grace period, then end with a 503 / an SSE error event.
  const how = await drainOrForce(app.close(), () => backend.failInFlight('the gateway is shutting down'), graceMs);
  if (how === 'forced') app.server.closeAllConnections();
  backend.close();
  await shared?.close();
  log(`[tandem] gateway stopped (${how})`);
  return exitSoon(0);
}
