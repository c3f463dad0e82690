import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERNIE_SPECIAL_TOKENS } from '../../tools/tokenizer/generated-vocab.js';
import { generateTokenizer, type TokenizerFormat } from '../../tools/tokenizer/generate-tokenizer.js';
import { loadTokenizer, loadTokenizerBundle } from './load-tokenizer.js';
import type { Tokenizer } from './tokenizer.js';

const ROUND_TRIP: Record<string, string> = {
  ascii: 'The quick brown fox jumps over the lazy dog. 0123456789 !@#$%^&*()_+-=[]{};\':",./<>?`~|\\',
  prose: 'A good system keeps working when the people who built it have gone home.',
  cjk: '你好，世界。今天天气很好',
  cjkRare: '龘靐齉爩 — rare Han characters take the byte-fallback path',
  japaneseKorean: 'こんにちは、世界。안녕하세요, 세계!',
  emoji: 'emoji 😀👍🎉🚀 ❤️ ✨',
  zwj: 'family 👨‍👩‍👧‍👦 coder 👩🏻‍💻 rainbow 🏳️‍🌈 wave 👋🏽',
  flags: 'flags 🇨🇳🇺🇸🇫🇷🇯🇵🇩🇪',
  whitespace: '  two leading spaces,\ttab,\n\nblank line,   three spaces, trailing  ',
  newlines: '\n\nstarts with newlines\r\nwindows line\rmac line\n',
  onlySpaces: '     ',
  code: 'function add(a, b) {\n  return a + b;\n}\n\nconsole.log(add(1, 2));\n',
  json: '{"model": "ernie-4.5", "messages": [{"role": "user", "content": "Hello!"}], "stream": true}',
  mixed: 'Mixed 中文 and English, with emoji 🤖 and math ∑ x² ≤ ∞.',
  combining: 'e\u0301 vs \u00e9, a\u030A, Z\u0351\u0346',
  empty: '',
};

const FORMATS: TokenizerFormat[] = ['sentencepiece', 'json'];

