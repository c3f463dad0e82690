import { describe, expect, it } from 'vitest';
import { ApiError, toOpenAIErrorBody } from '../../common/errors/index.js';
import type { GatewayLimits } from './limits.js';
import { parseChatCompletionRequest, parseCompletionRequest } from './validate.js';

const LIMITS: GatewayLimits = { models: ['ernie-4.5-0.3b', 'ernie-4.5-21b-a3b'], maxModelLen: 4096 };
const MODEL = 'ernie-4.5-0.3b';
const USER_HI = { role: 'user', content: 'hi' };
const chatBody = (extra: Record<string, unknown> = {}) => ({ model: MODEL, messages: [USER_HI], ...extra });
const completionBody = (extra: Record<string, unknown> = {}) => ({ model: MODEL, prompt: 'Once upon a time', ...extra });

type Row = [name: string, kind: 'chat' | 'completion', body: unknown, status: number, code: string, param: string | null];

const WEATHER_TOOL = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } };

const ROWS: Row[] = [
  // body shape
  ['null body', 'chat', null, 400, 'invalid_json', null],
  ['array body', 'chat', [], 400, 'invalid_json', null],
  ['string body', 'completion', 'prompt', 400, 'invalid_json', null],
  ['number body', 'chat', 42, 400, 'invalid_json', null],
  // model
  ['no model', 'chat', { messages: [USER_HI] }, 400, 'missing_parameter', 'model'],
  ['null model', 'chat', { model: null, messages: [USER_HI] }, 400, 'missing_parameter', 'model'],
  ['model not a string', 'chat', chatBody({ model: 5 }), 400, 'invalid_parameter', 'model'],
  ['empty model', 'chat', chatBody({ model: '' }), 400, 'invalid_parameter', 'model'],
  ['unknown model', 'chat', chatBody({ model: 'gpt-4o' }), 404, 'model_not_found', 'model'],
  ['unknown model (completions)', 'completion', completionBody({ model: 'davinci-002' }), 404, 'model_not_found', 'model'],
  // messages
  ['no messages', 'chat', { model: MODEL }, 400, 'missing_parameter', 'messages'],
  ['empty messages', 'chat', chatBody({ messages: [] }), 400, 'invalid_parameter', 'messages'],
  ['messages a string', 'chat', chatBody({ messages: 'hi' }), 400, 'invalid_parameter', 'messages'],
  ['message not an object', 'chat', chatBody({ messages: ['hi'] }), 400, 'invalid_parameter', 'messages[0]'],
  ['message without role', 'chat', chatBody({ messages: [{ content: 'hi' }] }), 400, 'missing_parameter', 'messages[0].role'],
  ['unknown role', 'chat', chatBody({ messages: [{ role: 'wizard', content: 'hi' }] }), 400, 'invalid_parameter', 'messages[0].role'],
  ['legacy function role', 'chat', chatBody({ messages: [{ role: 'function', name: 'f', content: '1' }] }), 400, 'invalid_parameter', 'messages[0].role'],
  ['content a number', 'chat', chatBody({ messages: [{ role: 'user', content: 5 }] }), 400, 'invalid_parameter', 'messages[0].content'],
  ['user without content', 'chat', chatBody({ messages: [{ role: 'user' }] }), 400, 'missing_parameter', 'messages[0].content'],
  ['system with null content', 'chat', chatBody({ messages: [{ role: 'system', content: null }, USER_HI] }), 400, 'missing_parameter', 'messages[0].content'],
  ['image part in an assistant message', 'chat', chatBody({ messages: [USER_HI, { role: 'assistant', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }] }), 400, 'invalid_parameter', 'messages[1].content[0]'],
  ['image part without image_url', 'chat', chatBody({ messages: [{ role: 'user', content: [{ type: 'image_url' }] }] }), 400, 'missing_parameter', 'messages[0].content[0].image_url'],
  ['image_url without url', 'chat', chatBody({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] }), 400, 'missing_parameter', 'messages[0].content[0].image_url.url'],
  ['image_url with an unknown detail', 'chat', chatBody({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x', detail: 'ultra' } }] }] }), 400, 'invalid_parameter', 'messages[0].content[0].image_url.detail'],
  ['input_image part', 'chat', chatBody({ messages: [{ role: 'user', content: [{ type: 'input_image', file_id: 'x' }] }] }), 400, 'unsupported_parameter', 'messages[0].content[0]'],
  ['audio part', 'chat', chatBody({ messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: '', format: 'wav' } }] }] }), 400, 'unsupported_parameter', 'messages[0].content[0]'],
  ['text part without text', 'chat', chatBody({ messages: [{ role: 'user', content: [{ type: 'text' }] }] }), 400, 'missing_parameter', 'messages[0].content[0].text'],
  ['text part with numeric text', 'chat', chatBody({ messages: [{ role: 'user', content: [{ type: 'text', text: 3 }] }] }), 400, 'invalid_parameter', 'messages[0].content[0].text'],
  ['unknown part type', 'chat', chatBody({ messages: [{ role: 'user', content: [{ type: 'bogus' }] }] }), 400, 'invalid_parameter', 'messages[0].content[0].type'],
  ['part without type', 'chat', chatBody({ messages: [{ role: 'user', content: [{ text: 'x' }] }] }), 400, 'missing_parameter', 'messages[0].content[0].type'],
  ['part a bare string', 'chat', chatBody({ messages: [{ role: 'user', content: ['hi'] }] }), 400, 'invalid_parameter', 'messages[0].content[0]'],
  ['name not a string', 'chat', chatBody({ messages: [{ role: 'user', content: 'hi', name: 7 }] }), 400, 'invalid_parameter', 'messages[0].name'],
  ['tool message without tool_call_id', 'chat', chatBody({ messages: [USER_HI, { role: 'tool', content: '{}' }] }), 400, 'missing_parameter', 'messages[1].tool_call_id'],
  ['tool_calls on a user message', 'chat', chatBody({ messages: [{ role: 'user', content: 'x', tool_calls: [] }] }), 400, 'invalid_parameter', 'messages[0].tool_calls'],
  ['tool call without arguments', 'chat', chatBody({ messages: [USER_HI, { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f' } }] }] }), 400, 'missing_parameter', 'messages[1].tool_calls[0].function.arguments'],
  ['tool call with object arguments', 'chat', chatBody({ messages: [USER_HI, { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: {} } }] }] }), 400, 'invalid_parameter', 'messages[1].tool_calls[0].function.arguments'],
  ['assistant with neither content nor tool calls', 'chat', chatBody({ messages: [USER_HI, { role: 'assistant' }] }), 400, 'missing_parameter', 'messages[1].content'],
  // streaming
  ['stream not a boolean', 'chat', chatBody({ stream: 'yes' }), 400, 'invalid_parameter', 'stream'],
  ['stream_options without stream', 'chat', chatBody({ stream_options: { include_usage: true } }), 400, 'invalid_parameter', 'stream_options'],
  ['include_usage not a boolean', 'completion', completionBody({ stream: true, stream_options: { include_usage: 'y' } }), 400, 'invalid_parameter', 'stream_options.include_usage'],
  // n
  ['n zero', 'chat', chatBody({ n: 0 }), 400, 'invalid_parameter', 'n'],
  ['n above the limit', 'chat', chatBody({ n: 9 }), 400, 'invalid_parameter', 'n'],
  ['n fractional', 'completion', completionBody({ n: 1.5 }), 400, 'invalid_parameter', 'n'],
  // max tokens
  ['max_tokens zero', 'chat', chatBody({ max_tokens: 0 }), 400, 'max_tokens_out_of_range', 'max_tokens'],
  ['max_tokens negative', 'completion', completionBody({ max_tokens: -5 }), 400, 'max_tokens_out_of_range', 'max_tokens'],
  ['max_tokens above context', 'chat', chatBody({ max_tokens: 5000 }), 400, 'max_tokens_out_of_range', 'max_tokens'],
  ['max_completion_tokens zero wins over valid max_tokens', 'chat', chatBody({ max_tokens: 10, max_completion_tokens: 0 }), 400, 'max_tokens_out_of_range', 'max_completion_tokens'],
  ['max_tokens a string', 'chat', chatBody({ max_tokens: '10' }), 400, 'invalid_parameter', 'max_tokens'],
  ['max_tokens fractional', 'completion', completionBody({ max_tokens: 1.5 }), 400, 'invalid_parameter', 'max_tokens'],
  // sampling
  ['temperature above 2', 'chat', chatBody({ temperature: 2.5 }), 400, 'invalid_parameter', 'temperature'],
  ['temperature negative', 'completion', completionBody({ temperature: -0.1 }), 400, 'invalid_parameter', 'temperature'],
  ['temperature a string', 'chat', chatBody({ temperature: '0.7' }), 400, 'invalid_parameter', 'temperature'],
  ['top_p zero', 'chat', chatBody({ top_p: 0 }), 400, 'invalid_parameter', 'top_p'],
  ['top_p above 1', 'completion', completionBody({ top_p: 1.1 }), 400, 'invalid_parameter', 'top_p'],
  ['top_k below -1', 'chat', chatBody({ top_k: -2 }), 400, 'invalid_parameter', 'top_k'],
  ['top_k fractional', 'chat', chatBody({ top_k: 1.5 }), 400, 'invalid_parameter', 'top_k'],
  ['min_p above 1', 'chat', chatBody({ min_p: 1.5 }), 400, 'invalid_parameter', 'min_p'],
  ['presence_penalty above 2', 'chat', chatBody({ presence_penalty: 3 }), 400, 'invalid_parameter', 'presence_penalty'],
  ['frequency_penalty below -2', 'completion', completionBody({ frequency_penalty: -2.1 }), 400, 'invalid_parameter', 'frequency_penalty'],
  ['repetition_penalty zero', 'chat', chatBody({ repetition_penalty: 0 }), 400, 'invalid_parameter', 'repetition_penalty'],
  ['repetition_penalty above 2', 'chat', chatBody({ repetition_penalty: 2.5 }), 400, 'invalid_parameter', 'repetition_penalty'],
  ['seed fractional', 'chat', chatBody({ seed: 1.5 }), 400, 'invalid_parameter', 'seed'],
  ['seed beyond 2^53', 'chat', chatBody({ seed: 2 ** 60 }), 400, 'invalid_parameter', 'seed'],
  ['seed a string', 'completion', completionBody({ seed: '42' }), 400, 'invalid_parameter', 'seed'],
  ['ignore_eos a number', 'chat', chatBody({ ignore_eos: 1 }), 400, 'invalid_parameter', 'ignore_eos'],
  ['user a number', 'chat', chatBody({ user: 5 }), 400, 'invalid_parameter', 'user'],
  // stop
  ['stop empty string', 'chat', chatBody({ stop: '' }), 400, 'invalid_parameter', 'stop'],
  ['stop too many', 'chat', chatBody({ stop: ['a', 'b', 'c', 'd', 'e'] }), 400, 'invalid_parameter', 'stop'],
  ['stop with an empty entry', 'completion', completionBody({ stop: ['a', ''] }), 400, 'invalid_parameter', 'stop[1]'],
  ['stop a number', 'chat', chatBody({ stop: 5 }), 400, 'invalid_parameter', 'stop'],
  ['stop entry a number', 'chat', chatBody({ stop: ['a', 5] }), 400, 'invalid_parameter', 'stop[1]'],
  // logprobs
  ['chat logprobs an integer', 'chat', chatBody({ logprobs: 5 }), 400, 'invalid_parameter', 'logprobs'],
  ['top_logprobs without logprobs', 'chat', chatBody({ top_logprobs: 3 }), 400, 'invalid_parameter', 'top_logprobs'],
  ['top_logprobs above the limit', 'chat', chatBody({ logprobs: true, top_logprobs: 21 }), 400, 'invalid_parameter', 'top_logprobs'],
  ['top_logprobs negative', 'chat', chatBody({ logprobs: true, top_logprobs: -1 }), 400, 'invalid_parameter', 'top_logprobs'],
  ['legacy logprobs above 5', 'completion', completionBody({ logprobs: 6 }), 400, 'invalid_parameter', 'logprobs'],
  ['legacy logprobs a boolean', 'completion', completionBody({ logprobs: true }), 400, 'invalid_parameter', 'logprobs'],
  // tools
  ['tools an object', 'chat', chatBody({ tools: {} }), 400, 'invalid_parameter', 'tools'],
  ['tool without function', 'chat', chatBody({ tools: [{ type: 'function' }] }), 400, 'missing_parameter', 'tools[0].function'],
  ['tool of another type', 'chat', chatBody({ tools: [{ type: 'code_interpreter', function: { name: 'x' } }] }), 400, 'invalid_parameter', 'tools[0].type'],
  ['tool name with spaces', 'chat', chatBody({ tools: [{ type: 'function', function: { name: 'get weather!' } }] }), 400, 'invalid_parameter', 'tools[0].function.name'],
  ['tool parameters not an object', 'chat', chatBody({ tools: [{ type: 'function', function: { name: 'f', parameters: 'x' } }] }), 400, 'invalid_parameter', 'tools[0].function.parameters'],
  ['duplicate tool names', 'chat', chatBody({ tools: [WEATHER_TOOL, WEATHER_TOOL] }), 400, 'invalid_parameter', 'tools[1].function.name'],
  ['tool_choice unknown string', 'chat', chatBody({ tools: [WEATHER_TOOL], tool_choice: 'always' }), 400, 'invalid_parameter', 'tool_choice'],
  ['tool_choice required without tools', 'chat', chatBody({ tool_choice: 'required' }), 400, 'invalid_parameter', 'tool_choice'],
  ['tool_choice names a missing tool', 'chat', chatBody({ tools: [WEATHER_TOOL], tool_choice: { type: 'function', function: { name: 'nope' } } }), 400, 'tool_not_found', 'tool_choice.function.name'],
  ['tool_choice malformed object', 'chat', chatBody({ tools: [WEATHER_TOOL], tool_choice: { type: 'function' } }), 400, 'invalid_parameter', 'tool_choice'],
  ['tool_choice a number', 'chat', chatBody({ tool_choice: 5 }), 400, 'invalid_parameter', 'tool_choice'],
  // chat_template_kwargs
  ['chat_template_kwargs a string', 'chat', chatBody({ chat_template_kwargs: 'x' }), 400, 'invalid_parameter', 'chat_template_kwargs'],
  ['enable_thinking a string', 'chat', chatBody({ chat_template_kwargs: { enable_thinking: 'yes' } }), 400, 'invalid_parameter', 'chat_template_kwargs.enable_thinking'],
  ['kwargs override messages', 'chat', chatBody({ chat_template_kwargs: { messages: [] } }), 400, 'invalid_parameter', 'chat_template_kwargs.messages'],
  // unsupported features
  ['audio output', 'chat', chatBody({ audio: { voice: 'alloy', format: 'wav' } }), 400, 'unsupported_parameter', 'audio'],
  ['audio modality', 'chat', chatBody({ modalities: ['text', 'audio'] }), 400, 'unsupported_parameter', 'modalities'],
  ['deprecated functions', 'chat', chatBody({ functions: [{ name: 'f' }] }), 400, 'unsupported_parameter', 'functions'],
  ['deprecated function_call', 'chat', chatBody({ function_call: 'auto' }), 400, 'unsupported_parameter', 'function_call'],
  // structured outputs and logit_bias
  ['response_format of an unknown type', 'chat', chatBody({ response_format: { type: 'yaml' } }), 400, 'invalid_parameter', 'response_format.type'],
  ['json_schema without a name', 'chat', chatBody({ response_format: { type: 'json_schema', json_schema: { schema: {} } } }), 400, 'missing_parameter', 'response_format.json_schema.name'],
  ['logit_bias above 100', 'completion', completionBody({ logit_bias: { '50256': 101 } }), 400, 'invalid_parameter', 'logit_bias[50256]'],
  ['logit_bias key not a token id', 'chat', chatBody({ logit_bias: { abc: 1 } }), 400, 'invalid_parameter', 'logit_bias'],
  ['predicted outputs', 'chat', chatBody({ prediction: { type: 'content', content: 'x' } }), 400, 'unsupported_parameter', 'prediction'],
  ['echo', 'completion', completionBody({ echo: true }), 400, 'unsupported_parameter', 'echo'],
  ['best_of above n', 'completion', completionBody({ best_of: 3 }), 400, 'unsupported_parameter', 'best_of'],
  ['suffix', 'completion', completionBody({ suffix: '}' }), 400, 'unsupported_parameter', 'suffix'],
  // prompt
  ['no prompt', 'completion', { model: MODEL }, 400, 'missing_parameter', 'prompt'],
  ['empty prompt string', 'completion', completionBody({ prompt: '' }), 400, 'invalid_parameter', 'prompt'],
  ['empty prompt list', 'completion', completionBody({ prompt: [] }), 400, 'invalid_parameter', 'prompt'],
  ['prompt an object', 'completion', completionBody({ prompt: { text: 'x' } }), 400, 'invalid_parameter', 'prompt'],
  ['several string prompts', 'completion', completionBody({ prompt: ['a', 'b'] }), 400, 'unsupported_parameter', 'prompt'],
  ['several token prompts', 'completion', completionBody({ prompt: [[1, 2], [3]] }), 400, 'unsupported_parameter', 'prompt'],
  ['negative token id', 'completion', completionBody({ prompt: [1, -1] }), 400, 'invalid_parameter', 'prompt[1]'],
  ['fractional token id', 'completion', completionBody({ prompt: [1.5] }), 400, 'invalid_parameter', 'prompt[0]'],
  ['negative id in nested prompt', 'completion', completionBody({ prompt: [[1, -3]] }), 400, 'invalid_parameter', 'prompt[0][1]'],
  ['ids mixed with text', 'completion', completionBody({ prompt: [1, 'a'] }), 400, 'invalid_parameter', 'prompt'],
  ['token prompt fills the context', 'completion', completionBody({ prompt: new Array(4096).fill(7) }), 400, 'context_length_exceeded', 'prompt'],
  ['token prompt plus max_tokens too long', 'completion', completionBody({ prompt: new Array(4000).fill(7), max_tokens: 200 }), 400, 'context_length_exceeded', 'prompt'],
];

function parse(kind: 'chat' | 'completion', body: unknown, limits: GatewayLimits = LIMITS): unknown {
  return kind === 'chat' ? parseChatCompletionRequest(body, limits) : parseCompletionRequest(body, limits);
}

function caught(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw new Error(`expected an ApiError, got ${String(e)}`);
  }
  throw new Error('expected the request to be refused');
}

