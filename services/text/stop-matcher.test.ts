import { describe, expect, it } from 'vitest';
import { StopStringMatcher } from './stop-matcher.js';
import { chunkings, seededRandom } from '../../test/fixtures/chunkings.js';

interface Outcome {
  text: string;
  stopped: boolean;
  matched?: string;
}

/** Oracle on the whole text: cut where a stop string is first completed (ties: longer). */
function expected(text: string, stops: string[]): Outcome {
  let best: { at: number; end: number; stop: string } | undefined;
  for (const stop of stops) {
    const at = text.indexOf(stop);
    if (at < 0) continue;
    const end = at + stop.length;
    if (best === undefined || end < best.end || (end === best.end && at < best.at)) best = { at, end, stop };
  }
  return best ? { text: text.slice(0, best.at), stopped: true, matched: best.stop } : { text, stopped: false };
}

/** What must be out after seeing `seen` (no stop yet): all but the longest live prefix. */
function safeToEmit(seen: string, stops: string[]): string {
  for (let k = seen.length; k > 0; k--) {
    const tail = seen.slice(seen.length - k);
    if (stops.some((s) => s.length > k && s.startsWith(tail))) return seen.slice(0, seen.length - k);
  }
  return seen;
}

function run(chunks: string[], stops: string[]): Outcome {
  const m = new StopStringMatcher(stops);
  let text = '';
  let seen = '';
  for (const chunk of chunks) {
    seen += chunk;
    const r = m.push(chunk);
    text += r.emit;
    if (r.stopped) return { text, stopped: true, matched: r.matched! };
    // Eager: nothing is held that could not still become a stop string.
    expect(text).toBe(safeToEmit(seen, stops));
  }
  return { text: text + m.flush(), stopped: false };
}

describe('StopStringMatcher', () => {
  it('passes text straight through with no stop strings', () => {
    const m = new StopStringMatcher([]);
    expect(m.push('hello <')).toEqual({ emit: 'hello <', stopped: false });
    expect(m.flush()).toBe('');
  });

  it('holds back a possible stop string and releases it when it turns out not to be one', () => {
    const m = new StopStringMatcher(['\n\nUser:']);
    expect(m.push('Answer.\n')).toEqual({ emit: 'Answer.', stopped: false });
    expect(m.push('\nUs')).toEqual({ emit: '', stopped: false });
    expect(m.push('ually')).toEqual({ emit: '\n\nUsually', stopped: false });
    expect(m.push('\n')).toEqual({ emit: '', stopped: false });
    expect(m.flush()).toBe('\n');
  });

  it('stops across many pushes and emits only the text before the stop string', () => {
    const m = new StopStringMatcher(['<END>']);
    const pushes = ['abc<', 'E', 'N', 'D', '>tail'].map((t) => m.push(t));
    expect(pushes.map((p) => p.emit).join('')).toBe('abc');
    expect(pushes.at(-1)).toEqual({ emit: '', stopped: true, matched: '<END>' });
    expect(m.stopped).toBe(true);
    expect(m.push('more')).toEqual({ emit: '', stopped: true, matched: '<END>' });
    expect(m.flush()).toBe('');
  });

  it('emits the text before a stop string found inside one push', () => {
    const m = new StopStringMatcher(['STOP', 'halt']);
    expect(m.push('go go STOP go halt')).toEqual({ emit: 'go go ', stopped: true, matched: 'STOP' });
  });

  it('stops at a stop string at the very start', () => {
    expect(new StopStringMatcher(['x']).push('xyz')).toEqual({ emit: '', stopped: true, matched: 'x' });
  });

  it('with overlapping stops, ends where a stop is first completed', () => {
    // "bc" completes before "abcd" could.
    expect(run(['xab', 'cd'], ['abcd', 'bc'])).toEqual({ text: 'xa', stopped: true, matched: 'bc' });
    // "abc" completes before "bcd".
    expect(run(['abcd'], ['bcd', 'abc'])).toEqual({ text: '', stopped: true, matched: 'abc' });
    // Both complete at once: the longer one wins (it started earlier).
    expect(run(['zabc'], ['bc', 'abc'])).toEqual({ text: 'z', stopped: true, matched: 'abc' });
    // A stop that is a prefix of another.
    expect(run(['aa', 'ab'], ['aab', 'aa'])).toEqual({ text: '', stopped: true, matched: 'aa' });
  });

  it('handles stop strings that overlap themselves ("aab" in "aaab")', () => {
    for (const chunks of chunkings('xaaaab')) {
      expect(run(chunks, ['aab'])).toEqual({ text: 'xaa', stopped: true, matched: 'aab' });
    }
  });

  it('matches stop strings made of surrogate pairs even when chunks split them', () => {
    for (const chunks of chunkings('ok 😀😁 done')) {
      expect(run(chunks, ['😁'])).toEqual({ text: 'ok 😀', stopped: true, matched: '😁' });
    }
  });

  it('accepts any number of stop strings and ignores duplicates', () => {
    const stops = Array.from({ length: 12 }, (_, i) => `#${i}#`);
    expect(run(['a #1', '1# b'], [...stops, '#11#'])).toEqual({ text: 'a ', stopped: true, matched: '#11#' });
  });

  it('rejects empty and non-string stop strings with a clear error', () => {
    expect(() => new StopStringMatcher(['ok', ''])).toThrow(/stop\[1\] is an empty string/);
    expect(() => new StopStringMatcher([1 as unknown as string])).toThrow(/stop\[0\] must be a string/);
    expect(() => new StopStringMatcher('x' as unknown as string[])).toThrow(/array/);
  });

  it('gives the same result for every chunking of random texts', () => {
    const rnd = seededRandom(3);
    const pick = (alphabet: string, n: number): string =>
      Array.from({ length: n }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('');
    for (let round = 0; round < 150; round++) {
      const stops = Array.from({ length: Math.floor(rnd() * 4) }, () => pick('ab', 1 + Math.floor(rnd() * 4)));
      const text = pick('abc', Math.floor(rnd() * 24));
      const want = expected(text, stops);
      for (const chunks of chunkings(text, 5, round)) expect(run(chunks, stops), JSON.stringify({ text, stops, chunks })).toEqual(want);
    }
  });
});
