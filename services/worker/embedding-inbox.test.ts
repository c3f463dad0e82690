import { describe, expect, it } from 'vitest';
import { EmbeddingInbox } from './embedding-inbox.js';
import { EncoderCache } from './encoder-cache.js';

describe('EmbeddingInbox (where a vision worker writes embeddings for a prefill worker)', () => {
  it('reserves aligned slots, hands back what was written, and frees them', () => {
    const inbox = new EmbeddingInbox(new ArrayBuffer(1024));
    const got = inbox.reserve([{ mmHash: 'a', bytes: 100 }, { mmHash: 'b', bytes: 256 }], 10_000)!;
    expect(got.slots.map((s) => s.offset)).toEqual([0, 128]);
    new Float32Array(inbox.buffer, 128, 64).fill(7);
    const taken = inbox.take(got.leaseId)!;
    expect(taken.map((t) => t.mmHash)).toEqual(['a', 'b']);
    expect([...taken[1]!.embeddings].every((v) => v === 7)).toBe(true);
    expect(inbox.freeBytes).toBe(1024);
    expect(inbox.take(got.leaseId)).toBeUndefined();
  });

  it("its guard admits a vision worker's put only under a live lease and inside that lease's slots", () => {
    const inbox = new EmbeddingInbox(new ArrayBuffer(1024));
    const a = inbox.reserve([{ mmHash: 'a', bytes: 100 }, { mmHash: 'b', bytes: 256 }], 10_000)!;
    const b = inbox.reserve([{ mmHash: 'c', bytes: 64 }], 10_000)!;
    const [sa, sb] = a.slots;
    expect(inbox.guard(a.leaseId, [{ offset: sa!.offset, length: 100 }, { offset: sb!.offset, length: 256 }])).toBeUndefined();
    expect(inbox.guard(undefined, [{ offset: sa!.offset, length: 4 }])).toMatch(/names no lease/);
    // Another request's slot, or a byte past the slot (into the alignment padding).
    expect(inbox.guard(a.leaseId, [{ offset: b.slots[0]!.offset, length: 4 }])).toMatch(/outside that lease's slots/);
    expect(inbox.guard(a.leaseId, [{ offset: sa!.offset, length: 101 }])).toMatch(/outside/);
    inbox.take(a.leaseId);
    expect(inbox.guard(a.leaseId, [{ offset: sa!.offset, length: 4 }])).toMatch(/unknown, expired or already taken/);
  });

  it('refuses what does not fit, without leaking the slots it took', () => {
    const inbox = new EmbeddingInbox(new ArrayBuffer(512));
    expect(inbox.reserve([{ mmHash: 'a', bytes: 256 }, { mmHash: 'b', bytes: 512 }], 10_000)).toBeNull();
    expect(inbox.freeBytes).toBe(512);
  });

  it('a lease nobody takes expires and its room returns', async () => {
    const inbox = new EmbeddingInbox(new ArrayBuffer(512));
    const got = inbox.reserve([{ mmHash: 'a', bytes: 512 }], 30)!;
    expect(inbox.reserve([{ mmHash: 'b', bytes: 64 }], 30)).toBeNull();
    await new Promise((r) => setTimeout(r, 60));
    expect(inbox.take(got.leaseId)).toBeUndefined();
    expect(inbox.freeBytes).toBe(512);
  });
});

describe('EncoderCache', () => {
  it('counts hits and misses and evicts the least recently used beyond its byte budget', () => {
    const c = new EncoderCache(3 * 400);
    for (const k of ['a', 'b', 'c']) c.put(k, new Float32Array(100));
    expect(c.get('a')).toBeDefined(); // a is now the most recent
    c.put('d', new Float32Array(100));
    expect(c.has('b')).toBe(false);
    expect(c.has('a') && c.has('c') && c.has('d')).toBe(true);
    expect(c.get('zz')).toBeUndefined();
    expect({ hits: c.hits, misses: c.misses }).toEqual({ hits: 1, misses: 1 });
  });
});
