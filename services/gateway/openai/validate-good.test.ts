import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../text/chat-template.js';
import { resolveMaxTokens } from './context-length.js';
import type { GatewayLimits } from './limits.js';
import { seedToUint32 } from './seed.js';
import type { NormalizedChatMessage } from './types.js';
import { parseChatCompletionRequest, parseCompletionRequest } from './validate.js';

const LIMITS: GatewayLimits = { models: ['ernie-4.5-0.3b', 'ernie-4.5-21b-a3b'], maxModelLen: 4096 };
const MODEL = 'ernie-4.5-0.3b';
const USER_HI = { role: 'user', content: 'hi' };
const chat = (extra: Record<string, unknown> = {}) => parseChatCompletionRequest({ model: MODEL, messages: [USER_HI], ...extra }, LIMITS);
const completion = (extra: Record<string, unknown> = {}) => parseCompletionRequest({ model: MODEL, prompt: 'Once upon a time', ...extra }, LIMITS);

const DEFAULT_SAMPLING = {
  temperature: 1,
  topP: 1,
  topK: 0,
  minP: 0,
  presencePenalty: 0,
  frequencyPenalty: 0,
  repetitionPenalty: 1,
  stopTokenIds: [],
  ignoreEos: false,
};

// Normalized messages go straight to the chat template; this fails to compile if they stop fitting.
const _fitsTemplate: ChatMessage = {} as NormalizedChatMessage;
void _fitsTemplate;

