import { describe, expect, it } from 'vitest';
import { ToolCallParser, defaultToolCallId, parseToolCalls, type ParsedToolCall, type ToolCallDelta } from './tool-call-parser.js';
import { chunkings, seededRandom } from '../../test/fixtures/chunkings.js';

const ids = (i: number): string => `call_${i}`;

/** Streams chunks and assembles calls the way an OpenAI client does (by index). */
function run(chunks: string[]): { content: string; calls: ParsedToolCall[]; deltas: ToolCallDelta[] } {
  const p = new ToolCallParser({ idFactory: ids });
  const deltas = [...chunks.map((c) => p.push(c)), p.flush()];
  let content = '';
  const calls: ParsedToolCall[] = [];
  for (const d of deltas) {
    content += d.content;
    for (const c of d.calls) {
      if (c.id !== undefined) {
        expect(c.index).toBe(calls.length); // first delta of a call opens the next index
        calls.push({ id: c.id, name: c.name!, arguments: '' });
      }
      calls[c.index]!.arguments += c.argumentsDelta ?? '';
    }
  }
  return { content, calls, deltas };
}

function expectParse(text: string, want: { content: string; calls: Array<Omit<ParsedToolCall, 'id'>> }): void {
  const withIds = { content: want.content, calls: want.calls.map((c, i) => ({ id: ids(i), ...c })) };
  expect(parseToolCalls(text, { idFactory: ids })).toEqual(withIds);
  for (const chunks of chunkings(text)) {
    const { content, calls } = run(chunks);
    expect({ content, calls }, JSON.stringify(chunks)).toEqual(withIds);
  }
}

const weather = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}}</tool_call>';

describe('ToolCallParser', () => {
  it('extracts a call after some content', () => {
    expectParse(`Let me check.\n${weather}`, {
      content: 'Let me check.',
      calls: [{ name: 'get_weather', arguments: '{"city":"Paris","unit":"C"}' }],
    });
  });

  it('extracts several calls, dropping the whitespace between them but keeping real text', () => {
    const second = '<tool_call>\n{"arguments": {"q": "天气 😀"}, "name": "search"}\n</tool_call>';
    expectParse(`${weather}\n${second}\n`, {
      content: '',
      calls: [
        { name: 'get_weather', arguments: '{"city":"Paris","unit":"C"}' },
        { name: 'search', arguments: '{"q":"天气 😀"}' },
      ],
    });
    expectParse(`A ${weather} then B\n\n${second} C`, {
      content: 'Athen BC',
      calls: [
        { name: 'get_weather', arguments: '{"city":"Paris","unit":"C"}' },
        { name: 'search', arguments: '{"q":"天气 😀"}' },
      ],
    });
  });

  it('normalizes arguments to JSON.stringify of the parsed object', () => {
    const args = { a: [1, 2.5, { b: null }], 's"q': 'line\nbreak', u: 'é' };
    expectParse(`<tool_call>{"name":"f","arguments":${JSON.stringify(args, null, 4)}}</tool_call>`, {
      content: '',
      calls: [{ name: 'f', arguments: JSON.stringify(args) }],
    });
  });

  it('accepts arguments given as a JSON string, "parameters", or no arguments at all', () => {
    expectParse('<tool_call>{"name": "f", "arguments": "{\\"x\\": 1}"}</tool_call>', {
      content: '',
      calls: [{ name: 'f', arguments: '{"x":1}' }],
    });
    expectParse('<tool_call>{"name": "f", "parameters": {"x": 2}}</tool_call>', {
      content: '',
      calls: [{ name: 'f', arguments: '{"x":2}' }],
    });
    expectParse('<tool_call>{"name": "now"}</tool_call>', { content: '', calls: [{ name: 'now', arguments: '{}' }] });
  });

  it('gives malformed calls back as content, exactly as written', () => {
    const bad = [
      'Try\n<tool_call>{"name": "f", "arguments": {"x": 1}</tool_call>\nok',
      '<tool_call>not json</tool_call>',
      '<tool_call>{"arguments": {}}</tool_call>',
      '<tool_call>{"name": 7, "arguments": {}}</tool_call>',
      '<tool_call>{"name": "f", "arguments": [1]}</tool_call>',
      '<tool_call>{"name": "f", "arguments": "{oops"}</tool_call>',
      '<tool_call>["f"]</tool_call>',
      'unclosed <tool_call>{"name": "f", "argu',
    ];
    for (const text of bad) expectParse(text, { content: text, calls: [] });
  });

  it('keeps counting indexes across a malformed call', () => {
    expectParse(`<tool_call>{bad}</tool_call> ${weather}`, {
      content: '<tool_call>{bad}</tool_call>',
      calls: [{ name: 'get_weather', arguments: '{"city":"Paris","unit":"C"}' }],
    });
  });

  it('accepts a complete call whose closing tag never came', () => {
    expectParse('<tool_call>{"name": "f", "arguments": {"x": 1}}\n', { content: '', calls: [{ name: 'f', arguments: '{"x":1}' }] });
  });

  it('leaves look-alike text alone', () => {
    expectParse('a <tool_calls> b <tool', { content: 'a <tool_calls> b <tool', calls: [] });
    expectParse('</tool_call> stray', { content: '</tool_call> stray', calls: [] });
  });

  it('streams content eagerly and sends each call as one delta with index, id and name', () => {
    const p = new ToolCallParser({ idFactory: ids });
    expect(p.push('Checking')).toEqual({ content: 'Checking', calls: [] });
    expect(p.push(' now.\n<tool_')).toEqual({ content: ' now.', calls: [] });
    expect(p.push('call>{"name": "f", ')).toEqual({ content: '', calls: [] });
    expect(p.push('"arguments": {}}</tool_call>\nDone')).toEqual({
      content: 'Done',
      calls: [{ index: 0, id: 'call_0', name: 'f', argumentsDelta: '{}' }],
    });
    expect(p.flush()).toEqual({ content: '', calls: [] });
  });

  it('makes random call ids by default', () => {
    const a = defaultToolCallId();
    expect(a).toMatch(/^call_[0-9a-f]{24}$/);
    expect(defaultToolCallId()).not.toBe(a);
    const parsed = parseToolCalls(weather + weather);
    expect(parsed.calls[0]!.id).toMatch(/^call_/);
    expect(parsed.calls[0]!.id).not.toBe(parsed.calls[1]!.id);
  });

  it('gives the same result for every chunking of random outputs and never throws', () => {
    const rnd = seededRandom(17);
    const parts = [
      weather,
      '<tool_call>',
      '</tool_call>',
      '{"name": "g", "arguments": {"k": "v"}}',
      '{"name": ',
      '\n',
      ' ',
      'text',
      '<tool',
      '😀',
    ];
    for (let round = 0; round < 200; round++) {
      const text = Array.from({ length: Math.floor(rnd() * 8) }, () => parts[Math.floor(rnd() * parts.length)]).join('');
      const want = parseToolCalls(text, { idFactory: ids });
      for (const chunks of chunkings(text, 5, round)) {
        const { content, calls } = run(chunks);
        expect({ content, calls }, JSON.stringify(chunks)).toEqual(want);
      }
    }
  });
});
