import { createServer } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { apiError, toOpenAIErrorBody } from '../common/errors/index.js';
import { Admission } from './admission.js';
import type { ClusterSlots } from '../protocol/cluster-slots.js';
import type { ClusterKeyLimits } from '../protocol/cluster-key-limits.js';
import { KeyAdmission } from './key-admission.js';
import { KeyLimiter } from './key-limits.js';
import { checkApiKey, checkMetricsKey, type ApiKey } from './auth.js';
import type { GenerationBackend, ServedModel } from './backend.js';
import { toCatalogueError } from './errors.js';
import { resolveMediaOptions, type MediaOptions, type MediaOptionsInput } from '../media/index.js';
import { GatewayMetrics } from './metrics.js';
import type { GatewayLimits } from './openai/index.js';
import { registerChatRoute } from './routes/chat.js';
import { registerCompletionsRoute } from './routes/completions.js';
import { registerInfoRoutes } from './routes/info.js';
import { registerResponsesRoute } from './routes/responses.js';
import { registerRequestTracing } from './request-tracing.js';
import type { GatewayContext } from './context.js';

export type { GatewayContext };

/**
 * Who may call a route: anyone, operators (the metrics key when set), or API-key holders (the
 * default; 'generation' routes also take a queue slot, so a full queue refuses them on arrival).
 */
export type RouteAccess = 'public' | 'operator' | 'generation';

declare module 'fastify' {
  interface FastifyRequest {
    /** The API key the request authenticated with (undefined on an open server). */
    apiKey?: ApiKey;
  }
}

export interface GatewayOptions {
  backend: GenerationBackend;
  model: ServedModel;
  /** Empty: no authentication. Each key belongs to a tenant (prefix caches are kept per tenant). */
  apiKeys?: ApiKey[];
  /** When set, /metrics and /ready need this key instead of being open (probes, scrapers). */
  metricsApiKey?: string;
  /** Largest accepted request body in bytes (default 4 MiB). */
  bodyLimit?: number;
  /** A client must send its request headers within this (default 10 s; slow-header clients are cut off). */
  headersTimeoutMs?: number;
  /** ... and the whole request, body included, within this (default 30 s). */
  requestTimeoutMs?: number;
  limits?: Partial<Omit<GatewayLimits, 'models' | 'maxModelLen'>>;
  /**
   * Admission control: at most this many generation requests (counted in choices) running or
   * waiting at once; more get 429 + Retry-After (default 64 + 1024, i.e. --max-num-seqs +
   * --max-waiting).
   */
  maxInFlight?: number;
  /** The same bound shared with every gateway of the cluster (services/state/admission). */
  clusterAdmission?: ClusterSlots;
  /** Per-key limits (rpm=, concurrency=) held for the whole cluster too (services/state/admission). */
  clusterKeyLimits?: ClusterKeyLimits;
  /** Image input limits and the remote-URL allow-list (see services/media/options.ts); the model's own preprocessing wins. */
  media?: MediaOptionsInput;
  logger?: boolean;
}


/** How much of a refused (too large) body the gateway reads and drops so the client gets its 413. */
const REFUSED_BODY_DRAIN_BYTES = 256 * 1024 * 1024;

/** Reads and drops the rest of a request body; past `maxBytes` it closes the connection instead. */
function drainRefusedBody(req: import('node:http').IncomingMessage, maxBytes: number): void {
  let seen = 0;
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > maxBytes) req.socket.destroy();
  });
  req.resume();
}

const API_ROUTES = new Map([
  ['/v1/chat/completions', 'POST'],
  ['/v1/completions', 'POST'],
  ['/v1/responses', 'POST'],
  ['/v1/models', 'GET'],
]);

