import { describe, expect, it } from 'vitest';
import { apiError, ApiError, toOpenAIErrorBody } from '../../../common/errors/index.js';
import type { GatewayLimits } from '../limits.js';
import { inResponsesTerms } from './input-errors.js';
import { parseResponsesRequest } from './parse.js';

const LIMITS: GatewayLimits = { models: ['ernie-4.5-0.3b'], maxModelLen: 4096 };
const MODEL = 'ernie-4.5-0.3b';
const body = (extra: Record<string, unknown> = {}) => ({ model: MODEL, input: 'hi', ...extra });
const parse = (b: unknown) => parseResponsesRequest(b, LIMITS);
const WEATHER = { type: 'function', name: 'get_weather', description: 'Weather now', parameters: { type: 'object', properties: { city: { type: 'string' } } } };
const CALL = { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' };

describe('input → chat messages', () => {
  it('a string is one user message; instructions come first as a system message', () => {
    expect(parse(body()).chat.messages).toEqual([{ role: 'user', content: 'hi' }]);
    expect(parse(body({ instructions: 'Be brief.' })).chat.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'hi' },
    ]);
  });

  it('message items: roles (developer → system), string and part contents, with or without type', () => {
    const { chat } = parse(body({
      input: [
        { role: 'developer', content: 'rules' },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'a' }, { type: 'input_text', text: 'b' }] },
        { type: 'message', id: 'msg_1', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'c', annotations: [] }] },
        { role: 'user', content: [{ type: 'input_text', text: 'look' }, { type: 'input_image', image_url: 'data:image/png;base64,AAAA', detail: 'auto' }] },
      ],
    }));
    expect(chat.messages).toEqual([
      { role: 'system', content: 'rules' },
      { role: 'user', content: 'ab' },
      { role: 'assistant', content: 'c' },
      { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'auto' } }] },
    ]);
  });

  it('function calls join the assistant turn before them; outputs become tool messages', () => {
    const { chat } = parse(body({
      tools: [WEATHER],
      input: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        { type: 'reasoning', id: 'rs_1', summary: [], content: [{ type: 'reasoning_text', text: 'Two calls.' }] },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Checking.', annotations: [] }] },
        { ...CALL, id: 'fc_1', status: 'completed' },
        { ...CALL, call_id: 'call_2', arguments: '{"city":"Rome"}' },
        { type: 'function_call_output', call_id: 'call_1', output: '21C' },
        { type: 'function_call_output', call_id: 'call_2', output: [{ type: 'input_text', text: '25C' }] },
        { type: 'function_call', call_id: 'call_3', name: 'get_weather', arguments: '{}' },
        { type: 'function_call_output', call_id: 'call_3', output: '?' },
      ],
    }));
    expect(chat.messages).toEqual([
      { role: 'user', content: 'Weather in Paris and Rome?' },
      {
        role: 'assistant',
        content: 'Checking.',
        reasoning_content: 'Two calls.',
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } },
        ],
      },
      { role: 'tool', content: '21C', tool_call_id: 'call_1' },
      { role: 'tool', content: '25C', tool_call_id: 'call_2' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_3', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
      { role: 'tool', content: '?', tool_call_id: 'call_3' },
    ]);
  });

  it('names each message by the input item it came from', () => {
    const { messageSources } = parse(body({ instructions: 'x', input: [{ role: 'user', content: 'a' }, CALL, { ...CALL, call_id: 'c2' }, { type: 'function_call_output', call_id: 'c2', output: 'o' }] }));
    expect(messageSources).toEqual(['instructions', 'input[0]', 'input[1]', 'input[3]']);
  });
});

