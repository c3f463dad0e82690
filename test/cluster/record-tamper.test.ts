/**
 * Sequence records changed in Redis by someone without the cluster secret are refused, not
 * trusted. `tandem up --cluster` (router, one prefill-text and one decode-text worker, gateway;
 * real NATS and Redis; the cluster secret given by the test); two greedy streams through the
 * official `openai` client; the router SIGKILLed in their middle (`up --cluster` restarts it and
 * the gateway asks it to resume both from the store). Before it is back, one record's decode
 * worker is rewritten with a plain Redis client, as an attacker with Redis access would to steer
 * the resumed stream. That stream ends with an error saying the record was changed (it is not
 * resumed anywhere); the untouched one resumes and completes identical to an uninterrupted run;
 * the new router counts the refusal in tandem_auth_rejected_total{plane="state",reason="bad_record_tag"}.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTandemUp, type RunningCluster } from '../fixtures/cluster.js';
import { genTinyModel } from '../fixtures/models.js';
import { createSecretFile } from '../../services/common/security/secret-file.js';

const MODEL = 'tiny';
const NATS = process.env.TANDEM_NATS_URL ?? 'nats://127.0.0.1:4222';
const REDIS = process.env.TANDEM_REDIS_URL ?? 'redis://127.0.0.1:6379';
const MAX_TOKENS = 64;
const prompt = (k: number) => Array.from({ length: 40 }, (_, j) => `t${(j * 13 + k) % 101}`).join(' ');

let cluster: RunningCluster;
const SECRET_FILE = join(mkdtempSync(join(tmpdir(), 'tandem-secret-')), 'secret');
createSecretFile(SECRET_FILE);
const redis = new Redis(REDIS, { lazyConnect: true });

interface Streamed {
  id: string;
  tokens: string[];
  finishReason: string | null;
  error?: string;
}

async function stream(k: number, onToken?: (n: number, id: string) => void): Promise<Streamed> {
  const out: Streamed = { id: '', tokens: [], finishReason: null };
  try {
    const s = await new OpenAI({ baseURL: cluster.baseURL, apiKey: 'x', maxRetries: 0 }).chat.completions.create({
      model: MODEL, messages: [{ role: 'user', content: prompt(k) }], max_tokens: MAX_TOKENS, logprobs: true, stream: true, temperature: 0,
      // @ts-expect-error Tandem extension (vLLM-style): generate exactly max_tokens.
      ignore_eos: true,
    });
    for await (const chunk of s) {
      out.id = chunk.id;
      const choice = chunk.choices[0];
      out.finishReason = choice?.finish_reason ?? out.finishReason;
      for (const t of choice?.logprobs?.content ?? []) {
        out.tokens.push(t.token);
        onToken?.(out.tokens.length, out.id);
      }
    }
  } catch (e) {
    out.error = (e as Error).message;
  }
  return out;
}

beforeAll(async () => {
  cluster = await startTandemUp(
    ['--cluster', '--nats', NATS, '--redis', REDIS, '--model', genTinyModel('ernie4_5', 4), '--served-model-name', MODEL, '--prefill-text', '1', '--decode-text', '1', '--cluster-name', `record-tamper-${process.pid}`, '--cluster-secret-file', SECRET_FILE],
    { TANDEM_FAULT_STEP_DELAY_MS: '30' },
    120_000,
  );
  await redis.connect();
}, 180_000);

afterAll(async () => {
  if (process.env.TANDEM_TEST_DUMP) process.stderr.write(cluster?.output() ?? '');
  redis.disconnect();
  await cluster?.stop();
});

describe('sequence records changed in Redis are refused on resume', () => {
  it('a record whose decode worker was rewritten is not resumed (the stream ends with an error); an untouched one resumes identical', async () => {
    const [expectedA, expectedB] = [await stream(1), await stream(2)];
    expect(expectedA.tokens).toHaveLength(MAX_TOKENS);
    const routerPid = Number(/\brouter\s+pid (\d+)/.exec(cluster.output())![1]);
    let tampered: Promise<string | null> | undefined;
    let idB = '';
    const b = stream(2, (_n, id) => (idB = id));
    const a = stream(1, (n, id) => {
      if (n !== 10 || tampered) return;
      process.kill(routerPid, 'SIGKILL');
      // While the router is down: the record's decode worker rewritten, as Redis access allows.
      const key = `tandem:seq:${id}-0`;
      tampered = redis.hget(key, 'w:decode').then(async (before) => {
        await redis.hset(key, 'w:decode', 'decode-text-of-the-attacker');
        return before;
      });
    });
    const [gotA, gotB] = await Promise.all([a, b]);
    expect(await tampered).toMatch(/\S/); // it had one: the field was really there and changed
    process.stderr.write(`${JSON.stringify({ check: 'record tampered during a router loss', tampered_tokens: gotA.tokens.length, tampered_error: gotA.error ?? gotA.finishReason, untouched_tokens: gotB.tokens.length })}\n`);
    // The tampered one: not resumed; the client is told why.
    expect(gotA.tokens.length).toBeLessThan(MAX_TOKENS);
    expect(gotA.error ?? '').toMatch(/changed by someone without the cluster secret/);
    // The untouched one: resumed, identical to an uninterrupted run.
    expect(idB).not.toBe('');
    expect(gotB.error).toBeUndefined();
    expect(gotB.tokens).toEqual(expectedB.tokens);
    expect(await redis.hget(`tandem:seq:${idB}-0`, 'state')).toMatch(/decoding|finished/);
    // The restarted router counted the refusal.
    const metrics = /restarted router: pid \d+ (\S+)/.exec(cluster.output())![1]!;
    const text = await (await fetch(metrics)).text();
    const m = /^tandem_auth_rejected_total\{[^}]*plane="state"[^}]*reason="bad_record_tag"[^}]*\} (\d+)$/m.exec(text) ?? /^tandem_auth_rejected_total\{[^}]*reason="bad_record_tag"[^}]*plane="state"[^}]*\} (\d+)$/m.exec(text);
    expect(Number(m?.[1])).toBeGreaterThanOrEqual(1);
  }, 90_000);
});
