import { describe, expect, it } from 'vitest';
import { blockHashesOf } from '../../protocol/block-hash.js';
import { cacheKeyTokens } from '../../protocol/cache-key-tokens.js';

describe('cacheKeyTokens (prefix-cache key of a multimodal prompt)', () => {
  const prompt = [5, 6, 12, 11, 11, 11, 11, 13, 7];
  it('replaces exactly the image span, with words no text token can equal', () => {
    const k = cacheKeyTokens(prompt, [{ mmHash: 'h1', offset: 3, tokenCount: 4 }]);
    expect(k.slice(0, 3)).toEqual([5, 6, 12]);
    expect(k.slice(7)).toEqual([13, 7]);
    for (const w of k.slice(3, 7)) expect(w).toBeGreaterThanOrEqual(2 ** 31);
    expect(new Set(k.slice(3, 7)).size).toBe(4);
  });

  it('two pictures behind the same text get different block hashes; the same picture the same ones', () => {
    const a = blockHashesOf(cacheKeyTokens(prompt, [{ mmHash: 'h1', offset: 3, tokenCount: 4 }]), 4);
    const b = blockHashesOf(cacheKeyTokens(prompt, [{ mmHash: 'h2', offset: 3, tokenCount: 4 }]), 4);
    const again = blockHashesOf(cacheKeyTokens(prompt, [{ mmHash: 'h1', offset: 3, tokenCount: 4 }]), 4);
    expect(a[0]).not.toBe(b[0]);
    expect(again).toEqual(a);
  });

  it('refuses an image span outside the prompt', () => {
    expect(() => cacheKeyTokens(prompt, [{ mmHash: 'h', offset: 7, tokenCount: 4 }])).toThrow(/outside/);
  });
});
