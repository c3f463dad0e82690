import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byteLevelChar } from './byte-level.js';
import { generateTokenizer, type TokenizerFormat } from '../../tools/tokenizer/generate-tokenizer.js';
import { ERNIE_SPECIAL_TOKENS } from '../../tools/tokenizer/generated-vocab.js';
import { HfBpeTokenizer } from './hf-bpe-tokenizer.js';
import { parseHfTokenizerJson, type HfComponent, type HfTokenizerJson } from './hf-tokenizer-json.js';
import { IncrementalDetokenizer } from './incremental-detokenizer.js';
import { loadTokenizer } from './load-tokenizer.js';
import { readSentencePieceModel } from './sentencepiece-model.js';
import { SentencePieceTokenizer } from './sentencepiece-tokenizer.js';
import { seededRandom } from '../../test/fixtures/chunkings.js';
import type { Tokenizer } from './tokenizer.js';

const TEXTS = [
  '你好，世界。今天天气很好',
  '龘靐齉爩 — rare Han characters take the byte-fallback path',
  'こんにちは、世界。안녕하세요, 세계!',
  'emoji 😀👍🎉🚀 ❤️ ✨ family 👨‍👩‍👧‍👦 flags 🇨🇳🇺🇸 hieroglyph 𓀀𓂀',
  ' leading space, <think>\nplan\n</think>\n\n<tool_call>{"name": "f"}</tool_call>',
  'Mixed 中文 and English, with math ∑ x² ≤ ∞.',
];

const FIRST_BYTE_ID = ERNIE_SPECIAL_TOKENS.length;

/** Streams ids through a fresh detokenizer; returns the deltas (last one from flush). */
function stream(tok: Tokenizer, ids: number[], skipSpecialTokens?: boolean): string[] {
  const detok = new IncrementalDetokenizer(tok, skipSpecialTokens === undefined ? {} : { skipSpecialTokens });
  const deltas = ids.map((id) => detok.push(id));
  deltas.push(detok.flush());
  expect(detok.text).toBe(deltas.join(''));
  return deltas;
}

/** Random ids, biased toward byte pieces (half characters) and special tokens. */
function randomIds(tok: Tokenizer, rnd: () => number, maxLen: number): number[] {
  const n = Math.floor(rnd() * maxLen);
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = rnd();
    if (r < 0.4) ids.push(FIRST_BYTE_ID + 0x80 + Math.floor(rnd() * 0x80)); // continuation / lead bytes
    else if (r < 0.5) ids.push(FIRST_BYTE_ID + Math.floor(rnd() * 0x80));
    else if (r < 0.6) ids.push(Math.floor(rnd() * FIRST_BYTE_ID));
    else ids.push(Math.floor(rnd() * (tok.vocabSize + 8)) - 2); // includes ids it does not know
  }
  return ids;
}

/** The property: streamed deltas concatenate to decode() of all ids. */
function checkRandomSequences(tok: Tokenizer, seed: number, count = 300): void {
  const rnd = seededRandom(seed);
  for (let i = 0; i < count; i++) {
    const ids = randomIds(tok, rnd, 40);
    for (const skip of [true, false]) {
      const expected = tok.decode(ids, { skipSpecialTokens: skip });
      expect(stream(tok, ids, skip).join(''), `ids ${JSON.stringify(ids)} skip=${skip}`).toBe(expected);
    }
  }
}

