/**
 * Observability of a multi-process cluster (`tandem up --cluster`: router, one prefill-text and one
 * decode-text worker, gateway; real NATS and Redis) with OTLP export pointed at a receiver this
 * test runs: one chat completion through the `openai` client is one trace whose spans come from
 * every process and every stage, correctly parented; every service's /metrics carries the
 * documented metrics and they move as requests run. With tracing disabled nothing is exported.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTraceparent } from '../../services/common/trace-context.js';
import { startTandemUp, type RunningCluster } from '../fixtures/cluster.js';
import { genTinyModel } from '../fixtures/models.js';
import { documentedMetrics, sumOf } from './metrics-text.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './otlp-receiver.js';

const MODEL = 'tiny';
const NATS = process.env.TANDEM_NATS_URL ?? 'nats://127.0.0.1:4222';
const REDIS = process.env.TANDEM_REDIS_URL ?? 'redis://127.0.0.1:6379';
// Well over the router's 32-token local-prefill threshold, so the request is disaggregated.
const longPrompt = (tag: string) => Array.from({ length: 48 }, (_, j) => `${tag}${(j * 7) % 41}`).join(' ');

let modelDir: string;
let receiver: OtlpReceiver;
let cluster: RunningCluster;

const metricsUrlOf = (role: string) => {
  const m = new RegExp(`${role}\\s+pid \\d+\\s+(?:id \\S+\\s+)?(http:\\S+/metrics)`).exec(cluster.output());
  if (!m) throw new Error(`no metrics URL for ${role} in:\n${cluster.output()}`);
  return m[1]!;
};
const scrape = async (url: string) => (await fetch(url)).text();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function spansOf(traceId: string, names: string[], timeoutMs = 20_000): Promise<ReceivedSpan[]> {
  const t0 = Date.now();
  for (;;) {
    const spans = receiver.spans.filter((s) => s.traceId === traceId);
    if (names.every((n) => spans.some((s) => s.name === n))) return spans;
    if (Date.now() - t0 > timeoutMs) throw new Error(`spans missing after ${timeoutMs} ms: ${names.filter((n) => !spans.some((s) => s.name === n)).join(', ')}; got ${spans.map((s) => `${s.service}:${s.name}`).join(', ')}`);
    await sleep(100);
  }
}

beforeAll(async () => {
  modelDir = genTinyModel('ernie4_5', 5);
  receiver = await startOtlpReceiver();
  cluster = await startTandemUp(
    ['--cluster', '--nats', NATS, '--redis', REDIS, '--model', modelDir, '--served-model-name', MODEL, '--prefill-text', '1', '--decode-text', '1', '--cluster-name', `otel-${process.pid}-${Date.now()}`],
    { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_SDK_DISABLED: '', OTEL_TRACES_EXPORTER: '', OTEL_SERVICE_NAME: '' },
    120_000,
  );
}, 180_000);
afterAll(async () => {
  await cluster?.stop();
  await receiver?.close();
});

describe('one trace per request across the cluster', () => {
  it('a disaggregated chat completion is one trace: every process, every stage, parent/child links', async () => {
    const client = new OpenAI({ baseURL: cluster.baseURL, apiKey: 'x' });
    const { data: r, response } = await client.chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content: longPrompt('trace') }], max_tokens: 6, temperature: 0 })
      .withResponse();
    const answered = parseTraceparent(response.headers.get('traceparent'));
    expect(answered).toBeDefined();
    expect(r.usage!.prompt_tokens).toBeGreaterThan(32);

    const names = ['gateway.request', 'router.generate', 'router.plan', 'router.select', 'router.leg.kv_reserve', 'worker.kv_reserve', 'router.leg.prefill', 'worker.prefill', 'kv.transfer', 'router.leg.decode', 'worker.decode'];
    const spans = await spansOf(answered!.traceId, names);
    const one = (name: string) => {
      const found = spans.filter((s) => s.name === name);
      expect(found, name).toHaveLength(name === 'router.select' ? 2 : 1); // select: the decode worker, then the prefill worker
      return found[0]!;
    };
    const [gw, gen, plan, reserveLeg, reserve, prefillLeg, prefill, transfer, decodeLeg, decode] = ['gateway.request', 'router.generate', 'router.plan', 'router.leg.kv_reserve', 'worker.kv_reserve', 'router.leg.prefill', 'worker.prefill', 'kv.transfer', 'router.leg.decode', 'worker.decode'].map(one) as ReceivedSpan[];

    // Every process took part, each under its own service name.
    expect(gw!.service).toBe('tandem-gateway');
    for (const s of [gen, plan, reserveLeg, prefillLeg, decodeLeg]) expect(s!.service).toBe('tandem-router');
    expect(prefill!.service).toBe('tandem-prefill-text');
    expect(transfer!.service).toBe('tandem-prefill-text');
    expect(decode!.service).toBe('tandem-decode-text');
    expect(reserve!.service).toBe('tandem-decode-text');
    expect(new Set([gw, gen, prefill, decode].map((s) => s!.pid)).size).toBe(4);

    // The client got the gateway span's ids; the caller sent no traceparent, so it is the root.
    expect(answered!.spanId).toBe(gw!.spanId);
    expect(gw!.parentSpanId).toBe('');
    const parentOf = (s: ReceivedSpan) => spans.find((p) => p.spanId === s.parentSpanId)?.name;
    expect(parentOf(gen!)).toBe('gateway.request');
    expect(parentOf(plan!)).toBe('router.generate');
    for (const s of spans.filter((x) => x.name === 'router.select')) expect(parentOf(s)).toBe('router.plan');
    for (const s of [reserveLeg, prefillLeg, decodeLeg]) expect(parentOf(s!)).toBe('router.generate');
    expect(parentOf(reserve!)).toBe('router.leg.kv_reserve');
    expect(parentOf(prefill!)).toBe('router.leg.prefill');
    expect(parentOf(transfer!)).toBe('worker.prefill');
    expect(parentOf(decode!)).toBe('router.leg.decode');
    // Every span of the trace hangs off another span of the same trace (no orphans).
    for (const s of spans) if (s !== gw) expect(parentOf(s), s.name).toBeDefined();
    // Children start within their parents (clocks are one machine's).
    for (const s of spans) {
      const p = spans.find((x) => x.spanId === s.parentSpanId);
      if (p) expect(s.startNs >= p.startNs, `${s.name} starts after ${p.name}`).toBe(true);
    }

    // Attributes of each stage.
    expect(gw!.attrs).toMatchObject({ 'http.route': '/v1/chat/completions', 'http.response.status_code': 200, 'gen_ai.request.model': MODEL, 'gen_ai.usage.input_tokens': r.usage!.prompt_tokens, 'gen_ai.usage.output_tokens': r.usage!.completion_tokens });
    expect(plan!.attrs).toMatchObject({ 'tandem.plan.kind': 'disaggregated', 'tandem.policy': 'cost' });
    expect(prefill!.attrs).toMatchObject({ 'tandem.prompt_tokens': r.usage!.prompt_tokens, 'tandem.worker.role': 'prefill-text' });
    expect(prefill!.attrs['tandem.cached_tokens']).toBe(0);
    expect(String(plan!.attrs['tandem.plan.decode_worker'])).toBe(decode!.attrs['tandem.worker.id']);
    expect(plan!.attrs['tandem.plan.prefill_candidates']).toContain(prefill!.attrs['tandem.worker.id']);
    // tiny model: 4 layers x (K + V) x 16 slots x 2 KV heads x 16 dims x 2 bytes (bf16) per block; a fresh prompt moves all its blocks.
    const blockBytes = 4 * 2 * 16 * 2 * 16 * 2;
    expect(transfer!.attrs['tandem.kv.bytes']).toBe(Math.ceil(r.usage!.prompt_tokens / 16) * blockBytes);
    expect(['ucx', 'tcp', 'local']).toContain(transfer!.attrs['tandem.kv.backend']);
    expect(transfer!.attrs['tandem.kv.layerwise']).toBe(true);
    expect(Number(transfer!.attrs['tandem.kv.seconds'])).toBeGreaterThan(0);
    expect(transfer!.attrs['tandem.kv.target_worker']).toBe(decode!.attrs['tandem.worker.id']);
    expect(reserve!.attrs['tandem.kv.blocks']).toBe(Math.ceil(r.usage!.prompt_tokens / 16));
    // The decode worker streams every token after the first (sampled by the prefill worker).
    expect(decode!.attrs['tandem.completion_tokens']).toBe(r.usage!.completion_tokens);
    expect(Number(decode!.attrs['tandem.decode.batch_size.min'])).toBeGreaterThanOrEqual(0);
    expect(Number(decode!.attrs['tandem.decode.batch_size.max'])).toBeGreaterThanOrEqual(1);
    for (const s of spans) expect(s.status.code ?? 0, `${s.name} status`).not.toBe(2);
  });

  it('the caller\'s traceparent is joined: the gateway span is its child', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const res = await fetch(`${cluster.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-b7ad6b7169203331-01` },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: longPrompt('caller') }], max_tokens: 3, stream: true }),
    });
    await res.text();
    const spans = await spansOf(traceId, ['gateway.request', 'worker.prefill', 'worker.decode']);
    const gw = spans.find((s) => s.name === 'gateway.request')!;
    expect(gw.parentSpanId).toBe('b7ad6b7169203331');
    expect(parseTraceparent(res.headers.get('traceparent'))?.spanId).toBe(gw.spanId);
  });
});

describe('/metrics of every service', () => {
  const docs = documentedMetrics();

  it('each service exposes the metrics docs/metrics.md lists for it', async () => {
    expect(Object.keys(docs)).toEqual(expect.arrayContaining(['Gateway', 'Router', 'Workers']));
    const texts: Record<string, string[]> = {
      Gateway: [await scrape(`${cluster.origin}/metrics`)],
      Router: [await scrape(metricsUrlOf('router'))],
      Workers: [await scrape(metricsUrlOf('prefill-text-0')), await scrape(metricsUrlOf('decode-text-0'))],
    };
    for (const [section, list] of Object.entries(texts)) {
      expect(docs[section]!.length, section).toBeGreaterThan(3);
      for (const text of list) for (const name of docs[section]!) expect(text, `${section}: ${name}`).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
  });

  it('values move as requests run', async () => {
    const urls = { gateway: `${cluster.origin}/metrics`, router: metricsUrlOf('router'), prefill: metricsUrlOf('prefill-text-0'), decode: metricsUrlOf('decode-text-0') };
    const snap = async () => Object.fromEntries(await Promise.all(Object.entries(urls).map(async ([k, u]) => [k, await scrape(u)] as const))) as Record<keyof typeof urls, string>;
    const before = await snap();
    expect(sumOf(before.router, 'tandem_router_workers', { role: 'prefill-text', health: 'healthy' })).toBe(1);
    expect(sumOf(before.router, 'tandem_router_workers', { role: 'decode-text', health: 'healthy' })).toBe(1);

    // A long streaming request: while it runs the router and the decode worker show it in flight.
    const ac = new AbortController();
    const res = await fetch(`${cluster.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: longPrompt('flight') }], max_tokens: 400, ignore_eos: true, stream: true }),
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    let got = '';
    while ((got.match(/data: /g) ?? []).length < 5) got += new TextDecoder().decode((await reader.read()).value);
    const during = await snap();
    expect(sumOf(during.router, 'tandem_router_requests_in_flight')).toBeGreaterThanOrEqual(1);
    expect(sumOf(during.decode, 'tandem_worker_num_requests_running', { role: 'decode-text' })).toBeGreaterThanOrEqual(1);
    expect(sumOf(during.decode, 'tandem_worker_kv_cache_usage_perc')).toBeGreaterThan(0);
    ac.abort();
    await reader.cancel().catch(() => undefined);

    const r = await new OpenAI({ baseURL: cluster.baseURL, apiKey: 'x' }).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: longPrompt('moves') }], max_tokens: 5, temperature: 0 });
    await sleep(300);
    const after = await snap();
    const grew = (k: keyof typeof urls, name: string, labels?: Record<string, string>) => sumOf(after[k], name, labels) - sumOf(before[k], name, labels);

    expect(grew('gateway', 'tandem_requests_total')).toBeGreaterThanOrEqual(2);
    expect(grew('gateway', 'tandem_request_queue_time_seconds_count')).toBe(2);
    expect(grew('gateway', 'tandem_request_time_per_output_token_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(grew('gateway', 'tandem_time_to_first_token_seconds_count')).toBe(2);
    expect(grew('router', 'tandem_router_decisions_total', { decision: 'disaggregated', policy: 'cost' })).toBe(2);
    expect(sumOf(after.router, 'tandem_router_requests_in_flight')).toBe(0);
    expect(grew('prefill', 'tandem_worker_prompt_tokens_total', { role: 'prefill-text' })).toBeGreaterThanOrEqual(2 * 33);
    expect(grew('prefill', 'tandem_kv_transfer_bytes_total')).toBeGreaterThan(0);
    expect(grew('prefill', 'tandem_kv_transfers_total')).toBe(2);
    expect(grew('prefill', 'tandem_kv_transfer_duration_seconds_count')).toBe(2);
    expect(grew('decode', 'tandem_worker_generation_tokens_total', { role: 'decode-text' })).toBeGreaterThanOrEqual(r.usage!.completion_tokens);
    expect(grew('decode', 'tandem_worker_engine_steps_total')).toBeGreaterThan(0);
    expect(sumOf(after.decode, 'tandem_worker_kv_leases')).toBe(0);
  });
});