describe('bad request bodies', () => {
  it('has a large table', () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(40);
    expect(new Set(ROWS.map((r) => r[0])).size).toBe(ROWS.length);
  });

  it.each(ROWS)('%s (%s) → %i %s @ %s', (_name, kind, body, status, code, param) => {
    const err = caught(() => parse(kind, body));
    expect({ status: err.status, code: err.code, param: err.param ?? null }).toEqual({ status, code, param });
    expect(err.message.length).toBeGreaterThan(10);
    const wire = toOpenAIErrorBody(err);
    expect(Object.keys(wire)).toEqual(['error']);
    expect(Object.keys(wire.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(wire.error).toMatchObject({ code, param, message: err.message });
    expect(JSON.parse(JSON.stringify(wire))).toEqual(wire);
  });

  it('applies the operator cap on completion tokens', () => {
    const capped = { ...LIMITS, maxTokensCap: 1024 };
    const err = caught(() => parseChatCompletionRequest(chatBody({ max_completion_tokens: 2000 }), capped));
    expect([err.code, err.param]).toEqual(['max_tokens_out_of_range', 'max_completion_tokens']);
    expect(err.message).toContain('1024');
  });

  it('applies custom n, stop and top_logprobs limits', () => {
    const tight = { ...LIMITS, maxN: 2, maxStop: 1, maxTopLogprobs: 2 };
    expect(caught(() => parseChatCompletionRequest(chatBody({ n: 3 }), tight)).param).toBe('n');
    expect(caught(() => parseChatCompletionRequest(chatBody({ stop: ['a', 'b'] }), tight)).param).toBe('stop');
    expect(caught(() => parseChatCompletionRequest(chatBody({ logprobs: true, top_logprobs: 3 }), tight)).param).toBe('top_logprobs');
    expect(caught(() => parseCompletionRequest(completionBody({ logprobs: 3 }), tight)).param).toBe('logprobs');
  });

  it('says what was expected and what came', () => {
    expect(caught(() => parse('chat', chatBody({ temperature: '0.7' }))).message)
      .toBe("Invalid type for 'temperature': expected a number, but got a string.");
    expect(caught(() => parse('chat', chatBody({ messages: [{ role: 'wizard', content: 'x' }] }))).message)
      .toContain('"system", "developer", "user", "assistant", "tool"');
    expect(caught(() => parse('chat', chatBody({ model: 'gpt-4o' }))).message).toContain('ernie-4.5-0.3b, ernie-4.5-21b-a3b');
    expect(caught(() => parse('chat', chatBody({ messages: [USER_HI, { role: 'system', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }))).message)
      .toMatch(/^Images are only accepted in user messages/);
  });
});
