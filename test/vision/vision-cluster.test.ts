/**
 * Image + text requests through the official openai client, on a tiny generated ERNIE-4.5-VL
 * checkpoint: unified mode (one process), P/D (separate prefill-text and decode-text processes)
 * and E/P/D (plus a prefill-vision process that encodes and transfers the embeddings) give
 * bit-identical greedy tokens and log-probabilities; the same image sent twice skips the vision
 * stage the second time (encoder cache), visibly in metrics and in Redis' stage history.
 */
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue, settledHistory, startTandemUp, type RunningCluster } from '../fixtures/cluster.js';
import { genTinyModel } from '../fixtures/models.js';

const MODEL = 'vl-tiny';
const NATS = process.env.TANDEM_NATS_URL ?? 'nats://127.0.0.1:4222';
const REDIS = process.env.TANDEM_REDIS_URL ?? 'redis://127.0.0.1:6379';

let modelDir: string;
const images: string[] = [];
// Three aspect ratios; the prompt text is long enough (> 32 tokens) to be disaggregated.
const SHAPES: Array<[number, number, { r: number; g: number; b: number }]> = [
  [56, 28, { r: 200, g: 30, b: 90 }],
  [28, 84, { r: 10, g: 220, b: 40 }],
  [84, 56, { r: 30, g: 60, b: 250 }],
];
const TEXT = Array.from({ length: 30 }, (_, i) => `w${i}`).join(' ');

interface Answer {
  id: string;
  tokens: string[];
  logprobs: number[];
}

async function ask(c: RunningCluster, image: string): Promise<Answer> {
  const r = await new OpenAI({ baseURL: c.baseURL, apiKey: 'x' }).chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: [{ type: 'text', text: TEXT }, { type: 'image_url', image_url: { url: image } }] }],
    max_tokens: 6,
    temperature: 0,
    logprobs: true,
  });
  const content = r.choices[0]!.logprobs!.content!;
  return { id: r.id, tokens: content.map((t) => t.token), logprobs: content.map((t) => t.logprob) };
}

const strip = (a: Answer) => ({ tokens: a.tokens, logprobs: a.logprobs });

beforeAll(async () => {
  modelDir = genTinyModel('ernie4_5_vl_moe', 5);
  for (const [w, h, background] of SHAPES) {
    const png = await sharp({ create: { width: w, height: h, channels: 3, background } }).png().toBuffer();
    images.push(`data:image/png;base64,${png.toString('base64')}`);
  }
}, 120_000);

describe('vision-language serving: unified, P/D and E/P/D agree bit for bit', () => {
  let unified: RunningCluster;
  let pd: RunningCluster;
  let epd: RunningCluster;
  const expected: Answer[] = [];

  beforeAll(async () => {
    const common = ['--model', modelDir, '--served-model-name', MODEL];
    const cluster = ['--cluster', '--nats', NATS, '--redis', REDIS, ...common];
    [unified, pd, epd] = await Promise.all([
      startTandemUp(['--mode', 'unified', ...common]),
      startTandemUp([...cluster, '--prefill-vision', '0', '--cluster-name', `vl-pd-${process.pid}`], {}, 120_000),
      startTandemUp([...cluster, '--prefill-vision', '1', '--cluster-name', `vl-epd-${process.pid}`], {}, 120_000),
    ]);
    for (const img of images) expected.push(await ask(unified, img));
  }, 240_000);
  afterAll(async () => {
    await Promise.all([unified?.stop(), pd?.stop(), epd?.stop()]);
  });

  it('the image matters: different pictures give different log-probabilities', () => {
    expect(expected[0]!.logprobs).not.toEqual(expected[1]!.logprobs);
    expect(expected[1]!.logprobs).not.toEqual(expected[2]!.logprobs);
  });

  it('P/D (prefill-text + decode-text processes) matches unified', async () => {
    for (let i = 0; i < images.length; i++) expect(strip(await ask(pd, images[i]!))).toEqual(strip(expected[i]!));
  });

  it('E/P/D matches unified; the repeated image skips the vision stage (encoder cache hit)', async () => {
    const prefillMetrics = /prefill-text-0\s+pid \d+\s+id \S+\s+(http:\S+\/metrics)/.exec(epd.output())![1]!;
    const hits = async () => metricValue(await (await fetch(prefillMetrics)).text(), 'tandem_encoder_cache_hits_total');
    const first = await ask(epd, images[0]!);
    expect(strip(first)).toEqual(strip(expected[0]!));
    const before = await hits();
    const again = await ask(epd, images[0]!);
    expect(strip(again)).toEqual(strip(expected[0]!));
    expect(await hits()).toBe(before + 1);
    for (let i = 1; i < images.length; i++) expect(strip(await ask(epd, images[i]!))).toEqual(strip(expected[i]!));
    const redis = new Redis(REDIS);
    try {
      expect(await settledHistory(redis, `tandem:seq:${first.id}-0`)).toBe('qeptdf');
      expect(await redis.hget(`tandem:seq:${first.id}-0`, 'w:vision')).toMatch(/^prefill-vision-/);
      expect(await settledHistory(redis, `tandem:seq:${again.id}-0`)).toBe('qptdf');
    } finally {
      await redis.quit();
    }
  });
});