/** The OpenAI-compatible HTTP gateway (Fastify). */
export async function buildGateway(o: GatewayOptions): Promise<FastifyInstance> {
  const bodyLimit = o.bodyLimit ?? 4 * 1024 * 1024;
  const headersTimeout = o.headersTimeoutMs ?? 10_000;
  const requestTimeout = Math.max(o.requestTimeoutMs ?? 30_000, headersTimeout);
  // Node checks these timeouts every connectionsCheckingInterval (30 s by default), which would let
  // a client that trickles its headers hold a socket far longer than the limit says.
  const app = Fastify({
    logger: o.logger ?? false,
    bodyLimit,
    serverFactory: (handler) => createServer({ headersTimeout, requestTimeout, connectionsCheckingInterval: Math.min(1000, headersTimeout) }, handler),
  });
  const ctx: GatewayContext = {
    backend: o.backend,
    model: o.model,
    limits: { models: [o.model.name], maxModelLen: o.model.maxModelLen, ...o.limits },
    metrics: new GatewayMetrics(o.backend),
    admission: new Admission(o.maxInFlight ?? 64 + 1024, o.clusterAdmission),
    keyLimits: new KeyAdmission(new KeyLimiter(), o.clusterKeyLimits),
    media: resolveMediaOptions({ ...o.media, ...o.model.vision?.preprocess }),
  };

  // JSON only (other media types get 415), parsed by us so malformed JSON becomes the
  // catalogue's invalid_json error.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (e) {
      done(apiError('invalid_json', `The request body is not valid JSON: ${(e as Error).message}`), undefined);
    }
  });

  registerRequestTracing(app);
  const keys = o.apiKeys ?? [];
  // Deny by default, decided on the route Fastify matched (its decoded path), never on the raw
  // URL: `/v%31/...` reaches the same handler as `/v1/...` and so needs the same key. Routes say
  // `config: { access: 'public' }` (open) or `'operator'` (the metrics key, when set); every
  // other route, and unmatched paths, need an API key. 'generation' routes are refused here,
  // before their body is parsed, while the admission queue is full.
  app.decorateRequest('apiKey', undefined);
  app.addHook('onRequest', async (req) => {
    const access = (req.routeOptions.config as { access?: RouteAccess } | undefined)?.access;
    if (access === 'public') return;
    if (access === 'operator') return checkMetricsKey(req.headers.authorization, o.metricsApiKey);
    req.apiKey = checkApiKey(req.headers.authorization, keys);
    if (access === 'generation') ctx.admission.refuseWhenFull();
  });

  app.setErrorHandler((err, req, reply) => {
    const e = toCatalogueError(err);
    ctx.metrics.errors.inc({ code: e.code });
    // Lingering close: the body was refused unread. Fastify's body parser marks every parse
    // error `connection: close`, and closing while the client is still sending makes it see a
    // broken pipe (EPIPE) instead of this 413 — half of 8 MiB uploads sent 8 at a time did. So
    // the connection stays open and the rest of the body is read and dropped (at most
    // REFUSED_BODY_DRAIN_BYTES, within the request timeout); a client that waits for the answer
    // before sending more gets it at once.
    if (e.code === 'body_too_large' && !req.raw.complete) {
      reply.removeHeader('connection');
      reply.raw.shouldKeepAlive = true;
      drainRefusedBody(req.raw, REFUSED_BODY_DRAIN_BYTES);
    }
    if (e.status >= 500 && o.logger) app.log.error(err);
    void reply.code(e.status).headers(e.headers ?? {}).send(toOpenAIErrorBody(e));
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]!;
    const method = API_ROUTES.get(path);
    const e = method
      ? apiError('method_not_allowed', `${req.method} is not allowed on ${path}; use ${method}.`)
      : apiError('route_not_found', `No route ${req.method} ${path}. The API lives under /v1 (chat/completions, completions, responses, models).`);
    ctx.metrics.errors.inc({ code: e.code });
    void reply.code(e.status).headers(method ? { allow: method } : {}).send(toOpenAIErrorBody(e));
  });

  registerInfoRoutes(app, ctx);
  registerChatRoute(app, ctx);
  registerCompletionsRoute(app, ctx);
  registerResponsesRoute(app, ctx);
  ctx.metrics.trackAdmission(() => ctx.admission.inFlight, ctx.admission.limit, () => ctx.admission.clusterFallbacks);
  ctx.metrics.trackKeyLimits(() => ctx.keyLimits.clusterFallbacks);
  await app.ready();
  return app;
}
