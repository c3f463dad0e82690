import { loadModelVocabulary } from '../model-vocabulary.js';
import { resolve } from 'node:path';
import { startWorker } from '../../worker/start-worker.js';
import { initTracing } from '../../common/telemetry/index.js';
import { WORKER_ROLES, type WorkerRole } from '../../protocol/registry.js';
import { CliError } from '../cli-error.js';
import { DEFAULT_MODEL, ensureGeneratedModel } from '../ensure-model.js';
import { KV_PUSH_MODES, type KvPushMode } from '../../worker/kv-push.js';
import { clusterName, intOption, parseCommandArgs, quantizationOption, transferBackendOption } from '../parse.js';
import { exitSoon, shutdownGraceMs, trapShutdownSignals } from '../signals.js';
import { METRICS_ACCESS_HELP, METRICS_ACCESS_OPTIONS, metricsApiKeyOption, metricsHostOption } from '../metrics-access.js';
import { clusterKeysOption, GRPC_TLS_HELP, GRPC_TLS_OPTIONS, grpcTlsOption, SECURITY_HELP } from '../cluster-secret.js';

const HELP = `usage: tandem worker --role prefill-vision|prefill-text|decode-text|unified [--model DIR] [--nats URL]
                     [--host 127.0.0.1] [--grpc-port 0] [--metrics-port 0] [--metrics-host ADDR]
                     [--metrics-api-key-file FILE] [--id ID]
                     [--served-model-name NAME] [--max-num-seqs N] [--max-model-len N]
                     [--num-kv-blocks N] [--max-batch-tokens N] [--cluster-name NAME]
                     [--kv-push layerwise|after-prefill] [--quantization none|wint8|wint4]
                     [--transfer-backend auto|ucx|tcp] [--cluster-secret-file FILE | --insecure]
                     [--grpc-tls-cert FILE --grpc-tls-key FILE] [--grpc-tls-ca FILE]

One worker process: registers itself on NATS (--nats or TANDEM_NATS_URL) with its load and KV
region, serves the tandem.v1.Worker gRPC service, and for decode-capable roles answers
kv.reserve requests. --cluster-name (or TANDEM_CLUSTER) names the cluster whose registry it
joins; --kv-push chooses whether a prefill worker sends KV layer by layer as the prefill runs
(default) or all at once after it. --quantization (or TANDEM_QUANTIZATION) quantizes the weights
at load (wint8: int8 per output channel, wint4: int4 in groups of 128); prefill-text and
decode-text workers of one cluster must use the same setting, and a worker that differs from
those already registered refuses to start. --transfer-backend (or TANDEM_TRANSFER_BACKEND) picks
how KV and embeddings move between workers: auto (default) uses UCX when it opens here, else tcp;
tcp is encrypted (TLS 1.3 with the cluster's transfer key), UCX is not (docs/security.md), so
choose tcp where the network between workers is not trusted; ucx fails to start without UCX.
Prints one JSON line {"role","id","pid","grpc","metrics"} when ready.

${METRICS_ACCESS_HELP}

${SECURITY_HELP}

${GRPC_TLS_HELP}`;

export async function runWorker(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    role: { type: 'string' },
    model: { type: 'string' },
    nats: { type: 'string' },
    host: { type: 'string' },
    'grpc-port': { type: 'string' },
    'metrics-port': { type: 'string' },
    id: { type: 'string' },
    'served-model-name': { type: 'string' },
    'max-num-seqs': { type: 'string' },
    'max-model-len': { type: 'string' },
    'num-kv-blocks': { type: 'string' },
    'max-batch-tokens': { type: 'string' },
    'cluster-name': { type: 'string' },
    'kv-push': { type: 'string' },
    quantization: { type: 'string' },
    'transfer-backend': { type: 'string' },
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
  const role = values.role as WorkerRole | undefined;
  if (!role || !WORKER_ROLES.includes(role)) throw new CliError(`--role must be one of ${WORKER_ROLES.join(', ')}`);
  const natsUrl = values.nats ?? process.env.TANDEM_NATS_URL;
  if (!natsUrl) throw new CliError('--nats URL (or TANDEM_NATS_URL) is required: workers register on NATS');
  const kvPush = (values['kv-push'] ?? 'layerwise') as KvPushMode;
  if (!KV_PUSH_MODES.includes(kvPush)) throw new CliError(`--kv-push must be one of ${KV_PUSH_MODES.join(', ')}`);
  const transferBackend = transferBackendOption(values['transfer-backend']);
  const log = (m: string) => process.stderr.write(m + '\n');
  const keys = clusterKeysOption({ secretFile: values['cluster-secret-file'], insecure: values.insecure }, `tandem worker (${role})`, log);
  const grpcTls = grpcTlsOption(values, `tandem worker (${role})`, true, log);
  const graceMs = shutdownGraceMs();
  const signals = trapShutdownSignals(log, graceMs);
  const modelDir = values.model ? resolve(values.model) : await ensureGeneratedModel(DEFAULT_MODEL.family, DEFAULT_MODEL.size, 0, log);
  initTracing(`tandem-${role}`);
  const w = await startWorker({
    role,
    modelDir,
    natsUrl,
    id: values.id,
    host: values.host,
    grpcPort: intOption(values['grpc-port'], 'grpc-port', 0, 0),
    metricsPort: intOption(values['metrics-port'], 'metrics-port', 0, 0),
    metricsHost: metricsHostOption(values['metrics-host']),
    metricsApiKey: metricsApiKeyOption({ file: values['metrics-api-key-file'] }, log),
    servedModelName: values['served-model-name'] ?? (values.model ? undefined : DEFAULT_MODEL.name),
    maxNumSeqs: intOption(values['max-num-seqs'], 'max-num-seqs', 64, 1),
    maxModelLen: values['max-model-len'] === undefined ? undefined : intOption(values['max-model-len'], 'max-model-len', 0, 2),
    numKvBlocks: values['num-kv-blocks'] === undefined ? undefined : intOption(values['num-kv-blocks'], 'num-kv-blocks', 0, 1),
    maxBatchTokens: intOption(values['max-batch-tokens'], 'max-batch-tokens', 512, 1),
    cluster: clusterName(values['cluster-name']),
    kvPushMode: kvPush,
    keys,
    grpcTls,
    quantization: quantizationOption(values.quantization),
    transferBackend,
    // Failure drills: slow every engine step so a test or an operator can kill a worker mid-prefill.
    faultStepDelayMs: intOption(process.env.TANDEM_FAULT_STEP_DELAY_MS, 'TANDEM_FAULT_STEP_DELAY_MS', 0, 0),
    vocabulary: await loadModelVocabulary(modelDir, log),
  });
  console.log(JSON.stringify({ role, id: w.id, pid: process.pid, grpc: w.grpcAddress, metrics: w.metricsUrl }));
  await signals.ready();
  const how = await w.close(graceMs);
  log(`[tandem] worker ${w.id} stopped (${how})`);
  return exitSoon(0);
}
