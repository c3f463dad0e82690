/**
 * Tenant isolation at the edge, against a real `tandem up --api-keys-file` (in-process
 * disaggregation): each API key belongs to a tenant, prefix-cache entries are salted per tenant
 * so `cached_tokens` never reveals another tenant's prompt, `cache_salt` splits further, keys
 * that opt in share, and /metrics + /ready sit behind their own key.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTandemUp, type RunningCluster } from '../fixtures/cluster.js';
import { genTinyModel } from '../fixtures/models.js';

const MODEL = 'tiny';
const KEYS = { alice: 'sk-alice-0001', bob: 'sk-bob-00002', shareA: 'sk-share-0a1', shareB: 'sk-share-0b2' };
const METRICS_KEY = 'sk-metrics-77';
let cluster: RunningCluster;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-keys-'));
  const file = join(dir, 'keys.txt');
  writeFileSync(file, [
    '# key tenant [share-prefix-cache]',
    `${KEYS.alice} alice`,
    `${KEYS.bob} bob`,
    `${KEYS.shareA} team-a share-prefix-cache`,
    `${KEYS.shareB} team-b share-prefix-cache`,
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
});
