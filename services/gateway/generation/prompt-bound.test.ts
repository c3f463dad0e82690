import { describe, expect, it } from 'vitest';
import { loadTokenizerBundle } from '../../text/load-tokenizer.js';
import { genTinyModel } from '../../../test/fixtures/models.js';
import { promptTokensAtLeast, refuseCertainlyTooLong } from './prompt-bound.js';

describe('prompt token lower bound', () => {
  it('never exceeds the real token count, whatever the text (whitespace runs, control chars, jamo, CJK, JSON)', async () => {
    const { tokenizer } = await loadTokenizerBundle(genTinyModel());
    const samples = [
      'the quick brown fox '.repeat(500),
      ' '.repeat(20_000) + 'x',
      '\u0000\u0001\u200b\u00a0'.repeat(3000),
      '\u1100\u1161\u11a8'.repeat(3000), // Hangul jamo NFKC composes 3 → 1
      'e\u0301'.repeat(5000),
      '你好世界，这是一个测试。'.repeat(800),
      JSON.stringify({ a: [1, 2, 3], b: 'x'.repeat(4000) }),
      'ﬁﬂ'.repeat(4000),
    ];
    for (const text of samples) {
      const real = tokenizer.encode(text, { addSpecialTokens: false }).length;
      expect(promptTokensAtLeast(text, tokenizer), JSON.stringify(text.slice(0, 20))).toBeLessThanOrEqual(real);
    }
    expect(() => refuseCertainlyTooLong('word '.repeat(200_000), tokenizer, 4096, 'prompt')).toThrow(/at least \d+ tokens/);
    expect(() => refuseCertainlyTooLong('word '.repeat(100), tokenizer, 4096, 'prompt')).not.toThrow();
  });
});
