import { describe, expect, it } from 'vitest';
import {
  buildChatCompletion,
  buildChatCompletionChunk,
  buildChatUsageChunk,
  buildTextCompletion,
  buildTextCompletionChunk,
  buildTextCompletionUsageChunk,
  buildUsage,
  newChatMeta,
  newCompletionMeta,
  type ResponseMeta,
} from './responses.js';
import { SSE_DONE, sseData } from './sse.js';

const META: ResponseMeta = { id: 'chatcmpl-abc', created: 1700000000, model: 'ernie-4.5-0.3b' };

describe('ids', () => {
  it('makes prefixed unique ids and second timestamps', () => {
    const a = newChatMeta('m');
    const b = newChatMeta('m', 'fp_1');
    expect(a.id).toMatch(/^chatcmpl-[0-9a-f]{24}$/);
    expect(a.id).not.toBe(b.id);
    expect(b.systemFingerprint).toBe('fp_1');
    expect('systemFingerprint' in a).toBe(false);
    expect(newCompletionMeta('m').id).toMatch(/^cmpl-[0-9a-f]{24}$/);
    expect(Math.abs(a.created - Date.now() / 1000)).toBeLessThan(5);
    expect(Number.isInteger(a.created)).toBe(true);
  });
});

describe('usage', () => {
  it('totals and reports cached prompt tokens when known', () => {
    expect(buildUsage({ promptTokens: 10, completionTokens: 5 })).toEqual({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 });
    expect(buildUsage({ promptTokens: 10, completionTokens: 5, cachedTokens: 8 }).prompt_tokens_details).toEqual({ cached_tokens: 8 });
  });
});

describe('chat.completion', () => {
  it('builds a full response', () => {
    const usage = buildUsage({ promptTokens: 12, completionTokens: 3 });
    const out = buildChatCompletion({ ...META, systemFingerprint: 'fp_x' }, [
      {
        index: 0,
        content: 'Hé',
        reasoningContent: 'think',
        finishReason: 'stop',
        logprobs: [{ token: 'Hé', logprob: -0.5, top: [{ token: 'Hé', logprob: -0.5 }, { token: 'Hi', logprob: -Infinity }] }],
      },
      { index: 1, content: null, toolCalls: [{ id: 'call_1', name: 'f', arguments: '{}' }], finishReason: 'tool_calls' },
    ], usage);
    expect(out).toEqual({
      id: 'chatcmpl-abc',
      object: 'chat.completion',
      created: 1700000000,
      model: 'ernie-4.5-0.3b',
      system_fingerprint: 'fp_x',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Hé', refusal: null, reasoning_content: 'think' },
          logprobs: {
            content: [{
              token: 'Hé',
              logprob: -0.5,
              bytes: [72, 195, 169],
              top_logprobs: [{ token: 'Hé', logprob: -0.5, bytes: [72, 195, 169] }, { token: 'Hi', logprob: -9999, bytes: [72, 105] }],
            }],
            refusal: null,
          },
          finish_reason: 'stop',
        },
        {
          index: 1,
          message: { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 },
    });
    expect(Object.keys(out)).toEqual(['id', 'object', 'created', 'model', 'system_fingerprint', 'choices', 'usage']);
  });

  it('leaves out usage, fingerprint and empty tool calls when absent', () => {
    const out = buildChatCompletion(META, [{ index: 0, content: 'x', toolCalls: [], finishReason: 'length' }]);
    expect('usage' in out || 'system_fingerprint' in out).toBe(false);
    expect(out.choices[0]!.message).toEqual({ role: 'assistant', content: 'x', refusal: null });
  });
});

