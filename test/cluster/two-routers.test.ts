/**
 * Two routers behind one gateway (`tandem up --cluster --routers 2`: separate processes, real
 * NATS and Redis) and one of them killed (-9) while 16 streams run through the official `openai`
 * client: the gateway resumes the dead router's streams on the other one from the sequence store,
 * so all 16 complete with the tokens of an undisturbed run — none lost, none duplicated.
 */
import { clusterRssMb } from '../fixtures/process-rss.js';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTandemUp, type RunningCluster } from '../fixtures/cluster.js';
import { genTinyModel } from '../fixtures/models.js';

const MODEL = 'tiny';
const NATS = process.env.TANDEM_NATS_URL ?? 'nats://127.0.0.1:4222';
const REDIS = process.env.TANDEM_REDIS_URL ?? 'redis://127.0.0.1:6379';
const STREAMS = 16;
const MAX_TOKENS = 48;
// Some prompts over the 32-token local-prefill threshold (prefill worker + KV push), some under.
const prompt = (i: number) => Array.from({ length: i % 2 ? 40 : 12 }, (_, j) => `t${(i * 31 + j * 7) % 97}`).join(' ');

let cluster: RunningCluster;

async function stream(i: number, onToken?: (n: number) => void): Promise<{ tokens: string[]; finish: string | null; longestGapMs: number }> {
  const s = await new OpenAI({ baseURL: cluster.baseURL, apiKey: 'x', maxRetries: 0 }).chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: prompt(i) }], max_tokens: MAX_TOKENS, temperature: 0, logprobs: true, stream: true,
    // @ts-expect-error Tandem extension (vLLM-style): generate exactly max_tokens.
    ignore_eos: true,
  });
  const tokens: string[] = [];
  let finish: string | null = null;
  let last = 0;
  let longestGapMs = 0;
  for await (const c of s) {
    finish = c.choices[0]?.finish_reason ?? finish;
    for (const t of c.choices[0]?.logprobs?.content ?? []) {
      const now = Date.now();
      if (tokens.length) longestGapMs = Math.max(longestGapMs, now - last);
      last = now;
      tokens.push(t.token);
      onToken?.(tokens.length);
    }
  }
  return { tokens, finish, longestGapMs };
}

beforeAll(async () => {
  cluster = await startTandemUp(
    ['--cluster', '--routers', '2', '--nats', NATS, '--redis', REDIS, '--model', genTinyModel('ernie4_5', 5), '--served-model-name', MODEL, '--cluster-name', `two-routers-${process.pid}`],
    // Slowed steps, so the streams are still running when the router is killed.
    { TANDEM_FAULT_STEP_DELAY_MS: '25' },
    120_000,
  );
}, 180_000);
afterAll(async () => {
  if (process.env.TANDEM_TEST_DUMP) process.stderr.write(cluster?.output() ?? '');
  await cluster?.stop();
});

describe('one of two routers killed during 16 streams', () => {
  it('all 16 complete, identical to an undisturbed run; the gateway spread them over both routers', async () => {
    const expected = await Promise.all(Array.from({ length: STREAMS }, (_, i) => stream(i)));
    for (const e of expected) expect(e.tokens).toHaveLength(MAX_TOKENS);
    const out = cluster.output();
    const pid = Number(/\brouter-0\s+pid (\d+)/.exec(out)![1]);
    expect(/\brouter-1\s+pid (\d+)/.test(out)).toBe(true);
    const rssBefore = clusterRssMb(out);
    let started = 0;
    let killedAt = 0;
    const got = await Promise.all(Array.from({ length: STREAMS }, (_, i) => stream(i, (n) => {
      // Kill once every stream has some tokens: the dead router's half must be resumed mid-stream.
      if (n === 5 && ++started === STREAMS) {
        killedAt = Date.now();
        process.kill(pid, 'SIGKILL');
      }
    })));
    expect(killedAt).toBeGreaterThan(0);
    const identical = got.filter((g, i) => g.finish === 'length' && JSON.stringify(g.tokens) === JSON.stringify(expected[i]!.tokens)).length;
    const longestGapMs = Math.max(...got.map((g) => g.longestGapMs));
    const resumes = (cluster.output().match(/Resume #1/g) ?? []).length;
    process.stderr.write(`${JSON.stringify({ drill: 'router kill -9 (one of two)', streams: STREAMS, completed: got.filter((g) => g.finish === 'length').length, identical, resumed: resumes, longest_gap_ms: longestGapMs, rss_mb_before: rssBefore, rss_mb_after: clusterRssMb(cluster.output()) })}\n`);
    expect(identical).toBe(STREAMS);
    // Round-robin: the killed router carried some of the streams, and they were resumed.
    expect(resumes).toBeGreaterThan(0);
    expect(resumes).toBeLessThan(STREAMS);
  }, 120_000);
});
