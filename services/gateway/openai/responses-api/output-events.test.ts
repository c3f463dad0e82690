/**
 * The output side of /v1/responses: items, stream events and their order, and — by type
 * assignment, checked by running the compiler on this file (vitest does not type-check) — that
 * the objects are what the official `openai` client expects.
 */
import { fileURLToPath } from 'node:url';
import type OpenAI from 'openai';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ResponseEventBuilder } from './output-events.js';
import { parseResponsesRequest } from './parse.js';
import { buildResponseObject, responsesUsage } from './response-object.js';
import type { OutputItem, ResponseObject, ResponsesStreamEvent, ResponsesUsage } from './types.js';

/** Compiles only when every value of U is a valid T. */
type Assignable<T, U extends T> = U;

// `output_text` is the client's own convenience field, computed from `output`; it is not sent.
export type Checks = [
  Assignable<Omit<OpenAI.Responses.Response, 'output_text'>, ResponseObject>,
  Assignable<OpenAI.Responses.ResponseOutputItem, OutputItem>,
  Assignable<OpenAI.Responses.ResponseUsage, ResponsesUsage>,
];

/** Each stream event, with its response bodies read as the client's Response minus output_text. */
type WireEvent<E> = E extends { response: OpenAI.Responses.Response } ? Omit<E, 'response'> & { response: Omit<OpenAI.Responses.Response, 'output_text'> } : E;
export type EventCheck = Assignable<WireEvent<OpenAI.Responses.ResponseStreamEvent>, ResponsesStreamEvent>;

const requestParams: OpenAI.Responses.ResponseCreateParamsStreaming = {
  model: 'ernie-4.5-0.3b',
  instructions: 'Be brief.',
  input: [
    { role: 'user', content: [{ type: 'input_text', text: 'Weather?' }] },
    { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{}' },
    { type: 'function_call_output', call_id: 'call_1', output: '21C' },
  ],
  stream: true,
  max_output_tokens: 64,
  temperature: 0.7,
  top_p: 0.9,
  tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: {} }, strict: false }],
  tool_choice: { type: 'function', name: 'get_weather' },
  parallel_tool_calls: false,
  text: { format: { type: 'json_schema', name: 'w', schema: { type: 'object' }, strict: true } },
  metadata: { k: 'v' },
  store: false,
  reasoning: { effort: 'low' },
  user: 'u',
};

const LIMITS = { models: ['ernie-4.5-0.3b'], maxModelLen: 4096 };
const { echo } = parseResponsesRequest({ model: 'ernie-4.5-0.3b', input: 'hi' }, LIMITS);
const META = { id: 'resp_1', createdAt: 1700000000, model: 'ernie-4.5-0.3b' };
const USAGE = responsesUsage({ promptTokens: 10, completionTokens: 5, cachedTokens: 4 });

const types = (events: ResponsesStreamEvent[]) => events.map((e) => e.type);

