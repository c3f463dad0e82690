import { loadModelVocabulary } from '../model-vocabulary.js';
import { loadServedModel } from '../../gateway/served-model.js';
import { resolve } from 'node:path';
import { buildGateway } from '../../gateway/server.js';
import { initTracing } from '../../common/telemetry/index.js';
import { startUnifiedWorker } from '../../worker/unified-worker.js';
import { gatewayApiKeys } from '../api-keys.js';
import { clientTimeouts } from '../client-timeouts.js';
import { CliError } from '../cli-error.js';
import { DEFAULT_MODEL, ensureGeneratedModel } from '../ensure-model.js';
import { clusterName, intOption, parseCommandArgs, quantizationOption, transferBackendOption } from '../parse.js';
import { loadConfigFile } from '../config-file.js';
import { METRICS_ENV, metricsApiKeyOption } from '../metrics-access.js';
import { runClusterUp } from './up-cluster.js';
import { startInProcessDisagg } from './up-disagg.js';

const HELP = `usage: tandem up [--model DIR] [--port 8000] [--host 127.0.0.1] [--api-key KEY]
                 [--api-keys-file FILE] [--metrics-api-key KEY | --metrics-api-key-file FILE]
                 [--max-num-seqs N] [--max-model-len N] [--served-model-name NAME]
                 [--num-kv-blocks N] [--max-batch-tokens N] [--max-waiting N] [--config FILE]
                 [--mode disagg|unified] [--quantization none|wint8|wint4]
       tandem up --cluster [--nats URL] [--redis URL] [--prefill-text N] [--decode-text M] [--prefill-vision V]
                 [--routers R] [--cluster-name NAME] [--cluster-secret-file FILE | --insecure]
                 [--metrics-host 127.0.0.1] [--transfer-backend auto|ucx|tcp] [...]

Starts a local Tandem in one process: by default disaggregated (a prefill-text and a
decode-text worker, plus a prefill-vision worker for a vision-language model, the router and
the gateway, with an in-memory bus and state store and in-process KV / embedding transfer);
--mode unified runs one worker doing every stage instead. With no --model it generates (once,
cached) a tiny random-weight ERNIE-4.5-VL checkpoint, so it needs nothing but Node and shows
the whole image → prefill → decode path. Serves until Ctrl-C.

--cluster starts a multi-process cluster instead: R routers (default 1; the gateway spreads
requests over them and resumes a lost one's streams on another), N prefill-text and M decode-text
workers (default 1 and 1), V prefill-vision workers (default 1 for a vision-language model,
else 0) and the gateway, against real NATS and Redis (--nats / --redis or
TANDEM_NATS_URL / TANDEM_REDIS_URL; default the local ones), and prints each process with its
role, pid and /metrics URL. --shared-admission makes its gateway keep the admission bound in
Redis, shared with any other gateway you start for the same cluster (one gateway alone does not
need it). --cluster-name (or TANDEM_CLUSTER) keeps its workers apart from
other clusters on the same NATS. The cluster is authenticated: a fresh secret (32 random bytes,
a mode-0600 file under $TANDEM_HOME/clusters/, removed at exit) or --cluster-secret-file FILE
(TANDEM_CLUSTER_SECRET_FILE) keys gRPC call tokens, sealed NATS payloads and the TLS of TCP KV
transfers; gRPC runs over mutual TLS with a throw-away CA and certificate made for the run with
openssl (or the files in TANDEM_GRPC_TLS_CERT / _KEY / _CA; without openssl, tokens only);
children get the files' paths, the NATS and Redis URLs through their environment, never on
their command lines. --insecure turns all that off (docs/security.md). The router's and
workers' /metrics ports bind --metrics-host (TANDEM_METRICS_HOST; default 127.0.0.1) and, with a
metrics key, answer /metrics only with it, as the gateway does /metrics and /ready (the children
get the key file's path, or the key, in their environment).

--transfer-backend auto|ucx|tcp chooses how the workers move KV and embeddings: auto (default)
is UCX where it opens, else tcp; tcp is encrypted with the cluster's transfer key and UCX is not
(both check every put against the receiver's lease), so pick tcp where the network between
workers is not trusted (docs/security.md).

--quantization wint8|wint4 quantizes every linear layer of the text model at load (FastDeploy's
names: int8 with one scale per output channel, int4 in groups of 128; the embedding table stays
bf16); it is faster and takes a half or a quarter of the weight memory, at a small cost in
accuracy (docs/quantization.md). Every worker of the cluster uses the same setting.

API keys: --api-key KEY is one key (tenant "default"); --api-keys-file FILE has one key per
line, "KEY TENANT [share-prefix-cache] [rpm=N] [concurrency=N]" (rpm and concurrency: that key's
own requests per minute and choices at once; over them it gets 429 with Retry-After; with
--cluster --shared-admission they hold across every gateway of the cluster). Prefix caches are kept per tenant (a tenant's cached
prompts never show in another's cached_tokens) unless both keys say share-prefix-cache; a
request's cache_salt splits them further. --metrics-api-key-file FILE (a file holding the key;
or --metrics-api-key KEY, which every local user sees in ps) puts /metrics and /ready behind
their own key (/health stays open).

Every flag has an environment equivalent (TANDEM_MODEL, TANDEM_PORT, TANDEM_HOST,
TANDEM_API_KEY, TANDEM_API_KEYS_FILE, TANDEM_METRICS_API_KEY, TANDEM_METRICS_API_KEY_FILE, TANDEM_METRICS_HOST, TANDEM_MAX_NUM_SEQS, TANDEM_MAX_MODEL_LEN, TANDEM_SERVED_MODEL_NAME,
TANDEM_NUM_KV_BLOCKS, TANDEM_MAX_BATCH_TOKENS, TANDEM_MAX_WAITING, TANDEM_MODE, TANDEM_QUANTIZATION) and a key in a JSON --config file
({"model": ..., "port": ..., "apiKey": ..., "maxNumSeqs": ..., ...}); flags win over
environment, environment over the file.`;

