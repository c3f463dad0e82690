/**
 * Tenant isolation at the edge, against a real `tandem up --api-keys-file` (in-process
 * disaggregation): each API key belongs to a tenant, prefix-cache entries are salted per tenant
 * so `cached_tokens` never reveals another tenant's prompt, `cache_salt` splits further, keys
 * that opt in share, per-key request rates and concurrency answer 429 with Retry-After to that key
 * only, and /metrics + /ready sit behind their own key.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTandemUp, type RunningCluster } from '../fixtures/cluster.js';
import { genTinyModel } from '../fixtures/models.js';

const MODEL = 'tiny';
const KEYS = { alice: 'sk-alice-0001', bob: 'sk-bob-00002', shareA: 'sk-share-0a1', shareB: 'sk-share-0b2', slow: 'sk-slow-00003', single: 'sk-single-004' };
const METRICS_KEY = 'sk-metrics-77';
let cluster: RunningCluster;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-keys-'));
  const file = join(dir, 'keys.txt');
  writeFileSync(file, [
    '# key tenant [share-prefix-cache] [rpm=N] [concurrency=N]',
    `${KEYS.alice} alice`,
    `${KEYS.bob} bob`,
    `${KEYS.shareA} team-a share-prefix-cache`,
    `${KEYS.shareB} team-b share-prefix-cache`,
    `${KEYS.slow} carol rpm=6`,
    `${KEYS.single} dave concurrency=1`,
    '',
  ].join('\n'));
  cluster = await startTandemUp(['--model', genTinyModel(), '--served-model-name', MODEL, '--api-keys-file', file, '--metrics-api-key', METRICS_KEY]);
});
afterAll(async () => cluster?.stop());

/** A fresh ~100-token prompt per test, so no test sees another's cache entries. */
const promptFor = (tag: string) => Array.from({ length: 100 }, (_, i) => `${tag}${i}`).join(' ');

async function cached(key: string, prompt: string, extra: Record<string, unknown> = {}): Promise<number> {
  const client = new OpenAI({ baseURL: cluster.baseURL, apiKey: key });
  const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: prompt }], max_tokens: 1, temperature: 0, ...extra } as OpenAI.ChatCompletionCreateParamsNonStreaming);
  return r.usage!.prompt_tokens_details?.cached_tokens ?? 0;
}

describe('tenants (API keys file)', () => {
  it('a tenant reuses its own cached prefix; another tenant guessing the same prompt sees none of it', async () => {
    const p = promptFor('iso');
    expect(await cached(KEYS.alice, p)).toBe(0);
    expect(await cached(KEYS.alice, p)).toBeGreaterThanOrEqual(64);
    expect(await cached(KEYS.bob, p)).toBe(0);
    expect(await cached(KEYS.bob, p)).toBeGreaterThanOrEqual(64);
  });

  it('cache_salt splits one tenant\'s cache (vLLM semantics)', async () => {
    const p = promptFor('salt');
    expect(await cached(KEYS.alice, p, { cache_salt: 'project-1' })).toBe(0);
    expect(await cached(KEYS.alice, p, { cache_salt: 'project-2' })).toBe(0);
    expect(await cached(KEYS.alice, p, { cache_salt: 'project-1' })).toBeGreaterThanOrEqual(64);
    expect(await cached(KEYS.alice, p)).toBe(0);
  });

  it('keys that opt in share prefix-cache entries with each other, never with private tenants', async () => {
    const p = promptFor('share');
    expect(await cached(KEYS.shareA, p)).toBe(0);
    expect(await cached(KEYS.shareB, p)).toBeGreaterThanOrEqual(64);
    expect(await cached(KEYS.alice, p)).toBe(0);
  });

  it('a bad cache_salt is a 400; an unknown key a 401', async () => {
    const res = await fetch(`${cluster.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEYS.alice}` },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x' }], cache_salt: '' }),
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error.param).toBe('cache_salt');
    await expect(new OpenAI({ baseURL: cluster.baseURL, apiKey: 'sk-nobody-000' }).models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('/metrics and /ready need the metrics key (API keys do not open them); /health stays open', async () => {
    for (const path of ['/metrics', '/ready']) {
      expect((await fetch(`${cluster.origin}${path}`)).status).toBe(401);
      expect((await fetch(`${cluster.origin}${path}`, { headers: { authorization: `Bearer ${KEYS.alice}` } })).status).toBe(401);
      expect((await fetch(`${cluster.origin}${path}`, { headers: { authorization: `Bearer ${METRICS_KEY}` } })).status).toBe(200);
    }
    expect((await fetch(`${cluster.origin}/health`)).status).toBe(200);
  });

  it('a key over its rpm gets 429 with Retry-After and OpenAI\'s x-ratelimit headers; other keys are not slowed', async () => {
    const ask = (key: string) => fetch(`${cluster.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 }),
    });
    // rpm=6: a burst of 1 (10 s worth), then one every 10 s.
    const first = await ask(KEYS.slow);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-limit-requests')).toBe('6');
    expect(first.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    const t0 = performance.now();
    const refused = await ask(KEYS.slow);
    expect(performance.now() - t0).toBeLessThan(50);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(9);
    expect(retryAfter).toBeLessThanOrEqual(10);
    const body = (await refused.json()) as { error: { code: string; type: string } };
    expect(body.error).toMatchObject({ code: 'rate_limited', type: 'rate_limit_error' });
    // Another tenant is unaffected, and the official client sees a RateLimitError.
    expect((await ask(KEYS.alice)).status).toBe(200);
    const client = new OpenAI({ baseURL: cluster.baseURL, apiKey: KEYS.slow, maxRetries: 0 });
    await expect(client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 })).rejects.toBeInstanceOf(OpenAI.RateLimitError);
  });

  it('a key at its concurrency gets 429 while its stream runs, and is admitted again once it ends', async () => {
    const client = new OpenAI({ baseURL: cluster.baseURL, apiKey: KEYS.single, maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'count' }], max_tokens: 40, stream: true, ignore_eos: true } as OpenAI.ChatCompletionCreateParamsStreaming);
    const it = stream[Symbol.asyncIterator]();
    await it.next(); // the stream is admitted and running
    await expect(client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 })).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    while (!(await it.next()).done);
    // The slot is released when the response ends (its socket closes right after).
    let status = 0;
    for (let i = 0; i < 20 && status !== 200; i++) {
      const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 }).then(() => 200, (e: { status?: number }) => e.status ?? 0);
      status = r;
      if (status !== 200) await new Promise((res) => setTimeout(res, 50));
    }
    expect(status).toBe(200);
  });
});
