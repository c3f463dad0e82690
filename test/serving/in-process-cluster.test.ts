/**
 * The disaggregated pieces composed in one process (gateway, router, prefill-text and decode-text
 * workers over the in-memory bus; the same code runs across processes): W3C trace context crosses
 * every hop — HTTP header → gateway → gRPC metadata → router → NATS headers of kv.reserve and
 * kv.ready — and the router's stats aggregate the workers' load and prefix-cache hits.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBus, type BusMessage } from '../../services/bus/index.js';
import { parseTraceparent } from '../../services/common/trace-context.js';
import { RouterBackend } from '../../services/gateway/router-backend.js';
import { buildGateway } from '../../services/gateway/server.js';
import { startRouter, type RunningRouter } from '../../services/router/start-router.js';
import { MemorySequenceStore } from '../../services/state/index.js';
import { createTransferEngine } from '../../services/transfer/transfer-engine.js';
import { loadServedModel } from '../../services/gateway/served-model.js';
import { startWorker, type RunningWorker } from '../../services/worker/start-worker.js';
import { genTinyModel } from '../fixtures/models.js';

const bus = new MemoryBus();
const seen: BusMessage[] = [];
let workers: RunningWorker[] = [];
let router: RunningRouter;
let backend: RouterBackend;
let app: Awaited<ReturnType<typeof buildGateway>>;
let url: string;

beforeAll(async () => {
  const modelDir = genTinyModel();
  for (const subject of ['tandem.v1.kv.reserve.*', 'tandem.v1.kv.ready.*']) {
    const sub = bus.subscribe(subject);
    void (async () => {
      for await (const m of sub) seen.push(m);
    })();
  }
  for (const role of ['decode-text', 'prefill-text'] as const) workers.push(await startWorker({ role, modelDir, bus, transfer: await createTransferEngine('local'), numKvBlocks: 64 }));
  router = await startRouter({ bus, store: new MemorySequenceStore() });
  backend = new RouterBackend(router.address);
  app = await buildGateway({ backend, model: await loadServedModel(modelDir, { name: 'tiny' }) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1`;
}, 60_000);
afterAll(async () => {
  await app?.close();
  backend?.close();
  await router?.close();
  for (const w of workers) await w.close();
  await bus.close();
});

describe('trace context propagation', () => {
  it('the caller\'s trace id reaches the NATS handshake of a disaggregated request', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await fetch(`${url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      body: JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: Array.from({ length: 50 }, (_, i) => `t${i}`).join(' ') }], max_tokens: 3 }),
    });
    expect(res.status).toBe(200);
    const answered = parseTraceparent(res.headers.get('traceparent'));
    expect(answered?.traceId).toBe(traceId);
    expect(answered?.spanId).not.toBe('00f067aa0ba902b7');
    const subjects = seen.map((m) => m.subject.split('.').slice(0, 4).join('.'));
    expect(subjects).toContain('tandem.v1.kv.reserve');
    expect(subjects).toContain('tandem.v1.kv.ready');
    for (const m of seen) expect(parseTraceparent(m.headers.traceparent)?.traceId).toBe(traceId);
  });

  it('starts a new trace when the caller sends none (or a malformed one)', async () => {
    const res = await fetch(`${url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: 'garbage' },
      body: JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, stream: true }),
    });
    await res.text();
    const t = parseTraceparent(res.headers.get('traceparent'));
    expect(t?.traceId).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('router stats', () => {
  it('aggregate the workers\' prefix-cache hits (seen by the gateway\'s /metrics)', async () => {
    const body = JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: Array.from({ length: 60 }, (_, i) => `again${i}`).join(' ') }], max_tokens: 2 });
    for (let i = 0; i < 2; i++) await (await fetch(`${url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).text();
    let rate = 0;
    for (let i = 0; i < 40 && rate === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const m = /^tandem_prefix_cache_hit_rate ([0-9.eE+-]+)$/m.exec(await (await fetch(`${url.replace('/v1', '')}/metrics`)).text());
      rate = Number(m?.[1] ?? 0);
    }
    expect(rate).toBeGreaterThan(0);
  });
});