describe('chat requests', () => {
  it('fills OpenAI defaults for a minimal body', () => {
    expect(chat()).toEqual({
      kind: 'chat',
      model: MODEL,
      messages: [{ role: 'user', content: 'hi' }],
      toolChoice: 'none',
      enableThinking: false,
      chatTemplateKwargs: {},
      n: 1,
      parallelToolCalls: true,
      stream: false,
      includeUsage: false,
      stop: [],
      logprobs: false,
      topLogprobs: 0,
      sampling: DEFAULT_SAMPLING,
    });
  });

  it('maps every sampling field', () => {
    const r = chat({
      n: 3,
      temperature: 0,
      top_p: 0.9,
      top_k: 40,
      min_p: 0.05,
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
      repetition_penalty: 1.1,
      seed: 42,
      ignore_eos: true,
      stop: 'END',
      user: 'u-1',
      max_tokens: 100,
    });
    expect(r.n).toBe(3);
    expect(r.stop).toEqual(['END']);
    expect(r.user).toBe('u-1');
    expect([r.maxTokens, r.maxTokensParam]).toEqual([100, 'max_tokens']);
    expect(r.sampling).toEqual({
      temperature: 0,
      topP: 0.9,
      topK: 40,
      minP: 0.05,
      presencePenalty: 0.5,
      frequencyPenalty: -0.5,
      repetitionPenalty: 1.1,
      seed: 42,
      stopTokenIds: [],
      ignoreEos: true,
    });
  });

  it('accepts the range edges', () => {
    const r = chat({ temperature: 2, top_p: 1, top_k: -1, min_p: 1, presence_penalty: -2, frequency_penalty: 2, repetition_penalty: 2, max_tokens: 4096, n: 8 });
    expect(r.sampling).toMatchObject({ temperature: 2, topP: 1, topK: 0, minP: 1, presencePenalty: -2, frequencyPenalty: 2, repetitionPenalty: 2 });
    expect(r.maxTokens).toBe(4096);
    expect(r.n).toBe(8);
  });

  it('prefers max_completion_tokens over max_tokens', () => {
    const r = chat({ max_tokens: 4000, max_completion_tokens: 50 });
    expect([r.maxTokens, r.maxTokensParam]).toEqual([50, 'max_completion_tokens']);
  });

  it('treats null as absent and ignores unknown fields', () => {
    const r = chat({ temperature: null, tools: null, stop: null, seed: null, store: true, metadata: { a: 'b' }, service_tier: 'auto', reasoning_effort: 'low', parallel_tool_calls: true });
    expect(r.sampling).toEqual(DEFAULT_SAMPLING);
    expect(r.tools).toBeUndefined();
    expect(r.stop).toEqual([]);
  });

  it('accepts neutral values of unsupported features', () => {
    expect(() => chat({ logit_bias: {}, response_format: { type: 'text' }, modalities: ['text'] })).not.toThrow();
  });

  it('normalizes message forms', () => {
    const r = chat({
      messages: [
        { role: 'developer', content: 'be brief' },
        { role: 'user', content: [{ type: 'text', text: 'weather in ' }, { type: 'text', text: 'Paris?' }], name: 'ann', extra: 1 },
        {
          role: 'assistant',
          content: null,
          reasoning_content: 'need a tool',
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '{"c":21}' },
        { role: 'assistant', content: '21°C', tool_calls: [] },
        { role: 'user', content: '' },
      ],
    });
    expect(r.messages).toEqual([
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'weather in Paris?', name: 'ann' },
      {
        role: 'assistant',
        content: null,
        reasoning_content: 'need a tool',
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
      },
      { role: 'tool', content: '{"c":21}', tool_call_id: 'call_1' },
      { role: 'assistant', content: '21°C' },
      { role: 'user', content: '' },
    ]);
  });

  it('normalizes tools and tool_choice', () => {
    const weather = { type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: {} }, strict: true, junk: 1 } };
    const clock = { type: 'function', function: { name: 'now' } };
    const auto = chat({ tools: [weather, clock] });
    expect(auto.toolChoice).toBe('auto');
    expect(auto.tools).toEqual([
      { type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: {} }, strict: true } },
      { type: 'function', function: { name: 'now' } },
    ]);
    expect(chat({ tools: [clock], tool_choice: 'required' }).toolChoice).toBe('required');
    expect(chat({ tools: [clock], tool_choice: 'none' }).toolChoice).toBe('none');
    expect(chat({ tools: [weather, clock], tool_choice: { type: 'function', function: { name: 'now' } } }).toolChoice)
      .toEqual({ type: 'function', function: { name: 'now' } });
    expect(chat({ tools: [] }).tools).toBeUndefined();
    expect(chat({ tool_choice: 'none' }).toolChoice).toBe('none');
  });

  it('reads enable_thinking and keeps other template kwargs', () => {
    const r = chat({ chat_template_kwargs: { enable_thinking: true, custom: 'x' } });
    expect(r.enableThinking).toBe(true);
    expect(r.chatTemplateKwargs).toEqual({ enable_thinking: true, custom: 'x' });
    expect(chat({ chat_template_kwargs: { enable_thinking: false } }).enableThinking).toBe(false);
  });

  it('streams with and without usage', () => {
    expect(chat({ stream: true })).toMatchObject({ stream: true, includeUsage: false });
    expect(chat({ stream: true, stream_options: { include_usage: true } })).toMatchObject({ stream: true, includeUsage: true });
    expect(chat({ stream: true, stream_options: {} })).toMatchObject({ stream: true, includeUsage: false });
    expect(chat({ stream: false })).toMatchObject({ stream: false, includeUsage: false });
  });

  it('maps logprobs to the engine', () => {
    const r = chat({ logprobs: true, top_logprobs: 5 });
    expect([r.logprobs, r.topLogprobs, r.sampling.logprobs]).toEqual([true, 5, 5]);
    const bare = chat({ logprobs: true });
    expect([bare.logprobs, bare.topLogprobs, bare.sampling.logprobs]).toEqual([true, 0, 0]);
    const off = chat({ logprobs: false, top_logprobs: 0 });
    expect([off.logprobs, off.topLogprobs, 'logprobs' in off.sampling]).toEqual([false, 0, false]);
  });

  it('deduplicates stop strings and accepts up to the limit', () => {
    expect(chat({ stop: ['a', 'b', 'a', 'c'] }).stop).toEqual(['a', 'b', 'c']);
    expect(chat({ stop: [] }).stop).toEqual([]);
  });

  it('treats a "__proto__" key as an ignored field', () => {
    const body = JSON.parse(`{"model": "${MODEL}", "messages": [{"role": "user", "content": "hi"}], "__proto__": {"temperature": 0}}`);
    const r = parseChatCompletionRequest(body, LIMITS);
    expect(r.sampling.temperature).toBe(1);
    expect(({} as Record<string, unknown>).temperature).toBeUndefined();
  });

  it('does not mutate the body', () => {
    const body = { model: MODEL, messages: [{ role: 'developer', content: [{ type: 'text', text: 'x' }] }], temperature: null };
    const copy = structuredClone(body);
    parseChatCompletionRequest(body, LIMITS);
    expect(body).toEqual(copy);
  });
});

