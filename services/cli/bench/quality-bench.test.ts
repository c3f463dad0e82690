import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateCheckpoint } from '../../../tools/gen/gen-model.js';
import { loadTextModelWeights } from '../../engine/weights/load-text-weights.js';
import { CliError } from '../cli-error.js';
import { modelTextEncoder, parseQualityPrompts, readQualityPrompts, runQualityBench } from './quality-bench.js';

const root = mkdtempSync(join(tmpdir(), 'tandem-quality-bench-'));
const modelDir = join(root, 'tiny');

beforeAll(async () => {
  // Weight scale 1.5: at 1 a random model repeats one token and every greedy comparison is trivial.
  await generateCheckpoint({ family: 'ernie4_5', size: 'tiny', outDir: modelDir, seed: 3, weightScale: 1.5 });
}, 60_000);

/** A stand-in tokenizer: one id per character, so lengths are easy to reason about. */
const charEncoder = async () => (s: string) => Array.from(s, (c) => c.charCodeAt(0) % 100);
const opts = { vocabSize: 1024, minTokens: 4, encoder: charEncoder };

async function cliError(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(CliError);
  return (e as Error).message;
}

describe('--prompts-file parsing', () => {
  it('reads text lines through the encoder and id arrays as they are, skipping blank lines', async () => {
    const prompts = await parseQualityPrompts('"hello"\n\n[5, 6, 7, 8, 9]\n  \n"abcd"\n', 'p.jsonl', opts);
    expect(prompts).toEqual([[4, 1, 8, 8, 11], [5, 6, 7, 8, 9], [97, 98, 99, 0]]);
  });

  it('loads the tokenizer only when a line is text', async () => {
    let loaded = 0;
    const encoder = async () => {
      loaded++;
      return (s: string) => Array.from(s, () => 1);
    };
    await parseQualityPrompts('[1, 2, 3, 4]\n', 'p.jsonl', { ...opts, encoder });
    expect(loaded).toBe(0);
    await parseQualityPrompts('"abcd"\n"efgh"\n', 'p.jsonl', { ...opts, encoder });
    expect(loaded).toBe(1);
  });

  it.each([
    ['not JSON', '"abcd"\n{oops', /p\.jsonl line 2: not JSON/],
    ['neither text nor ids', '{"text": "abcd"}', /line 1: expected a JSON string of text or a JSON array of token ids/],
    ['an id past the vocabulary', '[1, 2, 3, 1024]', /line 1: 1024 is not a token id of the model \(\[0, 1024\)\)/],
    ['a negative id', '[1, -2, 3, 4]', /line 1: -2 is not a token id/],
    ['a fractional id', '[1, 2.5, 3, 4]', /line 1: 2.5 is not a token id/],
    ['a string id', '[1, "2", 3, 4]', /line 1: "2" is not a token id/],
    ['a prompt shorter than --tokens', '[1, 2, 3, 4]\n"abc"', /line 2: 3 tokens, fewer than --tokens 4/],
    ['no prompts at all', '\n  \n', /p\.jsonl: no prompts/],
  ])('refuses %s with a CliError naming the line', async (_what, text, msg) => {
    expect(await cliError(parseQualityPrompts(text, 'p.jsonl', opts))).toMatch(msg);
  });

  it('a missing file is a CliError, not a stack trace', async () => {
    expect(await cliError(readQualityPrompts(join(root, 'absent.jsonl'), opts))).toMatch(/absent\.jsonl: no such file/);
  });

  it("text lines use the model's own tokenizer, without BOS", async () => {
    const file = join(root, 'text.jsonl');
    writeFileSync(file, JSON.stringify('The quick brown fox jumps over the lazy dog.') + '\n');
    const [ids] = await readQualityPrompts(file, { vocabSize: 1024, minTokens: 4, encoder: modelTextEncoder(modelDir) });
    const encode = await modelTextEncoder(modelDir)();
    expect(ids).toEqual(encode('The quick brown fox jumps over the lazy dog.'));
    expect(ids![0]).not.toBe(1); // <s>
  });
});

describe('runQualityBench with given prompts', () => {
  it('measures the given prompts, cut to --tokens, and says where they came from', async () => {
    const weights = await loadTextModelWeights(modelDir);
    const promptIds = [Array.from({ length: 20 }, (_, i) => 300 + i), Array.from({ length: 12 }, (_, i) => 500 + 3 * i), [7, 7, 7, 7, 7, 7, 7, 7, 7]];
    const run = (ids: number[][]) => runQualityBench({ weights, model: modelDir, schemes: ['wint8'], prompts: 2, promptTokens: 8, greedyTokens: 4, promptIds: ids, promptSource: 'p.jsonl' });
    const r = await run(promptIds);
    expect(r.prompts).toBe('p.jsonl');
    expect(r.positions).toBe(16);
    expect(r.schemes[0]!.quantization).toBe('wint8');
    // Only the first 8 tokens of the first 2 prompts count: changing the rest changes nothing.
    const tail = await run([[...promptIds[0]!.slice(0, 8), 1, 2, 3], promptIds[1]!.slice(0, 8)]);
    expect(tail.bf16_entropy_mean).toBe(r.bf16_entropy_mean);
    expect(tail.schemes[0]!.mean_kl).toBe(r.schemes[0]!.mean_kl);
  });

  it('refuses too few or too short prompts', async () => {
    const weights = await loadTextModelWeights(modelDir);
    const base = { weights, model: modelDir, schemes: ['wint8' as const], promptTokens: 8, greedyTokens: 2 };
    await expect(runQualityBench({ ...base, prompts: 2, promptIds: [[1, 2, 3, 4, 5, 6, 7, 8]] })).rejects.toThrow(/2 prompts asked for, 1 given/);
    await expect(runQualityBench({ ...base, prompts: 1, promptIds: [[1, 2, 3]] })).rejects.toThrow(/prompt 1 has 3 tokens, fewer than 8/);
  });
});
