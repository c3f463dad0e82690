import { describe, expect, it } from 'vitest';
import { compileGrammar } from './compile.js';
import { GrammarCache } from './grammar-cache.js';
import { jsonSchemaGrammar } from './json-schema.js';
import { toolCallGrammar } from './tool-call.js';
import { TokenMasker } from './token-mask.js';
import { VocabTrie, type TokenVocabulary } from './vocab-trie.js';
import type { Grammar } from './grammar.js';

// Every byte as a token (byte fallback), control tokens without bytes, and pieces that cross
// JSON syntax boundaries the way real BPE pieces do.
const EOS = 1;
const PIECES = ['{"', '"}', '":', '","', '":"', 'name', 'true', 'false', 'null', '12', '345', '"a"', '[]', '{}', '],', ' "', '\\n', '\\u00', 'é', '0.5', '-1', 'e+', '}}', ']]', '<tool_call>', '</tool_call>', '{"name": "', '", "arguments": ', '"}</', 'city', 'Paris', '🚀', '\n<'];
const TOKENS: Uint8Array[] = [new Uint8Array(0), new Uint8Array(0)];
for (let b = 0; b < 256; b++) TOKENS.push(Uint8Array.of(b));
for (const p of PIECES) TOKENS.push(new Uint8Array(Buffer.from(p, 'utf8')));
const VOCAB: TokenVocabulary = { size: TOKENS.length, bytes: (id) => TOKENS[id]! };

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** Greedy over random logits under the mask, as the engine does; returns the text and how it ended. */
function generate(cache: GrammarCache, text: string, budget: number, seed: number): { bytes: number[]; ended: 'eos' | 'complete' | 'length' } {
  const st = cache.start(text, [EOS]);
  const rand = lcg(seed);
  const logits = new Float32Array(VOCAB.size);
  const masked = new Float32Array(VOCAB.size);
  const bytes: number[] = [];
  for (let r = budget; r > 0; r--) {
    for (let i = 0; i < logits.length; i++) logits[i] = rand() * 8;
    st.apply(logits, r, masked);
    let best = -1;
    for (let i = 0; i < masked.length; i++) if (masked[i]! > -Infinity && (best < 0 || masked[i]! > masked[best]!)) best = i;
    if (best === EOS) return { bytes, ended: 'eos' };
    st.advance(best);
    bytes.push(...TOKENS[best]!);
    if (st.complete) return { bytes, ended: 'complete' };
  }
  return { bytes, ended: 'length' };
}

const SCHEMA = {
  type: 'object',
  properties: { name: { type: 'string' }, tags: { type: 'array', items: { type: 'string', enum: ['a', 'bc'] } }, score: { type: ['number', 'null'] }, child: { $ref: '#' } },
  required: ['name', 'tags'],
  additionalProperties: false,
};

describe('token masks', () => {
  it('allow exactly the tokens whose bytes keep the output a prefix of a sentence (trie walk = brute force)', () => {
    const g = compileGrammar(jsonSchemaGrammar(SCHEMA));
    const masker = new TokenMasker(g, VOCAB, new VocabTrie(VOCAB));
    for (const prefix of ['', '{"name":"', '{"name":"x","tags":[', '{"name":"x","tags":["a"],"score":1', '{"name":"x","tags":[],"child":{"na']) {
      const set = g.matcher.walk(g.matcher.initial, Buffer.from(prefix))!;
      const allowed = [...masker.maskOf(set).tokens].sort((a, b) => a - b);
      const brute = TOKENS.flatMap((b, id) => (b.length > 0 && g.matcher.walk(set, b) !== null ? [id] : []));
      expect(allowed, prefix).toEqual(brute);
    }
  });

  it('every generated output is a sentence within max_tokens, whenever max_tokens leaves room for the shortest one', () => {
    const grammars: Grammar[] = [
      jsonSchemaGrammar(SCHEMA),
      toolCallGrammar([{ name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city', 'days'] } }, { name: 'noop' }], { parallel: true }),
    ];
    const cache = new GrammarCache(VOCAB);
    for (const grammar of grammars) {
      const g = compileGrammar(grammar);
      const text = JSON.stringify(grammar);
      for (let seed = 0; seed < 40; seed++) {
        const budget = g.minLength + 1 + (seed % 7) * 9;
        const out = generate(cache, text, budget, seed);
        const decoded = Buffer.from(out.bytes).toString('utf8');
        expect(out.ended, `${decoded} (budget ${budget})`).not.toBe('length');
        expect(g.acceptsText(decoded), decoded).toBe(true);
      }
      // Below the shortest sentence: a prefix, cut at max_tokens.
      const short = generate(cache, text, 2, 1);
      expect(short.ended).toBe('length');
      expect(g.matcher.walk(g.matcher.initial, short.bytes)).not.toBeNull();
    }
  });

  it('a grammar is compiled once per text and its masks are reused across requests', () => {
    const cache = new GrammarCache(VOCAB);
    const text = JSON.stringify(jsonSchemaGrammar(SCHEMA));
    generate(cache, text, 60, 3);
    generate(cache, text, 60, 4);
    expect(cache.size).toBe(1);
  });
});
