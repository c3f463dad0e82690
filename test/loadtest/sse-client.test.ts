/**
 * The SSE client against a scripted server: only text-carrying chunks are timed (not the role
 * chunk), usage is read, and refusals and in-stream error events become failed requests.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestBody, sendStreaming } from '../../loadtest/generator/sse-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bodies: Array<Record<string, unknown>> = [];
let server: Server;
let url = '';

const chunk = (delta: object, usage: object | null = null) => `data: ${JSON.stringify({ choices: [{ index: 0, delta }], usage })}\n\n`;

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', async () => {
      const body = JSON.parse(raw) as { messages: Array<{ content: unknown }> };
      bodies.push(body);
      const content = body.messages[0]!.content;
      if (Array.isArray(content)) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'Image inputs are not supported yet', code: 'unsupported_parameter' } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk({ role: 'assistant', content: '' }));
      await sleep(30);
      if (content === 'silent tokens') {
        // Tokens that decode to no text: only a logprobs entry shows each one arriving.
        const withLogprobs = (body as { logprobs?: boolean }).logprobs === true;
        for (let i = 0; i < 3; i++) {
          res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, logprobs: withLogprobs ? { content: [{ token: '', logprob: -1, bytes: [] }] } : null }], usage: null })}\n\n`);
          await sleep(10);
        }
        res.end(`data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 } })}\n\ndata: [DONE]\n\n`);
        return;
      }
      if (content === 'fail midway') {
        res.write(chunk({ content: 'a' }));
        res.end(`data: ${JSON.stringify({ error: { message: 'worker lost', code: 'internal_error' } })}\n\ndata: [DONE]\n\n`);
        return;
      }
      for (const piece of ['He', 'llo', '', ' world']) {
        // The empty delta stands for a token that decoded to no text yet.
        res.write(chunk({ content: piece }));
        await sleep(15);
      }
      res.write(`data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 } })}\n\n`);
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

const opts = () => ({ url, model: 'm', ignoreEos: true, timeoutMs: 10_000 });

describe('sendStreaming', () => {
  it('times text chunks only and reads usage', async () => {
    const t = await sendStreaming({ id: 1, text: 'hi', maxTokens: 4 }, opts());
    expect(t.ok).toBe(true);
    expect(t.chunkMs).toHaveLength(3);
    // The role chunk arrives at once; the first text chunk 30 ms later.
    expect(t.chunkMs[0]! - t.sentMs).toBeGreaterThanOrEqual(25);
    expect(t.outputTokens).toBe(4);
    expect(t.promptTokens).toBe(9);
    expect(t.endMs).toBeGreaterThanOrEqual(t.chunkMs[2]!);
  });

  it('sends a streaming request with usage, max_tokens and ignore_eos', async () => {
    await sendStreaming({ id: 2, text: 'body check', maxTokens: 17 }, opts());
    expect(bodies.at(-1)).toEqual({
      model: 'm',
      messages: [{ role: 'user', content: 'body check' }],
      max_tokens: 17,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
      ignore_eos: true,
    });
  });

  it('a refused image request is a failure with the server message', async () => {
    const t = await sendStreaming({ id: 3, text: 'look', maxTokens: 4, image: 'data:image/png;base64,AAAA' }, opts());
    expect(t.ok).toBe(false);
    expect(t.error).toBe('HTTP 400: Image inputs are not supported yet');
    expect(requestBody({ id: 3, text: 'look', maxTokens: 4, image: 'data:x' }, { model: 'm', ignoreEos: false }).messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: 'data:x' } }] },
    ]);
  });

  it('tokens without text are timed through their logprobs, and fail with a hint without them', async () => {
    const t = await sendStreaming({ id: 6, text: 'silent tokens', maxTokens: 3 }, { ...opts(), logprobs: true });
    expect(bodies.at(-1)).toMatchObject({ logprobs: true });
    expect(t.ok).toBe(true);
    expect(t.chunkMs).toHaveLength(3);
    expect(t.outputTokens).toBe(3);
    const bare = await sendStreaming({ id: 7, text: 'silent tokens', maxTokens: 3 }, opts());
    expect(bodies.at(-1)).not.toHaveProperty('logprobs');
    expect(bare.ok).toBe(false);
    expect(bare.error).toMatch(/no chunk carried a token .*--logprobs/);
  });

  it('an error event inside the stream fails the request', async () => {
    const t = await sendStreaming({ id: 4, text: 'fail midway', maxTokens: 4 }, opts());
    expect(t.ok).toBe(false);
    expect(t.error).toBe('worker lost');
  });

  it('an unreachable server is a failure, not a crash', async () => {
    const t = await sendStreaming({ id: 5, text: 'x', maxTokens: 1 }, { ...opts(), url: 'http://127.0.0.1:1/v1/chat/completions' });
    expect(t.ok).toBe(false);
    expect(t.error).toBeTruthy();
  });
});