let root: string;
const dirs: Record<TokenizerFormat, string> = { sentencepiece: '', json: '' };
const toks = {} as Record<TokenizerFormat, Tokenizer>;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tandem-text-'));
  for (const format of FORMATS) {
    dirs[format] = join(root, format);
    await generateTokenizer(dirs[format], { vocabSize: 1024, formats: [format] });
    toks[format] = await loadTokenizer(dirs[format]);
  }
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe.each(FORMATS)('generated tokenizer, %s format', (format) => {
  it('writes only the requested tokenizer file', async () => {
    const files = (await readdir(dirs[format])).sort();
    const main = format === 'sentencepiece' ? 'tokenizer.model' : 'tokenizer.json';
    expect(files).toEqual([main, 'special_tokens_map.json', 'tokenizer_config.json'].sort());
    const bundle = await loadTokenizerBundle(dirs[format]);
    expect(bundle.format).toBe(format);
  });

  it.each(Object.entries(ROUND_TRIP))('round-trips %s', (_name, text) => {
    const tok = toks[format];
    const ids = tok.encode(text);
    expect(tok.decode(ids)).toBe(text);
    for (const id of ids) expect(id).toBeGreaterThanOrEqual(0);
    for (const id of ids) expect(id).toBeLessThan(tok.vocabSize);
    // tokenBytes() of each id concatenated is the UTF-8 of the text (no leading-space strip here).
    const bytes = Buffer.concat(ids.map((id) => Buffer.from(tok.tokenBytes(id))));
    expect(bytes.toString('utf8')).toBe(text);
  });

  it('learns multi-character pieces from its corpus', () => {
    const tok = toks[format];
    const text = 'The capital of France is Paris.';
    expect(tok.encode(text).length).toBeLessThan(text.length / 2);
    expect(tok.encode('今天天气很好').length).toBeLessThan(6);
  });

  it('uses byte fallback for characters outside the vocabulary', () => {
    const tok = toks[format];
    const ids = tok.encode('𓀀'); // Egyptian hieroglyph: 4 UTF-8 bytes, surely not a piece
    expect(ids.map((id) => tok.idToPiece(id))).toEqual(['<0xF0>', '<0x93>', '<0x80>', '<0x80>']);
    expect(ids.map((id) => tok.tokenBytes(id)[0])).toEqual([0xf0, 0x93, 0x80, 0x80]);
    // Half a character decodes to U+FFFD instead of throwing.
    expect(tok.decode(ids.slice(0, 2))).toBe('\uFFFD');
  });

  it('encodes every special token in text to its single id', () => {
    const tok = toks[format];
    ERNIE_SPECIAL_TOKENS.forEach((s, id) => {
      expect(tok.encode(s.content)).toEqual([id]);
      expect(tok.specialTokens.get(s.content)).toBe(id);
      expect(tok.pieceToId(s.content)).toBe(id);
      expect(tok.idToPiece(id)).toBe(s.content);
    });
    const think = tok.pieceToId('<think>')!;
    const endThink = tok.pieceToId('</think>')!;
    const ids = tok.encode('<think>plan</think>answer');
    expect(ids[0]).toBe(think);
    expect(ids).toContain(endThink);
    expect(ids.filter((id) => id === think || id === endThink)).toHaveLength(2);
    expect(tok.decode(ids)).toBe('<think>plan</think>answer');
  });

  it('frames and skips special tokens ERNIE-style', () => {
    const tok = toks[format];
    expect(tok.bosId).toBe(1);
    expect(tok.eosId).toBe(2);
    expect(tok.unkId).toBe(0);
    expect(tok.padId).toBe(0);
    expect(tok.addsBos).toBe(false);
    expect(tok.stripsLeadingSpace).toBe(false);
    expect(tok.encode('hi', { addSpecialTokens: true })).toEqual(tok.encode('hi', { addSpecialTokens: false }));
    const cls = tok.pieceToId('<|begin_of_sentence|>')!;
    const sep = tok.pieceToId('<|end_of_sentence|>')!;
    const img = tok.pieceToId('<|IMAGE_PLACEHOLDER|>')!;
    const text = '<|begin_of_sentence|>User: look <|IMAGE_PLACEHOLDER|>\nAssistant: <think>\nok\n</think>\n\nyes<|end_of_sentence|>';
    const ids = tok.encode(text);
    expect(ids[0]).toBe(cls);
    expect(ids.at(-1)).toBe(sep);
    expect(ids).toContain(img);
    expect(tok.decode(ids)).toBe(text);
    expect(tok.isSpecialId(cls)).toBe(true);
    expect(tok.isSpecialId(tok.pieceToId('<think>')!)).toBe(false);
    // <think> markup stays visible for the reasoning parser; control tokens go.
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('User: look \nAssistant: <think>\nok\n</think>\n\nyes');
  });

  it('decodes ids past its vocabulary to nothing (models may have more rows)', () => {
    const tok = toks[format];
    const ids = [...tok.encode('ok'), tok.vocabSize, tok.vocabSize + 5000];
    expect(tok.decode(ids)).toBe('ok');
    expect(tok.tokenBytes(tok.vocabSize)).toHaveLength(0);
    expect(tok.idToPiece(tok.vocabSize)).toBeUndefined();
  });

  it('carries the ERNIE chat template', async () => {
    const bundle = await loadTokenizerBundle(dirs[format]);
    expect(bundle.chatTemplate).toBeDefined();
    const prompt = bundle.chatTemplate!.render({
      messages: [{ role: 'user', content: 'Hi' }],
      addGenerationPrompt: true,
    });
    expect(prompt).toBe('<|begin_of_sentence|>User: Hi\nAssistant: ');
    const ids = bundle.tokenizer.encode(prompt, { addSpecialTokens: false });
    expect(ids[0]).toBe(bundle.tokenizer.pieceToId('<|begin_of_sentence|>'));
  });
});

