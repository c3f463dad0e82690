import { describe, expect, it } from 'vitest';
import { makeSyntheticWeights, seededRandom } from '../reference/index.js';
import type { SamplingParams } from '../../protocol/request.js';
import type { Grammar } from '../../grammar/index.js';
import { ModelRunner } from '../runner/model-runner.js';
import { Engine } from './engine.js';
import { collect } from '../../../test/fixtures/collect-stream.js';

// A 128-token model whose vocabulary is 95 printable ASCII bytes plus JSON-ish multi-byte pieces,
// so the random model's preferences collide with the grammar all the time.
const weights = makeSyntheticWeights({ family: 'ernie4_5', seed: 5, hiddenSize: 64, headDim: 16, vocabSize: 128, numLayers: 2 });
const EOS = 2;
const PIECES = ['{"', '"}', '":', '","', 'name', 'true', 'false', 'null', '12', '345', '"a"', '[]', '{}', '],', ' "', 'ab', '\\n', '\\u00', 'é', 'xyz', '0.5', '-1', 'e+', '"name":"', ',"n":', '}}', '{{', '::', ']]', '"n"'];
const TOKENS: Uint8Array[] = [new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)];
for (let b = 32; b < 127; b++) TOKENS.push(Uint8Array.of(b));
for (const p of PIECES) TOKENS.push(new Uint8Array(Buffer.from(p, 'utf8')));
const vocabulary = { size: TOKENS.length, bytes: (id: number) => TOKENS[id] ?? new Uint8Array(0) };
const decode = (ids: number[]) => Buffer.concat(ids.filter((t) => t !== EOS).map((t) => TOKENS[t]!)).toString('utf8');

/** {"name": <string of at most 6 chars>, "n": <integer>, "tags"?: [<"a"|"b">, ...]} */
const GRAMMAR: Grammar = {
  root: 'obj',
  rules: {
    obj: {
      k: 'seq',
      items: [
        { k: 'lit', text: '{"name":' },
        { k: 'string', maxLength: 6 },
        { k: 'lit', text: ',"n":' },
        { k: 'number', integer: true },
        { k: 'repeat', min: 0, max: 1, item: { k: 'seq', items: [{ k: 'lit', text: ',"tags":[' }, { k: 'repeat', min: 0, sep: { k: 'lit', text: ',' }, item: { k: 'alt', items: [{ k: 'lit', text: '"a"' }, { k: 'lit', text: '"b"' }] } }, { k: 'lit', text: ']' }] } },
        { k: 'lit', text: '}' },
      ],
    },
  },
};
const GRAMMAR_TEXT = JSON.stringify(GRAMMAR);
const MIN_LENGTH = '{"name":"","n":0}'.length;

function params(maxTokens: number, extra: Partial<SamplingParams> = {}): SamplingParams {
  return { temperature: 0, topP: 1, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1, maxTokens, stopTokenIds: [], ignoreEos: false, ...extra };
}

function prompt(n: number, seed: number): number[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, () => 3 + Math.floor(r() * 120));
}

function makeEngine(opts: { vocab?: boolean; maxBatchTokens?: number } = {}): Engine {
  const runner = new ModelRunner(weights, { numBlocks: 128, blockSize: 16, maxBatchTokens: opts.maxBatchTokens ?? 256, maxModelLen: 512 });
  return new Engine(runner, { eosTokenIds: [EOS], vocabulary: opts.vocab === false ? undefined : vocabulary });
}

function isValid(text: string): boolean {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    const keys = Object.keys(v);
    return typeof v.name === 'string' && [...v.name].length <= 6 && Number.isInteger(v.n) && keys[0] === 'name' && keys[1] === 'n'
      && (keys.length === 2 || (keys.length === 3 && Array.isArray(v.tags) && (v.tags as unknown[]).every((t) => t === 'a' || t === 'b')));
  } catch {
    return false;
  }
}