describe('chat.completion.chunk', () => {
  it('builds role, content, reasoning and tool-call deltas', () => {
    const first = buildChatCompletionChunk(META, [{ index: 0, role: 'assistant', content: '' }], null);
    expect(first).toEqual({
      id: 'chatcmpl-abc', object: 'chat.completion.chunk', created: 1700000000, model: 'ernie-4.5-0.3b',
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
      usage: null,
    });
    const thinking = buildChatCompletionChunk(META, [{ index: 0, reasoningContent: 'hm' }]);
    expect(thinking.choices[0]!.delta).toEqual({ reasoning_content: 'hm' });
    expect('usage' in thinking).toBe(false);
    const call = buildChatCompletionChunk(META, [{ index: 0, toolCalls: [{ index: 0, id: 'call_1', name: 'f', arguments: '' }] }]);
    expect(call.choices[0]!.delta.tool_calls).toEqual([{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '' } }]);
    const args = buildChatCompletionChunk(META, [{ index: 0, toolCalls: [{ index: 0, arguments: '{"a":' }] }]);
    expect(args.choices[0]!.delta.tool_calls).toEqual([{ index: 0, function: { arguments: '{"a":' } }]);
    const last = buildChatCompletionChunk(META, [{ index: 0, finishReason: 'tool_calls' }]);
    expect(last.choices[0]).toEqual({ index: 0, delta: {}, logprobs: null, finish_reason: 'tool_calls' });
  });

  it('ends with a usage-only chunk', () => {
    const u = buildUsage({ promptTokens: 1, completionTokens: 2, cachedTokens: 0 });
    expect(buildChatUsageChunk(META, u)).toEqual({
      id: 'chatcmpl-abc', object: 'chat.completion.chunk', created: 1700000000, model: 'ernie-4.5-0.3b', choices: [], usage: u,
    });
  });
});

describe('text_completion', () => {
  const meta: ResponseMeta = { id: 'cmpl-abc', created: 1700000000, model: 'ernie-4.5-0.3b' };

  it('builds a response with legacy logprobs', () => {
    const out = buildTextCompletion(meta, [{
      index: 0,
      text: ' wörld!',
      finishReason: 'length',
      logprobs: [
        { token: ' wö', logprob: -1, top: [{ token: ' wö', logprob: -1 }, { token: ' w', logprob: -2 }, { token: ' w', logprob: -3 }] },
        { token: 'rld!', logprob: -Infinity, top: [{ token: '__proto__', logprob: -4 }] },
      ],
    }], buildUsage({ promptTokens: 3, completionTokens: 2 }));
    expect(out).toEqual({
      id: 'cmpl-abc',
      object: 'text_completion',
      created: 1700000000,
      model: 'ernie-4.5-0.3b',
      choices: [{
        index: 0,
        text: ' wörld!',
        logprobs: {
          tokens: [' wö', 'rld!'],
          token_logprobs: [-1, -9999],
          top_logprobs: [{ ' wö': -1, ' w': -2 }, Object.fromEntries([['__proto__', -4]])],
          text_offset: [0, 3],
        },
        finish_reason: 'length',
      }],
      usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
    });
    expect(JSON.stringify(out.choices[0]!.logprobs!.top_logprobs[1])).toBe('{"__proto__":-4}');
  });

  it('streams chunks with running text offsets and a usage chunk', () => {
    const c = buildTextCompletionChunk(meta, [{ index: 0, text: 'b', finishReason: null, textOffset: 5, logprobs: [{ token: 'b', logprob: -0.1 }] }], null);
    expect(c.choices[0]).toEqual({ index: 0, text: 'b', logprobs: { tokens: ['b'], token_logprobs: [-0.1], top_logprobs: [{}], text_offset: [5] }, finish_reason: null });
    expect(c.usage).toBeNull();
    const end = buildTextCompletionChunk(meta, [{ index: 0, text: '', finishReason: 'stop' }]);
    expect(end.choices[0]).toEqual({ index: 0, text: '', logprobs: null, finish_reason: 'stop' });
    expect('usage' in end).toBe(false);
    expect(buildTextCompletionUsageChunk(meta, buildUsage({ promptTokens: 1, completionTokens: 1 })).choices).toEqual([]);
  });
});

describe('sse', () => {
  it('frames one object per data line', () => {
    const frame = sseData({ a: 'line1\nline2\r\n' });
    expect(frame).toBe('data: {"a":"line1\\nline2\\r\\n"}\n\n');
    expect(frame.slice(0, -2).includes('\n')).toBe(false);
    expect(SSE_DONE).toBe('data: [DONE]\n\n');
  });
});
