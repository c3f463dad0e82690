/**
 * Structured outputs through the official `openai` client against `tandem up` (the embedded
 * disaggregated default: prefill and decode workers behind the router): on a random-weight model
 * every response_format json_schema reply parses and validates with ajv, forced tool calls are
 * tool calls whose arguments validate, and the errors of the edge are catalogue entries.
 * The multi-process cluster runs the same checks in test/cluster/structured-output-cluster.test.ts.
 */
import Ajv from 'ajv';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../services/text/load-tokenizer.js';
import { startTandemUp, type RunningCluster } from '../fixtures/cluster.js';
import { JSON_SCHEMA_FIXTURES } from '../../loadtest/structured/json-schemas.js';
import { genTinyModel } from '../fixtures/models.js';
import { FORECAST_TOOLS, MODEL, askFor, checkStructuredReplies, checkToolCalls } from '../fixtures/structured-output-checks.js';

let server: RunningCluster;
let client: OpenAI;
let modelDir: string;

beforeAll(async () => {
  modelDir = genTinyModel('ernie4_5', 3);
  server = await startTandemUp(['--model', modelDir, '--served-model-name', MODEL]);
  client = new OpenAI({ baseURL: server.baseURL, apiKey: 'unused', maxRetries: 0 });
}, 120_000);
afterAll(async () => server?.stop());

describe('response_format json_schema', () => {
  it(`every reply to ${JSON_SCHEMA_FIXTURES.length} schemas validates (greedy and sampled, short and long prompts)`, async () => {
    const replies = await checkStructuredReplies(client);
    expect(replies.length).toBe(JSON_SCHEMA_FIXTURES.length * 2);
  }, 300_000);

  it('json_object: any JSON object; streamed, the deltas concatenate to it', async () => {
    const r = await client.chat.completions.create({ ...askFor('Describe a cat.'), response_format: { type: 'json_object' }, max_tokens: 80, temperature: 1, seed: 4 });
    const obj = JSON.parse(r.choices[0]!.message.content!);
    expect(typeof obj === 'object' && obj !== null && !Array.isArray(obj)).toBe(true);
    expect(r.choices[0]!.finish_reason).toBe('stop');
    const stream = await client.chat.completions.create({ ...askFor('Describe a cat.'), response_format: { type: 'json_object' }, max_tokens: 80, temperature: 1, seed: 4, stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe(r.choices[0]!.message.content);
  });

  it('/v1/completions takes response_format too (as vLLM does)', async () => {
    const r = await client.completions.create({ model: MODEL, prompt: 'Q: a person as JSON\nA:', max_tokens: 60, temperature: 0.8, seed: 2, response_format: { type: 'json_schema', json_schema: { name: 'p', schema: JSON_SCHEMA_FIXTURES[0]!.schema, strict: true } } } as never);
    const ajv = new Ajv({ allowUnionTypes: true });
    expect(ajv.validate(JSON_SCHEMA_FIXTURES[0]!.schema, JSON.parse(r.choices[0]!.text))).toBe(true);
  });

  it('with thinking on, the reply follows a free reasoning block: reasoning_content holds the reasoning, content the valid JSON', async () => {
    const schema = JSON_SCHEMA_FIXTURES[0]!.schema;
    const ajv = new Ajv({ allowUnionTypes: true });
    for (const seed of [1, 2, 3]) {
      const r = await client.chat.completions.create({ ...askFor('Think, then answer: a person.'), max_tokens: 120, temperature: 1, seed, chat_template_kwargs: { enable_thinking: true }, response_format: { type: 'json_schema', json_schema: { name: 'p', schema, strict: true } } } as never);
      const msg = r.choices[0]!.message as { content: string | null; reasoning_content?: string };
      expect(r.choices[0]!.finish_reason).toBe('stop');
      expect(typeof msg.reasoning_content).toBe('string');
      expect(msg.reasoning_content).not.toContain('</think>');
      expect(ajv.validate(schema, JSON.parse(msg.content!)), msg.content!).toBe(true);
    }
  });

  it('too few tokens for any valid reply: finish_reason length and the partial output', async () => {
    const r = await client.chat.completions.create({ ...askFor('Person?'), max_tokens: 4, response_format: { type: 'json_schema', json_schema: { name: 'p', schema: JSON_SCHEMA_FIXTURES[0]!.schema, strict: true } } });
    expect(r.choices[0]!.finish_reason).toBe('length');
    expect('{"name":"'.startsWith(r.choices[0]!.message.content!.slice(0, 2))).toBe(true);
  });
});

describe('tool_choice', () => {
  it('"required", a named function, parallel_tool_calls false and "none" are enforced', async () => {
    await checkToolCalls(client);
  }, 120_000);
});

describe('logit_bias', () => {
  it('+100 on a token makes it the whole greedy reply; ids outside the vocabulary and values outside [-100, 100] are 400s', async () => {
    const tokenizer = await loadTokenizer(modelDir);
    const id = tokenizer.vocabSize - 5;
    const r = await client.completions.create({ model: MODEL, prompt: 'Hello', max_tokens: 3, temperature: 0, logit_bias: { [id]: 100 } });
    expect(r.choices[0]!.text).toBe(tokenizer.decode([id, id, id], { skipSpecialTokens: true }));
    for (const bias of [{ [tokenizer.vocabSize + 10]: 1 }, { 5: 101 }, { x: 1 }]) {
      const e = await client.completions.create({ model: MODEL, prompt: 'Hello', max_tokens: 3, logit_bias: bias as Record<string, number> }).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(OpenAI.BadRequestError);
      expect((e as InstanceType<typeof OpenAI.BadRequestError>).param).toMatch(/^logit_bias/);
    }
  });
});

describe('errors of the edge', () => {
  const fail = (body: Record<string, unknown>) =>
    client.chat.completions.create({ ...askFor('x'), max_tokens: 8, ...body } as never).then(
      () => { throw new Error('expected a 400'); },
      (e: unknown) => e as InstanceType<typeof OpenAI.BadRequestError>,
    );

  it('an unsupported keyword is named with its path; an invalid or unsatisfiable schema and an unknown tool are 400s', async () => {
    const kw = await fail({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { age: { type: 'integer', minimum: 0 } }, required: ['age'] } } } });
    expect(kw.status).toBe(400);
    expect(kw.code).toBe('unsupported_json_schema_keyword');
    expect(kw.param).toBe('response_format.json_schema.schema.properties.age.minimum');
    const bad = await fail({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { me: { $ref: '#' } }, required: ['me'] } } } });
    expect(bad.code).toBe('invalid_json_schema');
    const tool = await fail({ tools: FORECAST_TOOLS, tool_choice: { type: 'function', function: { name: 'nope' } } });
    expect(tool.code).toBe('tool_not_found');
  });
});