describe('stream events', () => {
  it('text only: lifecycle, one message item, deltas, then completed with the whole response', () => {
    const b = new ResponseEventBuilder(META, echo);
    const events = [...b.start(), ...b.push({ content: 'Hel' }), ...b.push({ content: 'lo' }), ...b.finish('stop', USAGE)];
    expect(types(events)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const done = events.at(-1) as Extract<ResponsesStreamEvent, { type: 'response.completed' }>;
    expect(done.response).toMatchObject({ id: 'resp_1', object: 'response', status: 'completed', incomplete_details: null, error: null, usage: USAGE, store: false });
    expect(done.response.output).toEqual([{ type: 'message', id: expect.stringMatching(/^msg_[0-9a-f]{24}$/), role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Hello', annotations: [] }] }]);
    const created = events[0] as Extract<ResponsesStreamEvent, { type: 'response.created' }>;
    expect(created.response).toMatchObject({ status: 'in_progress', output: [], completed_at: null });
    expect(created.response.usage).toBeUndefined();
    const added = events[2] as Extract<ResponsesStreamEvent, { type: 'response.output_item.added' }>;
    expect(added.item).toMatchObject({ status: 'in_progress', content: [] });
  });

  it('reasoning, text and two calls: one item each, in order, each closed before the next opens', () => {
    const b = new ResponseEventBuilder(META, echo);
    const events = [
      ...b.start(),
      ...b.push({ reasoning: 'think' }),
      ...b.push({ content: 'Checking.' }),
      ...b.push({ toolCalls: [{ index: 0, id: 'call_a', name: 'f', argumentsDelta: '{"x":' }] }),
      ...b.push({ toolCalls: [{ index: 0, argumentsDelta: '1}' }, { index: 1, id: 'call_b', name: 'g', argumentsDelta: '{}' }] }),
      ...b.finish('tool_calls', USAGE),
    ];
    expect(types(events).slice(2)).toEqual([
      'response.output_item.added', 'response.content_part.added', 'response.reasoning_text.delta',
      'response.reasoning_text.done', 'response.content_part.done', 'response.output_item.done',
      'response.output_item.added', 'response.content_part.added', 'response.output_text.delta',
      'response.output_text.done', 'response.content_part.done', 'response.output_item.done',
      'response.output_item.added', 'response.function_call_arguments.delta', 'response.function_call_arguments.delta',
      'response.function_call_arguments.done', 'response.output_item.done',
      'response.output_item.added', 'response.function_call_arguments.delta',
      'response.function_call_arguments.done', 'response.output_item.done',
      'response.completed',
    ]);
    expect(b.output.map((i) => [i.type, i.status])).toEqual([['reasoning', 'completed'], ['message', 'completed'], ['function_call', 'completed'], ['function_call', 'completed']]);
    expect(b.output[0]).toMatchObject({ id: expect.stringMatching(/^rs_/), summary: [], content: [{ type: 'reasoning_text', text: 'think' }] });
    expect(b.output[2]).toMatchObject({ id: expect.stringMatching(/^fc_/), call_id: 'call_a', name: 'f', arguments: '{"x":1}' });
    expect(b.output[3]).toMatchObject({ call_id: 'call_b', name: 'g', arguments: '{}' });
    const argsDone = events.find((e) => e.type === 'response.function_call_arguments.done') as Extract<ResponsesStreamEvent, { type: 'response.function_call_arguments.done' }>;
    expect(argsDone).toMatchObject({ name: 'f', arguments: '{"x":1}', output_index: 2, item_id: b.output[2]!.id });
    // output_index of every event points at its item.
    for (const e of events) if ('output_index' in e && 'item_id' in e) expect(b.output[e.output_index]!.id).toBe(e.item_id);
  });

  it('a length cut: the message is incomplete and the response says why', () => {
    const b = new ResponseEventBuilder(META, echo);
    b.push({ content: 'abc' });
    const last = b.finish('length', USAGE).at(-1) as Extract<ResponsesStreamEvent, { type: 'response.incomplete' }>;
    expect(last.type).toBe('response.incomplete');
    expect(last.response).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
    expect(last.response.output[0]).toMatchObject({ type: 'message', status: 'incomplete' });
  });

  it('nothing generated: an empty message, so output_text reads ""', () => {
    const b = new ResponseEventBuilder(META, echo);
    b.push({ content: '', reasoning: '', toolCalls: [] });
    const last = b.finish('stop', USAGE).at(-1) as Extract<ResponsesStreamEvent, { type: 'response.completed' }>;
    expect(last.response.output).toEqual([expect.objectContaining({ type: 'message', content: [{ type: 'output_text', text: '', annotations: [] }] })]);
  });

  it('a failure: response.failed with the error and what was generated before it', () => {
    const b = new ResponseEventBuilder(META, echo);
    b.push({ content: 'par' });
    const events = b.fail('Generation failed: boom');
    expect(types(events)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.failed']);
    const last = events.at(-1) as Extract<ResponsesStreamEvent, { type: 'response.failed' }>;
    expect(last.response).toMatchObject({ status: 'failed', error: { code: 'server_error', message: 'Generation failed: boom' } });
    expect(last.response.output[0]).toMatchObject({ status: 'incomplete' });
  });
});

describe('response object', () => {
  it('repeats the request settings', () => {
    const parsed = parseResponsesRequest({ ...requestParams, stream: false }, LIMITS);
    const r = buildResponseObject(META, parsed.echo, { status: 'completed', output: [], usage: USAGE });
    expect(r).toMatchObject({
      instructions: 'Be brief.',
      max_output_tokens: 64,
      temperature: 0.7,
      top_p: 0.9,
      tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: {} }, strict: false }],
      tool_choice: { type: 'function', name: 'get_weather' },
      parallel_tool_calls: false,
      text: { format: { type: 'json_schema', name: 'w', schema: { type: 'object' }, strict: true } },
      metadata: { k: 'v' },
      reasoning: { effort: 'low', summary: null },
      user: 'u',
      store: false,
      previous_response_id: null,
    });
    expect(r.usage).toEqual({ input_tokens: 10, input_tokens_details: { cached_tokens: 4, cache_write_tokens: 0 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 15 });
  });
});

describe('compatibility with the openai client', () => {
  it('accepts a request body typed by the client', () => {
    const { chat } = parseResponsesRequest(requestParams, LIMITS);
    expect(chat.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool']);
    expect(chat).toMatchObject({ stream: true, maxTokens: 64, enableThinking: true, parallelToolCalls: false, responseFormat: { type: 'json_schema', strict: true } });
  });

  it('type-checks against the client types', () => {
    const configPath = fileURLToPath(new URL('../../../../tsconfig.json', import.meta.url));
    const config = ts.getParsedCommandLineOfConfigFile(configPath, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
    if (!config) throw new Error('cannot read tsconfig.json');
    const program = ts.createProgram([fileURLToPath(import.meta.url)], { ...config.options, noEmit: true });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
  }, 60_000);
});
