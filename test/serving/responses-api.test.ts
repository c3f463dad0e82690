/**
 * POST /v1/responses through the official `openai` client against `tandem up`: the same greedy
 * text and token counts as a chat completion of the same messages, the stream's events in order
 * and adding up to the final response, refusals, and a function-tool round trip on the scripted
 * model (fixtures/scripted-model), which emits reasoning, content and a <tool_call> block.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue, startTandemUp, type RunningCluster } from '../fixtures/cluster.js';
import { genTinyModel } from '../fixtures/models.js';
import { writeScriptedModel } from '../fixtures/scripted-model.js';

const MODEL = 'tandem-tiny';
const SCRIPTED = 'scripted';
const REASONING = 'The user wants the weather, so I should call the tool.';
const CONTENT = 'Let me look that up.';
const CALL = '{"name": "get_weather", "arguments": {"city": "Paris"}}';

let tiny: RunningCluster;
let scripted: RunningCluster;
let client: OpenAI;
let scriptedClient: OpenAI;

beforeAll(async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'tandem-responses-')), 'model');
  await writeScriptedModel(dir, [REASONING, '</think>', CONTENT, '<tool_call>', CALL, '</tool_call>']);
  [tiny, scripted] = await Promise.all([
    // Unified: the disconnect test reads the engine's KV gauge on the gateway's /metrics.
    startTandemUp(['--model', genTinyModel('ernie4_5', 5), '--served-model-name', MODEL, '--mode', 'unified']),
    startTandemUp(['--model', dir, '--served-model-name', SCRIPTED, '--mode', 'unified']),
  ]);
  client = new OpenAI({ baseURL: tiny.baseURL, apiKey: 'unused' });
  scriptedClient = new OpenAI({ baseURL: scripted.baseURL, apiKey: 'unused' });
}, 120_000);
afterAll(async () => {
  await Promise.all([tiny?.stop(), scripted?.stop()]);
});

const tools: OpenAI.Responses.FunctionTool[] = [
  { type: 'function', name: 'get_weather', description: 'Current weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: false },
];

describe('/v1/responses with the openai client', () => {
  it('non-streaming: the greedy text and token counts of the same chat completion', async () => {
    const r = await client.responses.create({ model: MODEL, instructions: 'Answer briefly.', input: 'Tell me about Tandem', max_output_tokens: 16, temperature: 0 });
    const chat = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'system', content: 'Answer briefly.' }, { role: 'user', content: 'Tell me about Tandem' }],
      max_completion_tokens: 16,
      temperature: 0,
    });
    expect(r.id).toMatch(/^resp_[0-9a-f]{24}$/);
    expect(r.object).toBe('response');
    expect(r.model).toBe(MODEL);
    expect(typeof r.output_text).toBe('string');
    expect(r.output_text.length).toBeGreaterThan(0);
    expect(r.output_text).toBe(chat.choices[0]!.message.content);
    expect(r.usage).toMatchObject({ input_tokens: chat.usage!.prompt_tokens, output_tokens: chat.usage!.completion_tokens, total_tokens: chat.usage!.total_tokens });
    expect(r.status).toBe(chat.choices[0]!.finish_reason === 'length' ? 'incomplete' : 'completed');
    if (r.status === 'incomplete') expect(r.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(r.output).toHaveLength(1);
    expect(r.output[0]).toMatchObject({ type: 'message', role: 'assistant', id: expect.stringMatching(/^msg_/) });
    expect(r).toMatchObject({ instructions: 'Answer briefly.', max_output_tokens: 16, temperature: 0, store: false, tools: [], tool_choice: 'none' });
  });

  it('streaming: lifecycle and item events in order, deltas adding up to the final response', async () => {
    const params = { model: MODEL, input: [{ role: 'user' as const, content: 'Tell me a story about Tandem' }], max_output_tokens: 20, temperature: 0 };
    const whole = await client.responses.create(params);
    const stream = await client.responses.create({ ...params, stream: true });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const e of stream) events.push(e);

    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const types = events.map((e) => e.type);
    expect(types.slice(0, 4)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    const last = events.at(-1)!;
    expect(['response.completed', 'response.incomplete']).toContain(last.type);
    expect(types.slice(-4, -1)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done']);
    expect(types.slice(4, -4).every((t) => t === 'response.output_text.delta')).toBe(true);

    const text = events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : [])).join('');
    const final = (last as OpenAI.Responses.ResponseCompletedEvent).response;
    const message = final.output[0] as OpenAI.Responses.ResponseOutputMessage;
    expect(text).toBe((message.content[0] as OpenAI.Responses.ResponseOutputText).text);
    expect(text).toBe(whole.output_text);
    const done = events.find((e) => e.type === 'response.output_text.done') as OpenAI.Responses.ResponseTextDoneEvent;
    expect(done.text).toBe(text);
    expect(done.item_id).toBe(message.id);
    expect(final.status).toBe(whole.status);
    expect(final.usage).toMatchObject({ input_tokens: whole.usage!.input_tokens, output_tokens: whole.usage!.output_tokens });
    const created = events[0] as OpenAI.Responses.ResponseCreatedEvent;
    expect(created.response).toMatchObject({ id: final.id, status: 'in_progress', output: [] });
  });

  it('previous_response_id: 400 saying responses are not stored', async () => {
    const err = await client.responses.create({ model: MODEL, input: 'hi', previous_response_id: 'resp_0123' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e.status).toBe(400);
    expect(e.code).toBe('previous_response_not_supported');
    expect(e.param).toBe('previous_response_id');
    expect(e.message).toMatch(/not stored/);
  });

  it('a built-in tool: 400 unsupported naming the tool', async () => {
    const err = await client.responses.create({ model: MODEL, input: 'hi', tools: [{ type: 'web_search' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('tools[0].type');
  });

  // Its API key is checked like every route's (deny by default): test/serving/edge-fuzz.test.ts.
  it('GET: 405 naming POST, like the other API routes', async () => {
    const res = await fetch(`${tiny.baseURL}/responses`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });
});

describe('structured output: text.format and a forced tool_choice reach the constrained decoder', () => {
  const schema = { type: 'object', properties: { city: { type: 'string', maxLength: 8 }, n: { type: 'integer' } }, required: ['city', 'n'], additionalProperties: false };
  const matches = (text: string) => {
    const v = JSON.parse(text) as { city: unknown; n: unknown };
    expect(Object.keys(v).sort()).toEqual(['city', 'n']);
    expect(typeof v.city).toBe('string');
    expect(Number.isInteger(v.n)).toBe(true);
  };

  it('json_schema: the output text is an instance of the schema, even from random weights', async () => {
    const r = await client.responses.create({ model: MODEL, input: 'json please', temperature: 0, max_output_tokens: 200, text: { format: { type: 'json_schema', name: 'place', schema, strict: true } } });
    expect(r.status).toBe('completed');
    matches(r.output_text);
    expect(r.text?.format).toMatchObject({ type: 'json_schema', name: 'place', strict: true });
  });

  it('tool_choice required: the reply is a function call whose arguments fit the parameters', async () => {
    const r = await client.responses.create({ model: MODEL, input: 'call it', temperature: 0, max_output_tokens: 200, tools: [{ type: 'function', name: 'lookup', parameters: schema, strict: true }], tool_choice: 'required' });
    const calls = r.output.filter((i): i is OpenAI.Responses.ResponseFunctionToolCall => i.type === 'function_call');
    expect(calls.length).toBeGreaterThan(0);
    expect(calls[0]!.name).toBe('lookup');
    matches(calls[0]!.arguments);
  });

  it('a schema that cannot be enforced: 400 naming it under text.format', async () => {
    const err = await client.responses.create({ model: MODEL, input: 'x', text: { format: { type: 'json_schema', name: 'bad', schema: { type: 'object', properties: { a: { type: 'bogus' } } } } } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toMatch(/^text\.format\.schema/);
  });
});

describe('client disconnect', () => {
  it('hanging up mid-stream aborts the generation: KV freed, nothing left running', async () => {
    const metrics = async () => (await fetch(`${tiny.origin}/metrics`)).text();
    const ac = new AbortController();
    // Greedy decoding of this tiny model never picks EOS, so the request runs until aborted.
    const res = await fetch(`${tiny.baseURL}/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, input: 'go on forever', max_output_tokens: 3000, temperature: 0, stream: true }),
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    let got = '';
    while ((got.match(/event: response\.output_text\.delta/g) ?? []).length < 10) got += new TextDecoder().decode((await reader.read()).value);
    expect(metricValue(await metrics(), 'tandem_kv_cache_usage_perc')).toBeGreaterThan(0);
    ac.abort();
    const t0 = Date.now();
    let usage = 1;
    while (Date.now() - t0 < 2000) {
      usage = metricValue(await metrics(), 'tandem_kv_cache_usage_perc');
      if (usage === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(usage).toBe(0);
    expect(metricValue(await metrics(), 'tandem_num_requests_running')).toBe(0);
    expect(await metrics()).toMatch(/tandem_requests_total\{[^}]*finish_reason="abort"[^}]*\} [1-9]/);
  });
});

describe('function tools round trip (scripted model)', () => {
  const question = { role: 'user' as const, content: 'What is the weather in Paris?' };

  it('a function_call item, then its function_call_output accepted as input', async () => {
    const r = await scriptedClient.responses.create({ model: SCRIPTED, input: [question], tools, reasoning: { effort: 'low' }, temperature: 0, max_output_tokens: 20 });
    expect(r.status).toBe('completed');
    expect(r.output.map((i) => i.type)).toEqual(['reasoning', 'message', 'function_call']);
    const reasoning = r.output[0] as OpenAI.Responses.ResponseReasoningItem;
    expect(reasoning.content).toEqual([{ type: 'reasoning_text', text: REASONING }]);
    expect(r.output_text).toBe(CONTENT);
    const call = r.output[2] as OpenAI.Responses.ResponseFunctionToolCall;
    expect(call).toMatchObject({ name: 'get_weather', status: 'completed', id: expect.stringMatching(/^fc_/), call_id: expect.stringMatching(/^call_/) });
    expect(JSON.parse(call.arguments)).toEqual({ city: 'Paris' });

    // The stateless agent loop: send the whole transcript back with the tool's result.
    const next = await scriptedClient.responses.create({
      model: SCRIPTED,
      input: [question, ...(r.output as OpenAI.Responses.ResponseInputItem[]), { type: 'function_call_output', call_id: call.call_id, output: '{"temp": 21}' }],
      tools,
      temperature: 0,
      max_output_tokens: 20,
    });
    expect(next.status).toBe('completed');
    expect(next.usage!.input_tokens).toBeGreaterThan(r.usage!.input_tokens);
  });

  it('streaming: reasoning, text, then the call with its arguments', async () => {
    const stream = await scriptedClient.responses.create({ model: SCRIPTED, input: [question], tools, reasoning: { effort: 'low' }, temperature: 0, max_output_tokens: 20, stream: true });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const e of stream) events.push(e);
    const added = events.flatMap((e) => (e.type === 'response.output_item.added' ? [e.item.type] : []));
    expect(added).toEqual(['reasoning', 'message', 'function_call']);
    const reasoning = events.flatMap((e) => (e.type === 'response.reasoning_text.delta' ? [e.delta] : [])).join('');
    expect(reasoning).toBe(REASONING);
    const args = events.find((e) => e.type === 'response.function_call_arguments.done') as OpenAI.Responses.ResponseFunctionCallArgumentsDoneEvent;
    expect(JSON.parse(args.arguments)).toEqual({ city: 'Paris' });
    expect(args.name).toBe('get_weather');
    expect(events.at(-1)!.type).toBe('response.completed');
  });

  it('tool_choice none: no function_call item, only a message', async () => {
    const r = await scriptedClient.responses.create({ model: SCRIPTED, input: [question], tools, tool_choice: 'none', temperature: 0, max_output_tokens: 20 });
    expect(r.output.map((i) => i.type)).toEqual(['message']);
    expect(r.output_text).toContain(CONTENT);
  });
});
