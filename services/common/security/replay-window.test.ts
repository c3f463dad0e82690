import { describe, expect, it } from 'vitest';
import { RecordClock, ReplayWindow } from './replay-window.js';
import { SEAL_MAX_AGE_MS } from './seal.js';

describe('ReplayWindow', () => {
  it('accepts an id once while a seal issued then still opens, and forgets it after', () => {
    const w = new ReplayWindow();
    const t0 = 1_000_000;
    expect(w.accept('a', t0, t0)).toBe(true);
    expect(w.accept('a', t0, t0 + 1)).toBe(false);
    expect(w.accept('a', t0, t0 + SEAL_MAX_AGE_MS)).toBe(false);
    // Past the window the seal itself would be stale, so the id can be dropped.
    expect(w.accept('b', t0 + SEAL_MAX_AGE_MS + 1, t0 + SEAL_MAX_AGE_MS + 1)).toBe(true);
    expect(w.size).toBe(1);
  });

  it('keeps a seal issued in the future (a fast clock) as long as it can still open', () => {
    const w = new ReplayWindow();
    const now = 5_000_000;
    expect(w.accept('f', now + 30_000, now)).toBe(true);
    expect(w.accept('f', now + 30_000, now + 80_000)).toBe(false);
  });

  it('never holds more than maxEntries ids (a flood forgets its own oldest)', () => {
    const w = new ReplayWindow(120_000, 1000);
    for (let i = 0; i < 5000; i++) w.accept(`m${i}`, 0, 0);
    expect(w.size).toBeLessThanOrEqual(1001);
    expect(w.accept('m4999', 0, 0)).toBe(false);
  });
});

describe('RecordClock', () => {
  it('refuses a record older than the newest seen for its key; equal and newer pass; keys are independent', () => {
    const c = new RecordClock();
    expect(c.accept('w1', 100, 100)).toBe(true);
    expect(c.accept('w1', 100, 101)).toBe(true);
    expect(c.accept('w1', 99, 102)).toBe(false);
    expect(c.accept('w2', 50, 103)).toBe(true);
    expect(c.accept('w1', 200, 200)).toBe(true);
    expect(c.accept('w1', 150, 201)).toBe(false);
  });
});
