/**
 * Span and attribute names of one request's trace, in one place so the code that opens spans,
 * the tests and docs/metrics.md agree. Attributes are `tandem.*` unless an OpenTelemetry semantic
 * convention exists (HTTP, gen_ai token usage).
 */
export const SPAN = {
  /** Gateway: one per HTTP request (SERVER). */
  gatewayRequest: 'gateway.request',
  /** Router: the whole Router.Generate call (SERVER). */
  routerGenerate: 'router.generate',
  /** Router: stage planning (plan kind, chosen workers). */
  routerPlan: 'router.plan',
  /** Router: one routing-policy choice inside the plan. */
  routerSelect: 'router.select',
  /** Router → worker legs (CLIENT): `router.leg.<rpc>` (prefill, decode, generate) and the NATS kv.reserve request. */
  routerLeg: (rpc: string) => `router.leg.${rpc}`,
  routerKvReserve: 'router.leg.kv_reserve',
  /** Worker side of each leg (SERVER): `worker.<rpc>` (prefill, decode, generate). */
  worker: (rpc: string) => `worker.${rpc}`,
  /** Decode worker: answering kv.reserve (blocks for the uncached suffix under a lease). */
  workerKvReserve: 'worker.kv_reserve',
  /** Prefill worker: one KV push into a decode worker's blocks. */
  kvTransfer: 'kv.transfer',
  /** Vision stage (Prefill-Vision): ViT + adapter for a request's images. */
  visionEncode: 'vision.encode',
  /** Vision stage: embeddings sent from the vision worker to the prefill worker. */
  embeddingTransfer: 'embedding.transfer',
} as const;

export const ATTR = {
  requestId: 'tandem.request_id',
  model: 'gen_ai.request.model',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  promptTokens: 'tandem.prompt_tokens',
  cachedTokens: 'tandem.cached_tokens',
  completionTokens: 'tandem.completion_tokens',
  maxTokens: 'tandem.max_tokens',
  workerId: 'tandem.worker.id',
  workerRole: 'tandem.worker.role',
  workerAddress: 'server.address',
  planKind: 'tandem.plan.kind',
  planReason: 'tandem.plan.reason',
  policy: 'tandem.policy',
  decodeWorker: 'tandem.plan.decode_worker',
  prefillWorkers: 'tandem.plan.prefill_candidates',
  selected: 'tandem.select.worker',
  candidates: 'tandem.select.candidates',
  rpcMethod: 'rpc.method',
  grpcStatus: 'rpc.grpc.status_code',
  kvBytes: 'tandem.kv.bytes',
  kvBackend: 'tandem.kv.backend',
  kvSeconds: 'tandem.kv.seconds',
  kvLayerwise: 'tandem.kv.layerwise',
  kvPuts: 'tandem.kv.puts',
  kvTargetWorker: 'tandem.kv.target_worker',
  kvBlocks: 'tandem.kv.blocks',
  leaseId: 'tandem.kv.lease_id',
  batchMin: 'tandem.decode.batch_size.min',
  batchMax: 'tandem.decode.batch_size.max',
  batchMean: 'tandem.decode.batch_size.mean',
  steps: 'tandem.decode.steps',
  subject: 'messaging.destination.name',
} as const;