describe('structured output in the engine', () => {
  it('every output is a sentence of the grammar, greedy and sampled, whenever max_tokens leaves room', async () => {
    const engine = makeEngine();
    try {
      for (const maxTokens of [MIN_LENGTH + 1, MIN_LENGTH + 4, 30, 64]) {
        for (const [i, temperature] of [0, 0.7, 1.5].entries()) {
          const { tokens, last } = await collect(engine.submit({ id: `r-${maxTokens}-${i}`, promptTokenIds: prompt(9, maxTokens + i), sampling: params(maxTokens, { temperature, seed: 7 + i }), grammar: GRAMMAR_TEXT }));
          const text = decode(tokens);
          expect(isValid(text), `${text} (max_tokens ${maxTokens}, T ${temperature})`).toBe(true);
          expect(last.finishReason).toBe('stop');
          expect(tokens.length).toBeLessThanOrEqual(maxTokens);
        }
      }
    } finally {
      await engine.shutdown();
    }
  });

  it('without a grammar the same model writes no JSON, so the mask is what makes it valid', async () => {
    const engine = makeEngine();
    try {
      const { tokens } = await collect(engine.submit({ id: 'free', promptTokenIds: prompt(9, 31), sampling: params(30, { ignoreEos: true }) }));
      expect(isValid(decode(tokens))).toBe(false);
    } finally {
      await engine.shutdown();
    }
  });

  it('too few tokens for the shortest sentence: the partial output ends with finish_reason length', async () => {
    const engine = makeEngine();
    try {
      const { tokens, last } = await collect(engine.submit({ id: 'short', promptTokenIds: prompt(9, 1), sampling: params(5), grammar: GRAMMAR_TEXT }));
      expect(last.finishReason).toBe('length');
      expect(tokens).toHaveLength(5);
      expect('{"name":"","n":0}'.startsWith(decode(tokens).slice(0, 3))).toBe(true);
    } finally {
      await engine.shutdown();
    }
  });

  it('is bit-identical across batching, chunked prefill and resuming from any token', async () => {
    const solo = makeEngine();
    const p = prompt(40, 99);
    const sampling = params(40, { temperature: 1, seed: 1234 });
    let reference: number[];
    try {
      reference = (await collect(solo.submit({ id: 'solo', promptTokenIds: p, sampling, grammar: GRAMMAR_TEXT }))).tokens;
    } finally {
      await solo.shutdown();
    }
    expect(isValid(decode(reference))).toBe(true);
    const busy = makeEngine({ maxBatchTokens: 16 });
    try {
      const runs = [collect(busy.submit({ id: 'x', promptTokenIds: p, sampling, grammar: GRAMMAR_TEXT }))];
      for (let i = 0; i < 3; i++) runs.push(collect(busy.submit({ id: `n${i}`, promptTokenIds: prompt(20 + i, i), sampling: params(20, { temperature: 1, seed: i }), grammar: i === 1 ? undefined : GRAMMAR_TEXT })));
      expect((await Promise.all(runs))[0]!.tokens).toEqual(reference);
      for (const cut of [1, 5, reference.length - 1]) {
        const resumed = await collect(busy.submit({ id: `cut${cut}`, promptTokenIds: p, sampling, grammar: GRAMMAR_TEXT, resumeOutputTokenIds: reference.slice(0, cut) }));
        expect([...reference.slice(0, cut), ...resumed.tokens]).toEqual(reference);
      }
    } finally {
      await busy.shutdown();
    }
  });

  it('logit_bias: +100 makes a token the greedy choice, -100 removes it; logprobs still report the model', async () => {
    const engine = makeEngine();
    try {
      const p = prompt(12, 3);
      const plain = await collect(engine.submit({ id: 'plain', promptTokenIds: p, sampling: params(4, { ignoreEos: true, logprobs: 0 }) }));
      const forced = await collect(engine.submit({ id: 'forced', promptTokenIds: p, sampling: params(4, { ignoreEos: true, logitBias: { 77: 100 }, logprobs: 0 }) }));
      expect(forced.tokens).toEqual([77, 77, 77, 77]);
      const banned = await collect(engine.submit({ id: 'banned', promptTokenIds: p, sampling: params(1, { ignoreEos: true, logitBias: { [plain.tokens[0]!]: -100 } }) }));
      expect(banned.tokens[0]).not.toBe(plain.tokens[0]);
    } finally {
      await engine.shutdown();
    }
  });

  it('refuses a grammar it cannot use: no vocabulary on this worker, or a malformed grammar', async () => {
    const bare = makeEngine({ vocab: false });
    const engine = makeEngine();
    try {
      expect(() => bare.submit({ id: 'g', promptTokenIds: [5, 6], sampling: params(8), grammar: GRAMMAR_TEXT })).toThrow(/vocabulary/);
      expect(() => engine.submit({ id: 'bad', promptTokenIds: [5, 6], sampling: params(8), grammar: '{"root":"x","rules":{}}' })).toThrow(RangeError);
      expect(() => engine.submit({ id: 'bias', promptTokenIds: [5, 6], sampling: params(8, { logitBias: { 5: 101 } }) })).toThrow(/logitBias/);
      expect(() => engine.submit({ id: 'bias2', promptTokenIds: [5, 6], sampling: params(8, { logitBias: { 500: 1 } }) })).toThrow(/vocabulary/);
    } finally {
      await bare.shutdown();
      await engine.shutdown();
    }
  });
});
