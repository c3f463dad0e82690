/**
 * The gateway in front of a router that has no workers (or only a prefill pool): the request is
 * refused with 503 + Retry-After and the catalogue body, and the gateway keeps serving.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../services/bus/index.js';
import { RouterBackend } from '../../services/gateway/router-backend.js';
import { buildGateway } from '../../services/gateway/server.js';
import { startRouter, type RunningRouter } from '../../services/router/start-router.js';
import { MemorySequenceStore } from '../../services/state/index.js';
import { loadServedModel } from '../../services/gateway/served-model.js';
import { genTinyModel } from '../fixtures/models.js';

let router: RunningRouter;
let backend: RouterBackend;
let app: Awaited<ReturnType<typeof buildGateway>>;
let url: string;

beforeAll(async () => {
  const bus = new MemoryBus();
  router = await startRouter({ bus, store: new MemorySequenceStore() });
  backend = new RouterBackend(router.address);
  app = await buildGateway({ backend, model: await loadServedModel(genTinyModel(), { name: 'tiny' }) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1`;
});
afterAll(async () => {
  await app?.close();
  backend?.close();
  await router?.close();
});

describe('no worker can take the request', () => {
  it.each([false, true])('answers 503 server_overloaded with Retry-After (stream: %s)', async (stream) => {
    const res = await fetch(`${url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'anyone there?' }], max_tokens: 4, stream }),
    });
    if (!stream) {
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('server_overloaded');
      expect(body.error.message).toMatch(/no decode-capable worker/);
    } else {
      // Streams have already answered 200 when the router fails: the error arrives as an SSE event.
      const text = await res.text();
      expect(text).toMatch(/"code":"server_overloaded"/);
      expect(text.trim().endsWith('data: [DONE]')).toBe(true);
    }
    expect((await fetch(`${url.replace('/v1', '')}/health`)).status).toBe(200);
  });
});