const OPTIONS = {
  model: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  'api-key': { type: 'string' },
  'api-keys-file': { type: 'string' },
  'metrics-api-key': { type: 'string' },
  'metrics-api-key-file': { type: 'string' },
  'metrics-host': { type: 'string' },
  'max-num-seqs': { type: 'string' },
  'max-model-len': { type: 'string' },
  'served-model-name': { type: 'string' },
  'num-kv-blocks': { type: 'string' },
  'max-batch-tokens': { type: 'string' },
  'max-waiting': { type: 'string' },
  config: { type: 'string' },
  cluster: { type: 'boolean' },
  mode: { type: 'string' },
  quantization: { type: 'string' },
  'transfer-backend': { type: 'string' },
  nats: { type: 'string' },
  redis: { type: 'string' },
  'prefill-text': { type: 'string' },
  'prefill-vision': { type: 'string' },
  'decode-text': { type: 'string' },
  routers: { type: 'string' },
  'shared-admission': { type: 'boolean' },
  'cluster-name': { type: 'string' },
  'cluster-secret-file': { type: 'string' },
  insecure: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function runUp(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, OPTIONS);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const file = values.config ? await loadConfigFile(resolve(values.config)) : {};
  const pick = (flag: keyof typeof OPTIONS, env: string, key: string): string | undefined => {
    const v = values[flag];
    if (typeof v === 'string') return v;
    if (process.env[env] !== undefined && process.env[env] !== '') return process.env[env];
    const f = file[key];
    return f === undefined ? undefined : String(f);
  };
  // One process has nothing to share a secret with: its parts authenticate their loopback gRPC
  // calls with throw-away keys (up-disagg.ts). The environment variables are ignored there (they
  // may be set for a whole machine's clusters); the flags are a mistake worth saying so.
  if (!values.cluster && (values['cluster-secret-file'] !== undefined || values.insecure)) throw new CliError('--cluster-secret-file and --insecure apply to tandem up --cluster (a single process authenticates its own parts with throw-away keys)');
  const log = (m: string) => process.stderr.write(m + '\n');
  initTracing('tandem');
  const modelArg = pick('model', 'TANDEM_MODEL', 'model');
  const modelDir = modelArg ? resolve(modelArg) : await ensureGeneratedModel(DEFAULT_MODEL.family, DEFAULT_MODEL.size, 0, log);
  const port = intOption(pick('port', 'TANDEM_PORT', 'port'), 'port', 8000, 0);
  if (port > 65535) throw new CliError('--port must be <= 65535');
  const host = pick('host', 'TANDEM_HOST', 'host') ?? '127.0.0.1';
  const apiKey = pick('api-key', 'TANDEM_API_KEY', 'apiKey');
  const apiKeysFile = pick('api-keys-file', 'TANDEM_API_KEYS_FILE', 'apiKeysFile');
  const metricsApiKeyFile = ((f) => (f ? resolve(f) : undefined))(pick('metrics-api-key-file', METRICS_ENV.keyFile, 'metricsApiKeyFile'));
  const metricsApiKey = metricsApiKeyOption({ file: metricsApiKeyFile, flagValue: pick('metrics-api-key', METRICS_ENV.key, 'metricsApiKey') }, log);
  const apiKeys = gatewayApiKeys(apiKey, apiKeysFile);
  const maxModelLen = pick('max-model-len', 'TANDEM_MAX_MODEL_LEN', 'maxModelLen');
  const numKvBlocks = pick('num-kv-blocks', 'TANDEM_NUM_KV_BLOCKS', 'numKvBlocks');
  const maxBatchTokens = pick('max-batch-tokens', 'TANDEM_MAX_BATCH_TOKENS', 'maxBatchTokens');
  const maxNumSeqs = intOption(pick('max-num-seqs', 'TANDEM_MAX_NUM_SEQS', 'maxNumSeqs'), 'max-num-seqs', 64, 1);
  const maxWaiting = intOption(pick('max-waiting', 'TANDEM_MAX_WAITING', 'maxWaiting'), 'max-waiting', 1024, 1);
  const quantization = quantizationOption(pick('quantization', 'TANDEM_QUANTIZATION', 'quantization'));

  if (values.cluster) {
    return runClusterUp({
      natsUrl: values.nats ?? process.env.TANDEM_NATS_URL ?? 'nats://127.0.0.1:4222',
      redisUrl: values.redis ?? process.env.TANDEM_REDIS_URL ?? 'redis://127.0.0.1:6379',
      modelDir,
      servedModelName: pick('served-model-name', 'TANDEM_SERVED_MODEL_NAME', 'servedModelName') ?? (modelArg ? undefined : DEFAULT_MODEL.name),
      prefill: intOption(values['prefill-text'], 'prefill-text', 1, 0),
      vision: values['prefill-vision'] === undefined ? undefined : intOption(values['prefill-vision'], 'prefill-vision', 0, 0),
      decode: intOption(values['decode-text'], 'decode-text', 1, 1),
      routers: intOption(values.routers, 'routers', 1, 1),
      sharedAdmission: values['shared-admission'] === true,
      port,
      host,
      apiKey,
      apiKeysFile,
      metricsApiKey,
      metricsApiKeyFile,
      metricsHost: pick('metrics-host', METRICS_ENV.host, 'metricsHost') ?? '127.0.0.1',
      clusterName: clusterName(values['cluster-name']),
      secretFile: ((f) => (f ? resolve(f) : undefined))(values['cluster-secret-file'] ?? process.env.TANDEM_CLUSTER_SECRET_FILE),
      insecure: values.insecure === true || process.env.TANDEM_INSECURE === '1',
      maxNumSeqs,
      maxWaiting,
      extraWorkerArgs: [
        '--max-num-seqs', String(maxNumSeqs),
        ...(maxModelLen ? ['--max-model-len', maxModelLen] : []),
        ...(numKvBlocks ? ['--num-kv-blocks', numKvBlocks] : []),
        ...(maxBatchTokens ? ['--max-batch-tokens', maxBatchTokens] : []),
        '--quantization', quantization,
        '--transfer-backend', transferBackendOption(pick('transfer-backend', 'TANDEM_TRANSFER_BACKEND', 'transferBackend')),
      ],
    });
  }
  const mode = pick('mode', 'TANDEM_MODE', 'mode') ?? 'disagg';
  if (mode !== 'unified' && mode !== 'disagg') throw new CliError(`--mode must be unified or disagg, got '${mode}'`);
  log(`[tandem] loading ${modelDir}${quantization === 'none' ? '' : ` with ${quantization} weights`} (${mode === 'disagg' ? 'disaggregated in one process: prefill-vision (vision models) + prefill-text + decode-text workers, router' : 'unified worker'})`);
  const workerOptions = {
    modelDir,
    servedModelName: pick('served-model-name', 'TANDEM_SERVED_MODEL_NAME', 'servedModelName') ?? (modelArg ? undefined : DEFAULT_MODEL.name),
    maxNumSeqs,
    maxModelLen: maxModelLen === undefined ? undefined : intOption(maxModelLen, 'max-model-len', 0, 2),
    numKvBlocks: numKvBlocks === undefined ? undefined : intOption(numKvBlocks, 'num-kv-blocks', 0, 1),
    maxBatchTokens: intOption(maxBatchTokens, 'max-batch-tokens', 512, 1),
    quantization,
    vocabulary: await loadModelVocabulary(modelDir, log),
  };
  const worker = mode === 'disagg'
    ? await startInProcessDisagg(workerOptions).then((c) => ({ backend: c.backend, served: c.served, stop: () => c.close() }))
    : await startUnifiedWorker(workerOptions).then(async (w) => ({
        backend: w.backend,
        served: await loadServedModel(modelDir, { name: w.card.name, maxModelLen: w.card.maxModelLen }),
        stop: () => w.engine.shutdown(),
      }));
  const app = await buildGateway({
    backend: worker.backend,
    model: worker.served,
    apiKeys,
    metricsApiKey,
    maxInFlight: maxNumSeqs + maxWaiting,
    ...clientTimeouts(),
  });
  const address = await app.listen({ port, host });
  const base = `${address}/v1`;
  const name = worker.served.name;
  const auth = apiKey ? ` -H 'Authorization: Bearer ${apiKey}'` : '';
  console.log(`Tandem is serving ${name} at ${base}  (stats: ${address}/metrics; Ctrl-C to stop)`);
  console.log(`  curl ${base}/chat/completions -H 'Content-Type: application/json'${auth} -d '{"model":"${name}","messages":[{"role":"user","content":"Hello!"}],"max_tokens":32}'`);

  await new Promise<void>((done) => {
    const stop = (sig: string) => {
      log(`[tandem] ${sig}: shutting down`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      void app
        .close()
        .then(() => worker.stop())
        .then(done);
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  return 0;
}