describe('completion requests', () => {
  it('fills defaults, including the legacy max_tokens of 16', () => {
    expect(completion()).toEqual({
      kind: 'completion',
      model: MODEL,
      prompt: 'Once upon a time',
      n: 1,
      stream: false,
      includeUsage: false,
      maxTokens: 16,
      stop: [],
      logprobs: false,
      topLogprobs: 0,
      sampling: DEFAULT_SAMPLING,
    });
  });

  it('accepts every prompt form that holds one prompt', () => {
    expect(completion({ prompt: [1, 2, 3] }).prompt).toEqual([1, 2, 3]);
    expect(completion({ prompt: ['only one'] }).prompt).toBe('only one');
    expect(completion({ prompt: [[0, 5]] }).prompt).toEqual([0, 5]);
  });

  it('reads legacy logprobs as a count', () => {
    const zero = completion({ logprobs: 0 });
    expect([zero.logprobs, zero.topLogprobs, zero.sampling.logprobs]).toEqual([true, 0, 0]);
    const five = completion({ logprobs: 5 });
    expect([five.logprobs, five.topLogprobs, five.sampling.logprobs]).toEqual([true, 5, 5]);
  });

  it('accepts neutral legacy fields', () => {
    expect(() => completion({ echo: false, best_of: 1, suffix: '' })).not.toThrow();
    expect(completion({ n: 2, best_of: 2 }).n).toBe(2);
  });

  it('accepts a token prompt that leaves room for the default completion', () => {
    expect(completion({ prompt: new Array(4090).fill(1) }).maxTokens).toBe(16);
    expect(completion({ prompt: new Array(4000).fill(1), max_tokens: 96 }).maxTokens).toBe(96);
  });
});

describe('resolveMaxTokens', () => {
  it('fills the rest of the window when the client set nothing', () => {
    expect(resolveMaxTokens({ kind: 'chat' }, 1000, LIMITS)).toBe(3096);
    expect(resolveMaxTokens({ kind: 'chat' }, 1000, { ...LIMITS, maxTokensCap: 512 })).toBe(512);
  });

  it('shrinks the legacy default instead of failing', () => {
    expect(resolveMaxTokens({ kind: 'completion', maxTokens: 16 }, 4090, LIMITS)).toBe(6);
  });

  it('keeps an explicit value that fits and refuses one that does not', () => {
    expect(resolveMaxTokens({ kind: 'chat', maxTokens: 96, maxTokensParam: 'max_tokens' }, 4000, LIMITS)).toBe(96);
    expect(() => resolveMaxTokens({ kind: 'chat', maxTokens: 97, maxTokensParam: 'max_tokens' }, 4000, LIMITS))
      .toThrow(expect.objectContaining({ code: 'context_length_exceeded', param: 'messages', status: 400 }));
    expect(() => resolveMaxTokens({ kind: 'chat' }, 4096, LIMITS))
      .toThrow(expect.objectContaining({ code: 'context_length_exceeded', param: 'messages' }));
  });
});

describe('seedToUint32', () => {
  it('keeps uint32 seeds and folds others deterministically', () => {
    expect(seedToUint32(0)).toBe(0);
    expect(seedToUint32(42)).toBe(42);
    expect(seedToUint32(2 ** 32 - 1)).toBe(2 ** 32 - 1);
    for (const s of [-1, -42, 2 ** 32, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
      const v = seedToUint32(s);
      expect(Number.isInteger(v) && v >= 0 && v < 2 ** 32).toBe(true);
      expect(seedToUint32(s)).toBe(v);
    }
    expect(seedToUint32(2 ** 32 + 1)).not.toBe(seedToUint32(1));
    expect(seedToUint32(-1)).not.toBe(seedToUint32(2 ** 32 - 1));
  });

  it('is applied by the validator', () => {
    expect(chat({ seed: -1 }).sampling.seed).toBe(seedToUint32(-1));
  });
});