describe('generateTokenizer', () => {
  it('gives identical ids in both formats', () => {
    for (const text of Object.values(ROUND_TRIP)) {
      expect(toks.json.encode(text)).toEqual(toks.sentencepiece.encode(text));
    }
  });

  it('fills a 1024-id vocabulary and lays out ids ERNIE-style', async () => {
    const tok = toks.sentencepiece;
    expect(tok.vocabSize).toBe(1024);
    expect(tok.idToPiece(0)).toBe('<unk>');
    expect(tok.idToPiece(1)).toBe('<s>');
    expect(tok.idToPiece(2)).toBe('</s>');
    expect(tok.idToPiece(3)).toBe('<|begin_of_sentence|>');
    const firstByte = ERNIE_SPECIAL_TOKENS.length;
    expect(tok.idToPiece(firstByte)).toBe('<0x00>');
    expect(tok.idToPiece(firstByte + 255)).toBe('<0xFF>');
    expect(tok.idToPiece(firstByte + 256)!.length).toBeGreaterThan(1); // first learned merge
  });

  it('is deterministic: same options give byte-identical files', async () => {
    const a = join(root, 'det-a');
    const b = join(root, 'det-b');
    await generateTokenizer(a, { vocabSize: 1024, seed: 7 });
    await generateTokenizer(b, { vocabSize: 1024, seed: 7 });
    for (const name of await readdir(a)) {
      expect(Buffer.compare(await readFile(join(a, name)), await readFile(join(b, name))), name).toBe(0);
    }
    const c = join(root, 'det-c');
    await generateTokenizer(c, { vocabSize: 1024, seed: 8 });
    // The seed only breaks ties between equally frequent pairs; the special layout is fixed.
    expect((await loadTokenizer(c)).idToPiece(5)).toBe('<think>');
  });

  it('handles a 103424-id model vocabulary quickly, using only what the corpus supports', async () => {
    const dir = join(root, 'big');
    const start = performance.now();
    const info = await generateTokenizer(dir, { vocabSize: 103424 });
    expect(performance.now() - start).toBeLessThan(1000);
    expect(info.vocabSize).toBeGreaterThan(1024);
    expect(info.vocabSize).toBeLessThan(103424);
    expect(info.specialTokens['<|IMAGE_PLACEHOLDER|>']).toBe(11);
    const tok = await loadTokenizer(dir);
    expect(tok.vocabSize).toBe(info.vocabSize);
    for (const text of Object.values(ROUND_TRIP)) expect(tok.decode(tok.encode(text))).toBe(text);
  });

  it('rejects a vocabulary too small for the fixed ids', async () => {
    await expect(generateTokenizer(join(root, 'small'), { vocabSize: 100 })).rejects.toThrow(/vocabSize/);
  });

  it('writes ERNIE-style tokenizer_config.json and special_tokens_map.json', async () => {
    const cfg = JSON.parse(await readFile(join(dirs.json, 'tokenizer_config.json'), 'utf8'));
    expect(cfg.bos_token).toBe('<s>');
    expect(cfg.eos_token).toBe('</s>');
    expect(cfg.cls_token).toBe('<|begin_of_sentence|>');
    expect(cfg.sep_token).toBe('<|end_of_sentence|>');
    expect(cfg.add_bos_token).toBe(false);
    expect(cfg.added_tokens_decoder['11']).toMatchObject({ content: '<|IMAGE_PLACEHOLDER|>', special: true });
    expect(cfg.added_tokens_decoder['5']).toMatchObject({ content: '<think>', special: false });
    expect(cfg.chat_template).toContain('User: ');
    const map = JSON.parse(await readFile(join(dirs.json, 'special_tokens_map.json'), 'utf8'));
    expect(map).toMatchObject({ bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>' });
    expect(map.additional_special_tokens).toContain('<|IMAGE_PLACEHOLDER|>');
  });
});

describe('generateTokenizer extraPieces', () => {
  const EXTRA = ['Paris', ' the capital', '{"city": "', '你好世界', '😀🎉', 'x y z'];

  it.each(FORMATS)('%s: each extra piece encodes to one non-special id and round-trips', async (format) => {
    const dir = join(root, `extra-${format}`);
    const info = await generateTokenizer(dir, { vocabSize: 1024, formats: [format], extraPieces: EXTRA });
    const tok = await loadTokenizer(dir);
    expect(tok.vocabSize).toBe(info.vocabSize);
    expect(info.vocabSize).toBeLessThanOrEqual(1024);
    expect(Object.keys(info.extraPieces)).toEqual(EXTRA);
    for (const e of EXTRA) {
      const id = info.extraPieces[e]!;
      expect(tok.encode(e)).toEqual([id]);
      expect(tok.isSpecialId(id)).toBe(false);
      expect(tok.decode([id], { skipSpecialTokens: true })).toBe(e);
      expect(Buffer.from(tok.tokenBytes(id)).toString('utf8')).toBe(e);
    }
    // New pieces come last, in the order given.
    expect(EXTRA.map((e) => info.extraPieces[e])).toEqual(EXTRA.map((_, i) => info.vocabSize - EXTRA.length + i));
    const text = 'Is Paris the capital? {"city": "Paris"} 你好世界 😀🎉 x y z!';
    const ids = tok.encode(text);
    expect(ids).toContain(info.extraPieces[' the capital']);
    expect(ids).toContain(info.extraPieces['{"city": "']);
    expect(tok.decode(ids)).toBe(text);
    for (const t of Object.values(ROUND_TRIP)) expect(tok.decode(tok.encode(t))).toBe(t);
    // The fixed layout does not move.
    ERNIE_SPECIAL_TOKENS.forEach((s, id) => expect(tok.pieceToId(s.content)).toBe(id));
    expect(tok.idToPiece(ERNIE_SPECIAL_TOKENS.length)).toBe('<0x00>');
  });

  it('gives identical ids in both formats and byte-identical files for the same options', async () => {
    const a = join(root, 'extra-a');
    const b = join(root, 'extra-b');
    await generateTokenizer(a, { vocabSize: 1024, seed: 3, extraPieces: EXTRA });
    await generateTokenizer(b, { vocabSize: 1024, seed: 3, extraPieces: EXTRA });
    for (const name of await readdir(a)) {
      expect(Buffer.compare(await readFile(join(a, name)), await readFile(join(b, name))), name).toBe(0);
    }
    const sp = (await loadTokenizerBundle(a)).tokenizer;
    const { HfBpeTokenizer } = await import('./hf-bpe-tokenizer.js');
    const hf = HfBpeTokenizer.fromJson(await readFile(join(a, 'tokenizer.json'), 'utf8'));
    for (const text of [...Object.values(ROUND_TRIP), 'Paris, the capital of x y z 你好世界😀🎉']) {
      expect(hf.encode(text)).toEqual(sp.encode(text));
    }
  });

  it('keeps every existing id when the vocabulary has room', async () => {
    const plain = await generateTokenizer(join(root, 'room-plain'), { vocabSize: 103424, formats: ['sentencepiece'] });
    const extra = await generateTokenizer(join(root, 'room-extra'), {
      vocabSize: 103424,
      formats: ['sentencepiece'],
      extraPieces: ['Paris'],
    });
    expect(extra.vocabSize).toBe(plain.vocabSize + 1);
    expect(extra.extraPieces.Paris).toBe(plain.vocabSize);
    const a = await loadTokenizer(join(root, 'room-plain'));
    const b = await loadTokenizer(join(root, 'room-extra'));
    for (let id = 0; id < plain.vocabSize; id++) expect(b.idToPiece(id)).toBe(a.idToPiece(id));
  });

  it('turns an extra piece the corpus already learned into a user-defined piece with the same id', async () => {
    const base = toks.sentencepiece;
    const firstLearned = ERNIE_SPECIAL_TOKENS.length + 256;
    const learned = base.idToPiece(firstLearned)!.replaceAll('\u2581', ' ');
    const encodings: number[][][] = [];
    for (const format of FORMATS) {
      const dir = join(root, `learned-${format}`);
      const info = await generateTokenizer(dir, { vocabSize: 1024, formats: [format], extraPieces: [learned, 'Paris'] });
      expect(info.extraPieces[learned]).toBe(firstLearned);
      expect(info.extraPieces.Paris).toBe(info.vocabSize - 1);
      const tok = await loadTokenizer(dir);
      expect(tok.encode(`a${learned}b`)).toContain(firstLearned);
      expect(tok.encode(learned)).toEqual([firstLearned]);
      for (const text of Object.values(ROUND_TRIP)) expect(tok.decode(tok.encode(text))).toBe(text);
      encodings.push(Object.values(ROUND_TRIP).map((text) => tok.encode(text)));
    }
    expect(encodings[0]).toEqual(encodings[1]);
  });

  it('rejects unusable extra pieces', async () => {
    const gen = (extraPieces: string[], vocabSize = 1024) => generateTokenizer(join(root, 'bad-extra'), { vocabSize, extraPieces });
    await expect(gen([''])).rejects.toThrow(/non-empty/);
    await expect(gen(['dup', 'dup'])).rejects.toThrow(/twice/);
    await expect(gen(['<think>'])).rejects.toThrow(/collides/);
    await expect(gen(['<0x41>'])).rejects.toThrow(/collides/);
    await expect(gen(['a\u2581b'])).rejects.toThrow(/U\+2581/);
    await expect(gen(['a', 'b'], ERNIE_SPECIAL_TOKENS.length + 257)).rejects.toThrow(/vocabSize/);
  });
});
