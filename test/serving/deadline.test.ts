/**
 * Deadlines: the gateway's request timeout becomes the gRPC deadline of the router call, and the
 * router gives every worker leg the same deadline. A request that cannot finish in time gets a
 * 408 from the catalogue, and the worker stops computing for it (its KV is freed).
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../services/bus/index.js';
import { RouterBackend } from '../../services/gateway/router-backend.js';
import { buildGateway } from '../../services/gateway/server.js';
import { startRouter, type RunningRouter } from '../../services/router/start-router.js';
import { MemorySequenceStore } from '../../services/state/index.js';
import { startWorker, type RunningWorker } from '../../services/worker/start-worker.js';
import { loadServedModel } from '../../services/gateway/served-model.js';
import { genTinyModel } from '../fixtures/models.js';

let router: RunningRouter;
let worker: RunningWorker;
let backend: RouterBackend;
let app: Awaited<ReturnType<typeof buildGateway>>;
let url: string;
let metricsUrl: string;

beforeAll(async () => {
  const bus = new MemoryBus();
  const modelDir = genTinyModel();
  // Every engine step takes 50 ms (fault injection), so 40 tokens need ~2 s: past the deadline.
  worker = await startWorker({ role: 'unified', modelDir, bus, faultStepDelayMs: 50, metricsPort: 0 });
  metricsUrl = worker.metricsUrl!;
  router = await startRouter({ bus, store: new MemorySequenceStore() });
  backend = new RouterBackend(router.address, 600);
  app = await buildGateway({ backend, model: await loadServedModel(modelDir, { name: 'tiny' }) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1`;
  // Let the router see the worker's registry record.
  await new Promise((r) => setTimeout(r, 300));
});
afterAll(async () => {
  await app?.close();
  backend?.close();
  await router?.close();
  await worker?.close();
});

const ask = (maxTokens: number) =>
  fetch(`${url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'deadline' }], max_tokens: maxTokens, ignore_eos: true }),
  });

describe('request deadlines across gateway → router → worker', () => {
  it('a request that finishes in time is served', async () => {
    const res = await ask(2);
    expect(res.status).toBe(200);
  });

  it('past the deadline: 408 request_timeout, and the worker drops the sequence', async () => {
    const t0 = Date.now();
    const res = await ask(40);
    expect(res.status).toBe(408);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('request_timeout');
    expect(Date.now() - t0).toBeLessThan(1500);
    // The worker leg shared the deadline: nothing keeps running or holding KV there.
    let usage = 1;
    for (let i = 0; i < 40 && usage > 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      usage = Number(/tandem_worker_kv_cache_usage_perc\{[^}]*\} ([0-9.e-]+)/.exec(await (await fetch(metricsUrl)).text())![1]);
    }
    expect(usage).toBe(0);
  });
});
