import { describe, expect, it } from 'vitest';
import { PrefillRegistry } from './prefill-registry.js';

describe('PrefillRegistry (aborting prefills for cancelled requests)', () => {
  it('aborts a running prefill and says so; it may start again after finishing', () => {
    const r = new PrefillRegistry();
    let stopped = 0;
    expect(r.start('a', () => stopped++)).toBe(true);
    expect(r.abort('a')).toBe(true);
    expect(stopped).toBe(1);
    r.finish('a');
  });

  it('tombstones a prefill that has not started: a late call for it is refused', () => {
    const r = new PrefillRegistry();
    expect(r.abort('late')).toBe(false);
    expect(r.start('late', () => undefined)).toBe(false);
    expect(r.start('other', () => undefined)).toBe(true);
  });

  it('forgets tombstones after their time', async () => {
    const r = new PrefillRegistry(20);
    r.abort('x');
    await new Promise((res) => setTimeout(res, 40));
    expect(r.start('x', () => undefined)).toBe(true);
  });
});