describe('settings → the chat request', () => {
  it('defaults', () => {
    const { chat, echo } = parse(body());
    expect(chat).toMatchObject({ kind: 'chat', n: 1, stream: false, stop: [], logprobs: false, toolChoice: 'none', parallelToolCalls: true, enableThinking: false });
    expect(chat.maxTokens).toBeUndefined();
    expect(chat.responseFormat).toBeUndefined();
    expect(chat.sampling).toMatchObject({ temperature: 1, topP: 1 });
    expect(echo).toMatchObject({ instructions: null, max_output_tokens: null, temperature: 1, top_p: 1, tools: [], tool_choice: 'none', text: { format: { type: 'text' } }, metadata: {}, reasoning: { effort: null, summary: null } });
  });

  it('sampling, budget, stream, user, metadata, store', () => {
    const { chat, echo } = parse(body({ temperature: 0, top_p: 0.5, max_output_tokens: 32, stream: true, user: 'u', metadata: { k: 'v' }, store: true }));
    expect(chat).toMatchObject({ stream: true, includeUsage: false, maxTokens: 32, maxTokensParam: 'max_output_tokens', user: 'u', sampling: { temperature: 0, topP: 0.5 } });
    expect(echo).toMatchObject({ temperature: 0, top_p: 0.5, max_output_tokens: 32, metadata: { k: 'v' }, user: 'u' });
  });

  it('flat function tools become chat tools; tool_choice and parallel_tool_calls carry over', () => {
    const { chat, echo } = parse(body({ tools: [{ ...WEATHER, strict: true }], tool_choice: { type: 'function', name: 'get_weather' }, parallel_tool_calls: false }));
    expect(chat.tools).toEqual([{ type: 'function', function: { name: 'get_weather', description: 'Weather now', parameters: WEATHER.parameters, strict: true } }]);
    expect(chat.toolChoice).toEqual({ type: 'function', function: { name: 'get_weather' } });
    expect(chat.parallelToolCalls).toBe(false);
    expect(echo.tools).toEqual([{ type: 'function', name: 'get_weather', description: 'Weather now', parameters: WEATHER.parameters, strict: true }]);
    expect(echo.tool_choice).toEqual({ type: 'function', name: 'get_weather' });
    expect(parse(body({ tools: [WEATHER] })).chat.toolChoice).toBe('auto');
    expect(parse(body({ tools: [WEATHER], tool_choice: 'required' })).chat.toolChoice).toBe('required');
  });

  it('text.format becomes the response format', () => {
    expect(parse(body({ text: { format: { type: 'text' } } })).chat.responseFormat).toBeUndefined();
    expect(parse(body({ text: { format: { type: 'json_object' } } })).chat.responseFormat).toEqual({ type: 'json_object' });
    const schema = { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] };
    const p = parse(body({ text: { format: { type: 'json_schema', name: 'thing', schema, strict: true, description: 'd' } } }));
    expect(p.chat.responseFormat).toEqual({ type: 'json_schema', name: 'thing', schema, strict: true });
    expect(p.echo.text.format).toEqual({ type: 'json_schema', name: 'thing', schema, strict: true, description: 'd' });
    expect(parse(body({ text: { format: { type: 'json_schema', name: 'thing', schema } } })).chat.responseFormat).toMatchObject({ strict: false });
  });

  it('reasoning effort turns thinking on; none / minimal leave it off', () => {
    expect(parse(body({ reasoning: { effort: 'medium', summary: 'auto' } })).chat).toMatchObject({ enableThinking: true, chatTemplateKwargs: { enable_thinking: true } });
    expect(parse(body({ reasoning: { effort: 'minimal' } })).chat.enableThinking).toBe(false);
    expect(parse(body({ reasoning: {} })).chat.enableThinking).toBe(false);
  });

  it('neutral values of unsupported fields are accepted; unknown fields are ignored, as on chat', () => {
    expect(() => parse(body({ background: false, truncation: 'disabled', top_logprobs: 0, include: ['reasoning.encrypted_content'], service_tier: 'auto', text: { verbosity: 'medium' }, prompt_cache_key: 'k', safety_identifier: 's', max_tool_calls: 3, some_extension: 1 }))).not.toThrow();
  });
});

type Row = [name: string, body: unknown, code: string, param: string | null];

