/**
 * A request with images survives losing its router. The sequence store keeps no pixels (only the
 * images' hashes and places), so the gateway sends them again with `Router.Resume`. Two routers
 * behind one gateway (`tandem up --cluster --routers 2`, a tiny generated ERNIE-4.5-VL, real NATS
 * and Redis); one router is SIGKILLed while image requests stream through the official `openai`
 * client: every stream completes with the tokens of an undisturbed run, and the ones the dead
 * router carried were resumed (before, `Resume` refused requests with images: they failed).
 */
import OpenAI from 'openai';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTandemUp, type RunningCluster } from '../fixtures/cluster.js';
import { genTinyModel } from '../fixtures/models.js';

const MODEL = 'vl-tiny';
const NATS = process.env.TANDEM_NATS_URL ?? 'nats://127.0.0.1:4222';
const REDIS = process.env.TANDEM_REDIS_URL ?? 'redis://127.0.0.1:6379';
const STREAMS = 6;
const MAX_TOKENS = 32;
const images: string[] = [];

let cluster: RunningCluster;

async function stream(i: number, onToken?: (n: number) => void): Promise<{ tokens: string[]; finish: string | null }> {
  const s = await new OpenAI({ baseURL: cluster.baseURL, apiKey: 'x', maxRetries: 0 }).chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: [{ type: 'text', text: `picture ${i}: ${Array.from({ length: 12 }, (_, j) => `w${(i * 7 + j) % 40}`).join(' ')}` }, { type: 'image_url', image_url: { url: images[i % images.length]! } }] }],
    max_tokens: MAX_TOKENS, temperature: 0, logprobs: true, stream: true,
    // @ts-expect-error Tandem extension (vLLM-style): generate exactly max_tokens.
    ignore_eos: true,
  });
  const tokens: string[] = [];
  let finish: string | null = null;
  for await (const c of s) {
    finish = c.choices[0]?.finish_reason ?? finish;
    for (const t of c.choices[0]?.logprobs?.content ?? []) {
      tokens.push(t.token);
      onToken?.(tokens.length);
    }
  }
  return { tokens, finish };
}

beforeAll(async () => {
  for (const [w, h, r] of [[56, 28, 200], [28, 84, 20], [84, 56, 120]] as const) {
    const png = await sharp({ create: { width: w, height: h, channels: 3, background: { r, g: 255 - r, b: 90 } } }).png().toBuffer();
    images.push(`data:image/png;base64,${png.toString('base64')}`);
  }
  cluster = await startTandemUp(
    ['--cluster', '--routers', '2', '--prefill-vision', '0', '--nats', NATS, '--redis', REDIS, '--model', genTinyModel('ernie4_5_vl_moe', 5), '--served-model-name', MODEL, '--cluster-name', `vl-routers-${process.pid}`],
    // Slowed steps, so the streams are still running when the router is killed.
    { TANDEM_FAULT_STEP_DELAY_MS: '30' },
    120_000,
  );
}, 180_000);
afterAll(async () => {
  if (process.env.TANDEM_TEST_DUMP) process.stderr.write(cluster?.output() ?? '');
  await cluster?.stop();
});

describe('one of two routers killed during image requests', () => {
  it('every stream completes, identical to an undisturbed run; the dead router\'s were resumed with their images', async () => {
    const expected = await Promise.all(Array.from({ length: STREAMS }, (_, i) => stream(i)));
    for (const e of expected) expect(e.tokens).toHaveLength(MAX_TOKENS);
    const pid = Number(/\brouter-0\s+pid (\d+)/.exec(cluster.output())![1]);
    let started = 0;
    let killed = false;
    const got = await Promise.all(Array.from({ length: STREAMS }, (_, i) => stream(i, (n) => {
      if (n === 4 && ++started === STREAMS) {
        killed = true;
        process.kill(pid, 'SIGKILL');
      }
    })));
    expect(killed).toBe(true);
    const identical = got.filter((g, i) => g.finish === 'length' && JSON.stringify(g.tokens) === JSON.stringify(expected[i]!.tokens)).length;
    const resumes = (cluster.output().match(/Resume #1/g) ?? []).length;
    process.stderr.write(`${JSON.stringify({ drill: 'router kill -9 (one of two), image requests', streams: STREAMS, completed: got.filter((g) => g.finish === 'length').length, identical, resumed: resumes })}\n`);
    expect(identical).toBe(STREAMS);
    expect(resumes).toBeGreaterThan(0);
  }, 120_000);
});
