import type { FastifyInstance } from 'fastify';
import type { GatewayContext } from '../context.js';

/** /health (process up), /ready (can serve), /metrics (Prometheus), /v1/models. */
export function registerInfoRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  // Liveness is open; readiness and metrics need the operator key when one is set (server.ts).
  const open = { config: { access: 'public' } };
  const operator = { config: { access: 'operator' } };
  app.get('/health', open, async () => ({ status: 'ok' }));
  app.get('/ready', operator, async (_req, reply) => {
    const s = ctx.backend.stats();
    const ready = s.numBlocks > 0;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'starting', model: ctx.model.name, running: s.running, waiting: s.waiting });
  });
  app.get('/metrics', operator, async (_req, reply) => {
    const body = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(body);
  });
  app.get('/v1/models', async () => ({
    object: 'list',
    data: [{ id: ctx.model.name, object: 'model', created: ctx.model.created, owned_by: 'tandem', max_model_len: ctx.model.maxModelLen }],
  }));
}
