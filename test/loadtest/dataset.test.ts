/** Length distributions and the datasets built from them (synthetic, JSONL, images). */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { jsonlDataset, syntheticDataset } from '../../loadtest/generator/dataset.js';
import { parseLengthSpec } from '../../loadtest/generator/lengths.js';
import { makeRng } from '../../loadtest/generator/random.js';
import { generateTokenizer } from '../../tools/tokenizer/generate-tokenizer.js';
import { loadTokenizer } from '../../services/text/load-tokenizer.js';
import type { Tokenizer } from '../../services/text/tokenizer.js';

function draw(spec: string, n = 20_000, seed = 5): number[] {
  const d = parseLengthSpec(spec);
  const u = makeRng(seed);
  return Array.from({ length: n }, () => d.sample(u));
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('length specs', () => {
  it('fixed', () => {
    expect(new Set(draw('fixed:77', 100))).toEqual(new Set([77]));
    expect(parseLengthSpec('fixed:77').mean).toBe(77);
  });

  it('uniform: every value in A..B, none outside, mean (A+B)/2', () => {
    const xs = draw('uniform:10-19');
    expect(new Set(xs)).toEqual(new Set([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]));
    expect(mean(xs)).toBeCloseTo(14.5, 1);
  });

  it('normal: clamped to the range, mean and spread as asked', () => {
    const xs = draw('normal:200,40,150-400');
    expect(Math.min(...xs)).toBe(150);
    expect(Math.max(...xs)).toBeLessThanOrEqual(400);
    // P(X < 150) for N(200, 40) is 10.6%: that mass sits exactly at the clamp.
    expect(xs.filter((x) => x === 150).length / xs.length).toBeCloseTo(0.106, 1);
    const unclamped = draw('normal:500,50');
    expect(mean(unclamped)).toBeCloseTo(500, -1);
    const sd = Math.sqrt(mean(unclamped.map((x) => (x - 500) ** 2)));
    expect(Math.abs(sd - 50)).toBeLessThan(2);
    expect(Math.abs(parseLengthSpec('normal:200,40,150-400').mean - mean(xs))).toBeLessThan(1.5);
  });

  it('mixed long/short: component shares follow the weights', () => {
    const xs = draw('mixed:0.2*fixed:1024+0.8*uniform:32-96');
    const long = xs.filter((x) => x === 1024).length / xs.length;
    expect(long).toBeGreaterThan(0.19);
    expect(long).toBeLessThan(0.21);
    expect(xs.filter((x) => x !== 1024).every((x) => x >= 32 && x <= 96)).toBe(true);
    expect(parseLengthSpec('mixed:0.2*fixed:1024+0.8*uniform:32-96').mean).toBeCloseTo(0.2 * 1024 + 0.8 * 64, 6);
  });

  it('refuses malformed specs with the reason', () => {
    expect(() => parseLengthSpec('128')).toThrow(/needs a kind/);
    expect(() => parseLengthSpec('uniform:9-3')).toThrow(/1 <= A <= B/);
    expect(() => parseLengthSpec('zipf:3')).toThrow(/unknown length distribution/);
    expect(() => parseLengthSpec('mixed:fixed:3')).toThrow(/WEIGHT\*SPEC/);
  });
});

describe('synthetic dataset', () => {
  let tokenizer: Tokenizer;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-lt-tok-'));
    await generateTokenizer(dir, { vocabSize: 2048 });
    tokenizer = await loadTokenizer(dir);
  });

  it('with a tokenizer, prompts have the sampled token counts (re-encoding may drift by a token or two)', async () => {
    const items = await syntheticDataset({ count: 30, seed: 1, promptLen: parseLengthSpec('mixed:0.3*fixed:300+0.7*uniform:5-20'), outputLen: parseLengthSpec('uniform:4-8'), tokenizer });
    for (const it of items) {
      const n = tokenizer.encode(it.text, { addSpecialTokens: false }).length;
      expect(Math.abs(n - it.targetPromptTokens!)).toBeLessThanOrEqual(2);
      expect(it.maxTokens).toBeGreaterThanOrEqual(4);
      expect(it.maxTokens).toBeLessThanOrEqual(8);
      expect(it.image).toBeUndefined();
    }
    expect(items.filter((i) => i.targetPromptTokens === 300).length).toBeGreaterThan(3);
    expect(new Set(items.map((i) => i.text)).size).toBe(30);
  });

  it('is reproducible from the seed', async () => {
    const o = { count: 5, promptLen: parseLengthSpec('uniform:5-50'), outputLen: parseLengthSpec('fixed:3') };
    const a = await syntheticDataset({ ...o, seed: 9 });
    expect(await syntheticDataset({ ...o, seed: 9 })).toEqual(a);
    expect((await syntheticDataset({ ...o, seed: 10 }))[0]!.text).not.toBe(a[0]!.text);
    // Without a tokenizer a prompt is N words.
    for (const it of a) expect(it.text.split(' ').length).toBe(it.targetPromptTokens);
  });

  it('image fraction: that share of requests carries a distinct decodable PNG data: URL', async () => {
    const items = await syntheticDataset({ count: 200, seed: 4, promptLen: parseLengthSpec('fixed:3'), outputLen: parseLengthSpec('fixed:3'), imageFraction: 0.25 });
    const withImage = items.filter((i) => i.image);
    expect(withImage.length).toBeGreaterThan(35);
    expect(withImage.length).toBeLessThan(65);
    expect(new Set(withImage.map((i) => i.image)).size).toBe(withImage.length);
    const url = withImage[0]!.image!;
    expect(url.startsWith('data:image/png;base64,')).toBe(true);
    const meta = await sharp(Buffer.from(url.slice(url.indexOf(',') + 1), 'base64')).metadata();
    expect(meta).toMatchObject({ format: 'png', width: 64, height: 64 });
  });
});

describe('JSONL dataset', () => {
  it('reads prompt / text / messages and max_tokens / output_len, cycling to the count', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tandem-lt-ds-')), 'd.jsonl');
    writeFileSync(
      file,
      [
        JSON.stringify({ prompt: 'first', max_tokens: 5 }),
        '',
        JSON.stringify({ text: 'second', output_len: 7 }),
        JSON.stringify({ messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'third' }] }),
      ].join('\n'),
    );
    const items = await jsonlDataset(file, { count: 4, seed: 0, outputLen: parseLengthSpec('fixed:11') });
    expect(items.map((i) => [i.text, i.maxTokens])).toEqual([
      ['first', 5],
      ['second', 7],
      ['third', 11],
      ['first', 5],
    ]);
  });

  it('names the line of a bad record', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tandem-lt-ds-')), 'bad.jsonl');
    writeFileSync(file, `${JSON.stringify({ prompt: 'ok' })}\n${JSON.stringify({ max_tokens: 3 })}\n`);
    await expect(jsonlDataset(file, { seed: 0, outputLen: parseLengthSpec('fixed:1') })).rejects.toThrow(/bad\.jsonl:2: needs a "prompt"/);
  });
});