const ROWS: Row[] = [
  ['not an object', 'hi', 'invalid_json', null],
  ['no model', { input: 'hi' }, 'missing_parameter', 'model'],
  ['unknown model', body({ model: 'gpt-5' }), 'model_not_found', 'model'],
  ['no input', { model: MODEL }, 'missing_parameter', 'input'],
  ['empty input string', body({ input: '' }), 'invalid_parameter', 'input'],
  ['empty input list', body({ input: [] }), 'invalid_parameter', 'input'],
  ['input a number', body({ input: 5 }), 'invalid_parameter', 'input'],
  ['input item not an object', body({ input: ['hi'] }), 'invalid_parameter', 'input[0]'],
  ['message without role', body({ input: [{ content: 'hi' }] }), 'missing_parameter', 'input[0].role'],
  ['message with an unknown role', body({ input: [{ role: 'tool', content: 'hi' }] }), 'invalid_parameter', 'input[0].role'],
  ['message without content', body({ input: [{ role: 'user' }] }), 'missing_parameter', 'input[0].content'],
  ['unknown content part', body({ input: [{ role: 'user', content: [{ type: 'text', text: 'a' }] }] }), 'invalid_parameter', 'input[0].content[0].type'],
  ['input_text without text', body({ input: [{ role: 'user', content: [{ type: 'input_text' }] }] }), 'missing_parameter', 'input[0].content[0].text'],
  ['image by file id', body({ input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file_1' }] }] }), 'unsupported_parameter', 'input[0].content[0].file_id'],
  ['file input', body({ input: [{ role: 'user', content: [{ type: 'input_file', file_data: 'x' }] }] }), 'unsupported_parameter', 'input[0].content[0]'],
  ['image in an assistant message', body({ input: [{ role: 'user', content: 'a' }, { role: 'assistant', content: [{ type: 'input_image', image_url: 'data:,' }] }] }), 'invalid_parameter', 'input[1].content[0]'],
  ['function call without call_id', body({ input: [{ type: 'function_call', name: 'f', arguments: '{}' }] }), 'missing_parameter', 'input[0].call_id'],
  ['function call arguments not a string', body({ input: [{ ...CALL, arguments: { city: 'Paris' } }] }), 'invalid_parameter', 'input[0].arguments'],
  ['output of an unknown call', body({ input: [{ role: 'user', content: 'a' }, { type: 'function_call_output', call_id: 'call_9', output: 'x' }] }), 'invalid_parameter', 'input[1].call_id'],
  ['output without output', body({ input: [CALL, { type: 'function_call_output', call_id: 'call_1' }] }), 'missing_parameter', 'input[1].output'],
  ['item reference', body({ input: [{ type: 'item_reference', id: 'msg_1' }] }), 'unsupported_parameter', 'input[0]'],
  ['built-in tool item', body({ input: [{ type: 'web_search_call', id: 'ws_1', status: 'completed' }] }), 'unsupported_parameter', 'input[0].type'],
  ['unknown item type', body({ input: [{ type: 'wizard' }] }), 'invalid_parameter', 'input[0].type'],
  ['reasoning only', body({ input: [{ type: 'reasoning', summary: [] }] }), 'invalid_parameter', 'input'],
  ['previous_response_id', body({ previous_response_id: 'resp_123' }), 'previous_response_not_supported', 'previous_response_id'],
  ['previous_response_id wins over other faults', { previous_response_id: 'resp_123', temperature: 9 }, 'previous_response_not_supported', 'previous_response_id'],
  ['conversation', body({ conversation: 'conv_1' }), 'unsupported_parameter', 'conversation'],
  ['stored prompt', body({ prompt: { id: 'pmpt_1' } }), 'unsupported_parameter', 'prompt'],
  ['background', body({ background: true }), 'unsupported_parameter', 'background'],
  ['truncation auto', body({ truncation: 'auto' }), 'unsupported_parameter', 'truncation'],
  ['top_logprobs', body({ top_logprobs: 3 }), 'unsupported_parameter', 'top_logprobs'],
  ['include logprobs', body({ include: ['message.output_text.logprobs'] }), 'unsupported_parameter', 'include'],
  ['verbosity', body({ text: { verbosity: 'low' } }), 'unsupported_parameter', 'text.verbosity'],
  ['temperature out of range', body({ temperature: 3 }), 'invalid_parameter', 'temperature'],
  ['top_p zero', body({ top_p: 0 }), 'invalid_parameter', 'top_p'],
  ['max_output_tokens zero', body({ max_output_tokens: 0 }), 'max_tokens_out_of_range', 'max_output_tokens'],
  ['max_output_tokens above the context', body({ max_output_tokens: 5000 }), 'max_tokens_out_of_range', 'max_output_tokens'],
  ['max_output_tokens a fraction', body({ max_output_tokens: 1.5 }), 'invalid_parameter', 'max_output_tokens'],
  ['stream_options without stream', body({ stream_options: { include_obfuscation: false } }), 'invalid_parameter', 'stream_options'],
  ['web search tool', body({ tools: [{ type: 'web_search' }] }), 'unsupported_parameter', 'tools[0].type'],
  ['chat-style nested tool', body({ tools: [{ type: 'function', function: { name: 'f' } }] }), 'missing_parameter', 'tools[0].name'],
  ['tool name with spaces', body({ tools: [{ type: 'function', name: 'get weather' }] }), 'invalid_parameter', 'tools[0].name'],
  ['tool parameters not an object', body({ tools: [{ type: 'function', name: 'f', parameters: 'x' }] }), 'invalid_parameter', 'tools[0].parameters'],
  ['duplicate tools', body({ tools: [WEATHER, WEATHER] }), 'invalid_parameter', 'tools[1].name'],
  ['tool without type', body({ tools: [{ name: 'f' }] }), 'missing_parameter', 'tools[0].type'],
  ['tool_choice unknown string', body({ tools: [WEATHER], tool_choice: 'any' }), 'invalid_parameter', 'tool_choice'],
  ['tool_choice required without tools', body({ tool_choice: 'required' }), 'invalid_parameter', 'tool_choice'],
  ['tool_choice names a missing tool', body({ tools: [WEATHER], tool_choice: { type: 'function', name: 'other' } }), 'invalid_parameter', 'tool_choice.name'],
  ['tool_choice chat spelling', body({ tools: [WEATHER], tool_choice: { type: 'function', function: { name: 'get_weather' } } }), 'invalid_parameter', 'tool_choice.name'],
  ['tool_choice built-in', body({ tools: [WEATHER], tool_choice: { type: 'web_search_preview' } }), 'unsupported_parameter', 'tool_choice.type'],
  ['text.format unknown type', body({ text: { format: { type: 'xml' } } }), 'invalid_parameter', 'text.format.type'],
  ['json_schema without name', body({ text: { format: { type: 'json_schema', schema: {} } } }), 'missing_parameter', 'text.format.name'],
  ['json_schema without schema', body({ text: { format: { type: 'json_schema', name: 'x' } } }), 'missing_parameter', 'text.format.schema'],
  ['reasoning effort unknown', body({ reasoning: { effort: 'extreme' } }), 'invalid_parameter', 'reasoning.effort'],
  ['metadata value not a string', body({ metadata: { k: 1 } }), 'invalid_parameter', 'metadata.k'],
  ['metadata with too many keys', body({ metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }), 'invalid_parameter', 'metadata'],
  ['store not a boolean', body({ store: 'no' }), 'invalid_parameter', 'store'],
];

describe('validation errors', () => {
  it.each(ROWS)('%s', (_name, b, code, param) => {
    let err: unknown;
    try {
      parse(b);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiError);
    const out = toOpenAIErrorBody(err).error;
    expect({ code: out.code, param: out.param }).toEqual({ code, param });
    expect(out.message.length).toBeGreaterThan(10);
  });

  it('previous_response_id says that responses are not stored', () => {
    expect(() => parse(body({ previous_response_id: 'resp_1' }))).toThrow(/not stored/);
  });
});

describe('errors of the chat steps in input terms', () => {
  const sources = ['instructions', 'input[0]', 'input[2]'];
  it('rewrites message paths to the input item', () => {
    const e = inResponsesTerms(apiError('invalid_image', "Bad image at 'messages[2].content[1].image_url.url'.", 'messages[2].content[1].image_url.url'), sources) as ApiError;
    expect([e.code, e.param, e.message]).toEqual(['invalid_image', 'input[2].content[1].image_url', "Bad image at 'input[2].content[1].image_url'."]);
    const c = inResponsesTerms(apiError('context_length_exceeded', 'but the messages has 9000 tokens', 'messages'), sources) as ApiError;
    expect([c.param, c.message]).toEqual(['input', 'but the input has 9000 tokens']);
  });

  it("rewrites chat's structured-output paths to text.format", () => {
    const e = inResponsesTerms(apiError('invalid_parameter', "Bad schema at 'response_format.json_schema.schema.properties.a'.", 'response_format.json_schema.schema.properties.a'), sources) as ApiError;
    expect([e.param, e.message]).toEqual(['text.format.schema.properties.a', "Bad schema at 'text.format.schema.properties.a'."]);
    expect((inResponsesTerms(apiError('invalid_parameter', 'x', 'response_format'), sources) as ApiError).param).toBe('text.format');
    expect((inResponsesTerms(apiError('invalid_parameter', 'x', 'tool_choice'), sources) as ApiError).param).toBe('tool_choice');
  });

  it('leaves other errors alone', () => {
    const e = apiError('server_overloaded', 'busy');
    expect(inResponsesTerms(e, sources)).toBe(e);
    const boom = new Error('x');
    expect(inResponsesTerms(boom, sources)).toBe(boom);
  });
});
