/**
 * Route options of the routes that generate: they take an admission slot, so the gateway refuses
 * them as they arrive, before their body is parsed, while the queue is full (server.ts).
 */
export const GENERATION_ROUTE = { config: { access: 'generation' as const } };
