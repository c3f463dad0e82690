/**
 * Bad input over real HTTP against `tandem up --api-key`: every case gets its documented status
 * and an OpenAI-style error body, and the server keeps serving afterwards.
 */
import { request as httpRequest } from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTandemUp, type RunningCluster } from '../fixtures/cluster.js';
import { genTinyModel } from '../fixtures/models.js';

const MODEL = 'tiny';
const KEY = 'sk-test-123';
let cluster: RunningCluster;

beforeAll(async () => {
  cluster = await startTandemUp(['--model', genTinyModel(), '--served-model-name', MODEL, '--api-key', KEY, '--max-model-len', '256']);
});
afterAll(async () => cluster?.stop());

interface Case {
  name: string;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string | object;
  status: number;
  code: string;
  param?: string | null;
}

const chat = (extra: object = {}) => ({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], ...extra });
const completion = (extra: object = {}) => ({ model: MODEL, prompt: 'hi', ...extra });
const longText = Array.from({ length: 400 }, (_, i) => `word${i}`).join(' ');

const CASES: Case[] = [
  { name: 'malformed JSON', body: '{"model": "tiny", "messages": [', status: 400, code: 'invalid_json' },
  { name: 'empty body', body: '', status: 400, code: 'invalid_json' },
  { name: 'JSON array body', body: '[]', status: 400, code: 'invalid_json' },
  { name: 'wrong content type', headers: { 'content-type': 'text/plain' }, body: 'hello', status: 415, code: 'unsupported_media_type' },
  { name: 'body too large', body: JSON.stringify(chat({ messages: [{ role: 'user', content: 'x'.repeat(5 * 1024 * 1024) }] })), status: 413, code: 'body_too_large' },
  { name: 'no API key', headers: { authorization: '' }, body: chat(), status: 401, code: 'invalid_api_key' },
  { name: 'wrong API key', headers: { authorization: 'Bearer sk-wrong' }, body: chat(), status: 401, code: 'invalid_api_key' },
  { name: 'malformed authorization header', headers: { authorization: 'Basic abc' }, body: chat(), status: 401, code: 'invalid_api_key' },
  { name: 'unknown route', path: '/v1/embeddings', body: {}, status: 404, code: 'route_not_found' },
  { name: 'wrong method', path: '/v1/chat/completions', method: 'GET', status: 405, code: 'method_not_allowed' },
  { name: 'missing model', body: { messages: [{ role: 'user', content: 'hi' }] }, status: 400, code: 'missing_parameter', param: 'model' },
  { name: 'unknown model', body: chat({ model: 'gpt-4o' }), status: 404, code: 'model_not_found', param: 'model' },
  { name: 'model of the wrong type', body: chat({ model: 42 }), status: 400, code: 'invalid_parameter', param: 'model' },
  { name: 'missing messages', body: { model: MODEL }, status: 400, code: 'missing_parameter', param: 'messages' },
  { name: 'empty messages', body: chat({ messages: [] }), status: 400, code: 'invalid_parameter', param: 'messages' },
  { name: 'unknown role', body: chat({ messages: [{ role: 'wizard', content: 'hi' }] }), status: 400, code: 'invalid_parameter', param: 'messages[0].role' },
  { name: 'content of the wrong type', body: chat({ messages: [{ role: 'user', content: 7 }] }), status: 400, code: 'invalid_parameter', param: 'messages[0].content' },
  { name: 'prompt longer than the context', body: chat({ messages: [{ role: 'user', content: longText }] }), status: 400, code: 'context_length_exceeded', param: 'messages' },
  { name: 'completion prompt longer than the context', path: '/v1/completions', body: completion({ prompt: longText }), status: 400, code: 'context_length_exceeded', param: 'prompt' },
  { name: 'max_tokens zero', body: chat({ max_tokens: 0 }), status: 400, code: 'max_tokens_out_of_range', param: 'max_tokens' },
  { name: 'max_tokens beyond the context', body: chat({ max_tokens: 100000 }), status: 400, code: 'max_tokens_out_of_range', param: 'max_tokens' },
  { name: 'max_completion_tokens negative', body: chat({ max_completion_tokens: -1 }), status: 400, code: 'max_tokens_out_of_range', param: 'max_completion_tokens' },
  { name: 'prompt + max_tokens over the context', body: chat({ messages: [{ role: 'user', content: longText.slice(0, 600) }], max_tokens: 250 }), status: 400, code: 'context_length_exceeded' },
  { name: 'temperature out of range', body: chat({ temperature: 3 }), status: 400, code: 'invalid_parameter', param: 'temperature' },
  { name: 'top_p of the wrong type', body: chat({ top_p: 'high' }), status: 400, code: 'invalid_parameter', param: 'top_p' },
  { name: 'n too large', body: chat({ n: 100 }), status: 400, code: 'invalid_parameter', param: 'n' },
  { name: 'stream of the wrong type', body: chat({ stream: 'yes' }), status: 400, code: 'invalid_parameter', param: 'stream' },
  { name: 'too many stop strings', body: chat({ stop: ['a', 'b', 'c', 'd', 'e'] }), status: 400, code: 'invalid_parameter', param: 'stop' },
  { name: 'top_logprobs without logprobs', body: chat({ top_logprobs: 3 }), status: 400, code: 'invalid_parameter', param: 'top_logprobs' },
  { name: 'image content part that is no image', body: chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }] }), status: 400, code: 'invalid_image', param: 'messages[0].content[0].image_url.url' },
  { name: 'several completion prompts', path: '/v1/completions', body: completion({ prompt: ['a', 'b'] }), status: 400, code: 'unsupported_parameter', param: 'prompt' },
  { name: 'completion token id outside the vocabulary', path: '/v1/completions', body: completion({ prompt: [1, 2, 999999] }), status: 400, code: 'invalid_parameter', param: 'prompt' },
  { name: 'completion prompt of the wrong type', path: '/v1/completions', body: completion({ prompt: { text: 'hi' } }), status: 400, code: 'invalid_parameter', param: 'prompt' },
  { name: 'seed of the wrong type', body: chat({ seed: 'lucky' }), status: 400, code: 'invalid_parameter', param: 'seed' },
  { name: 'tools of the wrong shape', body: chat({ tools: [{ type: 'function' }] }), status: 400, code: 'missing_parameter' },
];

