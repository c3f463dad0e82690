import type { FastifyInstance } from 'fastify';
import type { GatewayContext } from '../context.js';

/** /health (process up), /ready (can serve), /metrics (Prometheus), /v1/models. */
export function registerInfoRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  // Probes and scrapes need no API key (see the onRequest hook in server.ts).
  const open = { config: { public: true } };
  app.get('/health', open, async () => ({ status: 'ok' }));
  app.get('/ready', open, async (_req, reply) => {
    const s = ctx.backend.stats();
    const ready = s.numBlocks > 0;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'starting', model: ctx.model.name, running: s.running, waiting: s.waiting });
  });
  app.get('/metrics', open, async (_req, reply) => {
    const body = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(body);
  });
  app.get('/v1/models', async () => ({
    object: 'list',
    data: [{ id: ctx.model.name, object: 'model', created: ctx.model.created, owned_by: 'tandem', max_model_len: ctx.model.maxModelLen }],
  }));
}