let root: string;
const toks = {} as Record<TokenizerFormat, Tokenizer>;
let spStrip: Tokenizer;
let jsonStrip: Tokenizer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tandem-detok-'));
  for (const format of ['sentencepiece', 'json'] as const) {
    await generateTokenizer(join(root, format), { vocabSize: 1024, formats: [format], extraPieces: ['Paris', ' the capital'] });
    toks[format] = await loadTokenizer(join(root, format));
  }
  // Variants whose decode() drops a leading space, as real SentencePiece models with a
  // dummy prefix (and tokenizer.json files with a Strip decoder) do.
  const model = readSentencePieceModel(await readFile(join(root, 'sentencepiece', 'tokenizer.model')));
  model.normalizerSpec.addDummyPrefix = true;
  spStrip = new SentencePieceTokenizer(model);
  const tj = parseHfTokenizerJson(await readFile(join(root, 'json', 'tokenizer.json'), 'utf8'));
  (tj.decoder!.decoders as HfComponent[]).push({ type: 'Strip', content: ' ', start: 1, stop: 0 });
  jsonStrip = new HfBpeTokenizer(tj);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe.each(['sentencepiece', 'json'] as const)('IncrementalDetokenizer, generated %s tokenizer', (format) => {
  it('streams random id sequences to exactly what decode() gives', () => {
    checkRandomSequences(toks[format], 11);
  });

  it.each(TEXTS)('streams %s without ever emitting a broken character', (text) => {
    const tok = toks[format];
    const ids = tok.encode(text);
    const detok = new IncrementalDetokenizer(tok, { skipSpecialTokens: false });
    ids.forEach((id, i) => {
      const delta = detok.push(id);
      expect(delta).not.toContain('\uFFFD');
      // Everything complete so far is out; only an unfinished character is held.
      expect(detok.text).toBe(tok.decode(ids.slice(0, i + 1)).replace(/\uFFFD$/, ''));
    });
    expect(detok.flush()).toBe('');
    expect(detok.text).toBe(text);
  });

  it('holds a byte-fallback character until its last byte', () => {
    const tok = toks[format];
    const ids = tok.encode('𓀀');
    expect(ids).toHaveLength(4);
    const detok = new IncrementalDetokenizer(tok);
    expect(ids.map((id) => detok.push(id))).toEqual(['', '', '', '𓀀']);
  });

  it('turns an unfinished character into U+FFFD on flush', () => {
    const tok = toks[format];
    const ids = [...tok.encode('ok'), ...tok.encode('𓀀').slice(0, 2)];
    const detok = new IncrementalDetokenizer(tok);
    expect(ids.map((id) => detok.push(id)).join('')).toBe('ok');
    expect(detok.flush()).toBe('\uFFFD');
    expect(detok.text).toBe(tok.decode(ids));
  });

  it('skips special tokens by default and keeps them on request', () => {
    const tok = toks[format];
    const ids = tok.encode('<|begin_of_sentence|>hi<think>x</think><|end_of_sentence|>');
    expect(stream(tok, ids).join('')).toBe('hi<think>x</think>');
    expect(stream(tok, ids, false).join('')).toBe('<|begin_of_sentence|>hi<think>x</think><|end_of_sentence|>');
  });

  it('emits an extra piece as one delta', () => {
    const tok = toks[format];
    const ids = tok.encode('Paris is the capital');
    expect(ids).toContain(tok.pieceToId('Paris'));
    expect(stream(tok, ids).join('')).toBe('Paris is the capital');
  });

  it('refuses push() after flush() and flushes once', () => {
    const detok = new IncrementalDetokenizer(toks[format]);
    detok.push(toks[format].encode('a')[0]!);
    expect(detok.flush()).toBe('');
    expect(detok.flush()).toBe('');
    expect(() => detok.push(0)).toThrow(/after flush/);
  });
});

describe('IncrementalDetokenizer with a leading-space-stripping tokenizer', () => {
  const stripping = (format: TokenizerFormat): Tokenizer => (format === 'json' ? jsonStrip : spStrip);

  it.each(['sentencepiece', 'json'] as const)('%s: random sequences match decode()', (format) => {
    const tok = stripping(format);
    expect(tok.stripsLeadingSpace).toBe(true);
    checkRandomSequences(tok, 23, 400);
  });

  it.each(['sentencepiece', 'json'] as const)('%s: strips only the first emitted token, after skipped ones', (format) => {
    const tok = stripping(format);
    // Same vocabulary as the non-stripping tokenizer: " the" is one "▁the" piece there.
    const space = toks[format].encode(' the');
    const ids = [1, 3, ...space, ...space]; // <s>, <|begin_of_sentence|>, " the", " the"
    expect(stream(tok, ids, true).join('')).toBe(tok.decode(ids, { skipSpecialTokens: true }));
    expect(stream(tok, ids, true).join('')).toBe('the the');
    // A byte piece for " " and a user-defined piece follow the tokenizer's own rule.
    for (const first of [FIRST_BYTE_ID + 0x20, tok.pieceToId(' the capital')!]) {
      const seq = [first, ...space];
      expect(stream(tok, seq).join('')).toBe(tok.decode(seq));
    }
  });
});

describe('IncrementalDetokenizer with byte-level tokens that split characters', () => {
  // GPT-2 style: tokens are byte runs; here some cover only part of a character.
  function byteLevelTokenizer(): HfBpeTokenizer {
    const vocab = new Map<string, number>();
    for (let b = 0; b < 256; b++) vocab.set(byteLevelChar(b), b);
    const bl = (...bytes: number[]): string => bytes.map(byteLevelChar).join('');
    // "你" = E4 BD A0, "好" = E5 A5 BD, "😀" = F0 9F 98 80
    const merges: Array<[string, string]> = [
      [bl(0x20), bl(0xe4)],
      [bl(0xbd), bl(0xa0)],
      [bl(0xe5), bl(0xa5)],
      [bl(0xbd), bl(0xe5)],
      [bl(0xf0), bl(0x9f)],
      [bl(0x98), bl(0x80)],
    ];
    for (const [a, b] of merges) vocab.set(a + b, vocab.size);
    const tj: HfTokenizerJson = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      post_processor: null,
      decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab,
        merges,
      },
    };
    return new HfBpeTokenizer(tj);
  }

  it('emits each character once its bytes are complete', () => {
    const tok = byteLevelTokenizer();
    const ids = tok.encode(' 你好😀', { addSpecialTokens: false });
    expect(ids.length).toBeLessThan(Buffer.byteLength(' 你好😀'));
    const deltas = stream(tok, ids);
    expect(deltas.join('')).toBe(' 你好😀');
    for (const d of deltas) expect(d).not.toContain('\uFFFD');
    checkRandomSequences(tok, 5, 200);
  });
});