/**
 * A plain node:http client. For an oversized body it announces the full Content-Length but sends
 * only the first kilobyte and waits: the server must refuse from the header alone (413) without
 * reading the rest — and this keeps the test free of write-after-close races.
 */
function send(url: string, method: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const len = body === undefined ? undefined : Buffer.byteLength(body);
    const req = httpRequest(url, { method, headers: len === undefined ? headers : { ...headers, 'content-length': String(len) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        resolve({ status: res.statusCode!, body: text });
        req.destroy();
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ECONNRESET' && e.code !== 'EPIPE') reject(e);
    });
    if (body === undefined) req.end();
    else if (len! > 1024 * 1024) req.write(body.slice(0, 1024));
    else req.end(body);
  });
}

describe('bad input over HTTP', () => {
  it(`has at least 30 cases (${CASES.length})`, () => expect(CASES.length).toBeGreaterThanOrEqual(30));

  it.each(CASES)('$name → $status $code', async (c) => {
    const headers: Record<string, string> = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...c.headers };
    if (headers.authorization === '') delete headers.authorization;
    const body = c.body === undefined ? undefined : typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
    const res = await send(`${cluster.origin}${c.path ?? '/v1/chat/completions'}`, c.method ?? 'POST', headers, body);
    expect(res.status).toBe(c.status);
    const json = JSON.parse(res.body) as { error: Record<string, unknown> };
    expect(Object.keys(json)).toEqual(['error']);
    expect(Object.keys(json.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(json.error.code).toBe(c.code);
    expect(typeof json.error.message).toBe('string');
    expect((json.error.message as string).length).toBeGreaterThan(10);
    if (c.param !== undefined) expect(json.error.param).toBe(c.param);
    expect(json.error.type).toBe(c.status === 401 ? 'authentication_error' : 'invalid_request_error');
  });

  it('keeps serving after all of that, and the OpenAI client sees typed errors', async () => {
    const client = new OpenAI({ baseURL: cluster.baseURL, apiKey: KEY });
    const ok = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'still alive?' }], max_tokens: 4 });
    expect(ok.choices).toHaveLength(1);
    await expect(new OpenAI({ baseURL: cluster.baseURL, apiKey: 'nope' }).models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect((await fetch(`${cluster.origin}/health`)).status).toBe(200);
  });
});
