import { describe, expect, it } from 'vitest';
import { ReasoningParser, splitReasoning, type ReasoningDelta } from './reasoning-parser.js';
import { chunkings, seededRandom } from '../../test/fixtures/chunkings.js';

function run(chunks: string[], thinkingEnabled: boolean): ReasoningDelta {
  const p = new ReasoningParser({ thinkingEnabled });
  const out: ReasoningDelta = { reasoning: '', content: '' };
  for (const d of [...chunks.map((c) => p.push(c)), p.flush()]) {
    out.reasoning += d.reasoning;
    out.content += d.content;
  }
  return out;
}

/** Every chunking of `text` gives `want`, and so does the non-streaming helper. */
function expectSplit(text: string, thinkingEnabled: boolean, want: ReasoningDelta): void {
  expect(splitReasoning(text, thinkingEnabled)).toEqual(want);
  for (const chunks of chunkings(text)) expect(run(chunks, thinkingEnabled), JSON.stringify(chunks)).toEqual(want);
}

describe('ReasoningParser, thinking enabled', () => {
  it('splits on </think> and drops the newlines around the tag', () => {
    expectSplit('Let me think.\n2 + 2 = 4.\n</think>\n\nThe answer is 4.', true, {
      reasoning: 'Let me think.\n2 + 2 = 4.',
      content: 'The answer is 4.',
    });
  });

  it('drops a repeated opening <think> and the newlines after it', () => {
    expectSplit('<think>\n\nplan\n</think>\n\nanswer', true, { reasoning: 'plan', content: 'answer' });
    expectSplit('\n<think>plan</think>answer', true, { reasoning: 'plan', content: 'answer' });
  });

  it('drops newlines that follow the prompt’s own "<think>\\n"', () => {
    expectSplit('\n\nplan</think>answer', true, { reasoning: 'plan', content: 'answer' });
  });

  it('treats output without </think> as all reasoning (e.g. cut off by max_tokens)', () => {
    expectSplit('still thinking\n', true, { reasoning: 'still thinking\n', content: '' });
    expectSplit('still thinking </thi', true, { reasoning: 'still thinking </thi', content: '' });
  });

  it('keeps later tags in the content verbatim', () => {
    expectSplit('r</think>a </think> b <think>', true, { reasoning: 'r', content: 'a </think> b <think>' });
  });

  it('keeps inner newlines and CRLF line ends around the tag', () => {
    expectSplit('a\n\nb\r\n</think>\r\n\r\nc\n\nd\n', true, { reasoning: 'a\n\nb', content: 'c\n\nd\n' });
  });

  it('emits reasoning eagerly, holding back only a possible tag', () => {
    const p = new ReasoningParser({ thinkingEnabled: true });
    expect(p.push('step one')).toEqual({ reasoning: 'step one', content: '' });
    expect(p.push(', two\n</thi')).toEqual({ reasoning: ', two', content: '' });
    expect(p.push('nk>\n\nDone')).toEqual({ reasoning: '', content: 'Done' });
    expect(p.push(' now')).toEqual({ reasoning: '', content: ' now' });
    expect(p.flush()).toEqual({ reasoning: '', content: '' });
  });
});

describe('ReasoningParser, thinking disabled', () => {
  it('passes plain output through as content', () => {
    expectSplit('Hello there.\n', false, { reasoning: '', content: 'Hello there.\n' });
    expectSplit('\n  indented', false, { reasoning: '', content: '\n  indented' });
    expectSplit('', false, { reasoning: '', content: '' });
  });

  it('still splits output that opens with <think>', () => {
    expectSplit('<think>\nhmm\n</think>\n\nHi', false, { reasoning: 'hmm', content: 'Hi' });
    expectSplit('  <think>hmm', false, { reasoning: 'hmm', content: '' });
  });

  it('does not mistake look-alikes for the tag', () => {
    expectSplit('<thinking is fun</think>', false, { reasoning: '', content: '<thinking is fun</think>' });
    expectSplit('<thi', false, { reasoning: '', content: '<thi' });
    expectSplit('x <think>y</think>', false, { reasoning: '', content: 'x <think>y</think>' });
  });

  it('emits content as soon as it cannot be an opening tag', () => {
    const p = new ReasoningParser({ thinkingEnabled: false });
    expect(p.push('<t')).toEqual({ reasoning: '', content: '' });
    expect(p.push('able>')).toEqual({ reasoning: '', content: '<table>' });
  });
});

describe('ReasoningParser, random outputs', () => {
  it('gives the same split for every chunking', () => {
    const rnd = seededRandom(9);
    const parts = ['<think>', '</think>', '\n', '\r\n', ' ', 'a', '中', '😀', '<', '</th', 'ink>'];
    for (let round = 0; round < 200; round++) {
      const text = Array.from({ length: Math.floor(rnd() * 10) }, () => parts[Math.floor(rnd() * parts.length)]).join('');
      for (const enabled of [true, false]) {
        const want = splitReasoning(text, enabled);
        // The split only removes markup: what is left is the text minus tags and newlines.
        expect((want.reasoning + want.content).length).toBeLessThanOrEqual(text.length);
        for (const chunks of chunkings(text, 5, round)) expect(run(chunks, enabled), JSON.stringify({ chunks, enabled })).toEqual(want);
      }
    }
  });
});
