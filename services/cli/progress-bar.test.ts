import { describe, expect, it } from 'vitest';
import { createProgressBar, formatBytes } from './progress-bar.js';

function sink(isTTY: boolean) {
  const out: string[] = [];
  return { out, stream: { isTTY, columns: 100, write: (s: string) => out.push(s) } };
}

describe('progress bar', () => {
  it('prints one plain line per 10% when not a TTY', () => {
    const { out, stream } = sink(false);
    const bar = createProgressBar({ label: 'gen', stream });
    for (let d = 0; d <= 1000; d += 7) bar.update(d, 1000);
    bar.update(1000, 1000);
    bar.finish();
    bar.finish();
    expect(out).toHaveLength(10);
    expect(out[0]).toBe('gen: 10% (105 B of 1000 B)\n');
    expect(out[9]).toBe('gen: 100% (1000 B of 1000 B)\n');
  });

  it('says done when finished early on a non-TTY', () => {
    const { out, stream } = sink(false);
    const bar = createProgressBar({ label: 'x', stream, unit: 'count' });
    bar.update(5, 100);
    bar.finish();
    expect(out).toEqual(['x: done (5 of 100)\n']);
  });

  it('redraws in place on a TTY, throttled, ending with a newline', () => {
    const { out, stream } = sink(true);
    let t = 0;
    const bar = createProgressBar({ label: 'gen', stream, now: () => t });
    bar.update(0, 2 ** 20);
    t = 50;
    bar.update(2 ** 19, 2 ** 20); // within 100 ms: skipped
    t = 1000;
    bar.update(2 ** 19, 2 ** 20);
    bar.update(2 ** 20, 2 ** 20); // completion always draws
    bar.finish();
    expect(out).toHaveLength(4);
    expect(out.every((s) => s.startsWith('\r'))).toBe(true);
    expect(out[1]).toContain(' 50.0% 512.0 KB/1.00 MB');
    expect(out[1]).toMatch(/\[#+\.+\]/);
    expect(out[3]!.endsWith('\n')).toBe(true);
    expect(out[3]).toContain('100.0%');
  });

  it('formats byte counts', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.50 KB');
    expect(formatBytes(720 * 2 ** 20)).toBe('720.0 MB');
    expect(formatBytes(3 * 2 ** 30)).toBe('3.00 GB');
  });
});
