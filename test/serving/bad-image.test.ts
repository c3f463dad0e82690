/**
 * Bad images over real HTTP against `tandem up` with the tiny text model: every case is refused
 * at the gateway with a 400, the catalogue code and the offending field, before anything is
 * queued (the prompt-token counter does not move), and the server keeps serving afterwards.
 * Image checks run before the model's capability check, so a text-only model is enough to
 * exercise them; a valid image to that model is the model_does_not_support_images case.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataUrl, gradientImage, pngDeclaring, solidImage } from '../fixtures/test-images.js';
import { metricValue, startTandemUp, type RunningCluster } from '../fixtures/cluster.js';
import { genTinyModel } from '../fixtures/models.js';

const MODEL = 'tiny';
let cluster: RunningCluster;
let imageServer: Server;
let imagePort: number;
let promptTokensBefore: number;

interface Case {
  name: string;
  content: object[] | (() => object[]);
  code: string;
  param?: string;
  message?: RegExp;
  /** Other messages around the user turn under test. */
  messages?: (content: object[]) => object[];
}

const img = (url: string) => ({ type: 'image_url', image_url: { url } });
const txt = (text: string) => ({ type: 'text', text });
const URL0 = 'messages[0].content[1].image_url.url';

let png: Buffer;
let corrupt: Buffer;
let gif: Buffer;
let huge: Buffer;

async function promptTokens(): Promise<number> {
  return metricValue(await (await fetch(`${cluster.origin}/metrics`)).text(), 'tandem_prompt_tokens_total');
}

beforeAll(async () => {
  png = await gradientImage(64, 48);
  corrupt = Buffer.from(png);
  corrupt.fill(0x5a, 50, corrupt.length - 20); // header intact, pixel data garbage
  gif = await solidImage(16, 16, [0, 0, 0], 'gif');
  huge = await solidImage(5000, 4000, [30, 60, 90]); // 20 MP, a few KB compressed: over the 16.7 MP default
  imageServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end(png));
  await new Promise<void>((r) => imageServer.listen(0, '127.0.0.1', r));
  imagePort = (imageServer.address() as AddressInfo).port;
  cluster = await startTandemUp(['--model', genTinyModel(), '--served-model-name', MODEL, '--max-model-len', '256']);
  // One normal request so the prompt-token counter exists; the bad images must not move it.
  const ok = await new OpenAI({ baseURL: cluster.baseURL, apiKey: 'unused' }).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'warm up' }], max_tokens: 2 });
  expect(ok.choices).toHaveLength(1);
  promptTokensBefore = await promptTokens();
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
  imageServer?.closeAllConnections();
  await new Promise((r) => imageServer?.close(r));
});

const CASES: Case[] = [
  { name: 'corrupt image bytes', content: () => [txt('what is this?'), img(dataUrl(corrupt))], code: 'invalid_image', param: URL0, message: /corrupt/ },
  { name: 'truncated PNG', content: () => [txt('x'), img(dataUrl(png.subarray(0, 60)))], code: 'invalid_image', param: URL0 },
  { name: 'bytes that are no image', content: [txt('x'), img(dataUrl(Buffer.from('just some text, not pixels')))], code: 'invalid_image', param: URL0, message: /not a PNG, JPEG or WebP/ },
  { name: 'zero-size image', content: [txt('x'), img('data:image/png;base64,')], code: 'invalid_image', param: URL0, message: /empty/ },
  { name: 'invalid base64', content: [txt('x'), img('data:image/png;base64,!!!not*base64!!!')], code: 'invalid_image', param: URL0, message: /base64/ },
  { name: 'data: URL without base64', content: [txt('x'), img('data:image/png,hello')], code: 'invalid_image', param: URL0 },
  { name: 'wrong MIME type', content: () => [txt('x'), img(dataUrl(png, 'text/plain'))], code: 'unsupported_image_format', param: URL0, message: /text\/plain/ },
  { name: 'SVG MIME type', content: [txt('x'), img(dataUrl(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), 'image/svg+xml'))], code: 'unsupported_image_format', param: URL0 },
  { name: 'GIF labelled as PNG', content: () => [txt('x'), img(dataUrl(gif))], code: 'unsupported_image_format', param: URL0, message: /GIF/ },
  { name: 'over the pixel limit', content: () => [txt('x'), img(dataUrl(huge))], code: 'image_too_large', param: URL0, message: /5000x4000/ },
  { name: 'decompression bomb (tiny PNG declaring 100000x100000)', content: [txt('x'), img(dataUrl(pngDeclaring(100000, 100000)))], code: 'image_too_large', param: URL0, message: /100000x100000/ },
  { name: 'remote URL (not allow-listed)', content: () => [txt('x'), img(`http://127.0.0.1:${imagePort}/cat.png`)], code: 'image_url_not_allowed', param: URL0 },
  { name: 'cloud metadata URL', content: [txt('x'), img('http://169.254.169.254/latest/meta-data/')], code: 'image_url_not_allowed', param: URL0 },
  { name: 'file: URL', content: [txt('x'), img('file:///etc/passwd')], code: 'invalid_image', param: URL0 },
  { name: 'too many images', content: () => [txt('x'), ...Array.from({ length: 9 }, () => img(dataUrl(png)))], code: 'too_many_images', param: 'messages' },
  { name: 'image_url without url', content: [txt('x'), { type: 'image_url', image_url: {} }], code: 'missing_parameter', param: URL0 },
  {
    name: 'image in an assistant message',
    content: [txt('x')],
    messages: (c) => [{ role: 'user', content: c }, { role: 'assistant', content: [img('data:image/png;base64,AAAA')] }, { role: 'user', content: 'and?' }],
    code: 'invalid_parameter',
    param: 'messages[1].content[0]',
  },
  { name: 'valid image to a text-only model', content: () => [txt('describe'), img(dataUrl(png))], code: 'model_does_not_support_images', param: 'messages[0].content[1]', message: /does not accept image input/ },
];

describe('bad images over HTTP', () => {
  it.each(CASES)('$name → 400 $code', async (c) => {
    const content = typeof c.content === 'function' ? c.content() : c.content;
    const messages = c.messages ? c.messages(content) : [{ role: 'user', content }];
    const res = await fetch(`${cluster.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages, max_tokens: 4 }),
    });
    const json = (await res.json()) as { error: { code: string; message: string; param: string | null; type: string } };
    expect([res.status, json.error.code]).toEqual([400, c.code]);
    expect(Object.keys(json.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(json.error.type).toBe('invalid_request_error');
    expect(json.error.message.length).toBeGreaterThan(20);
    if (c.param !== undefined) expect(json.error.param).toBe(c.param);
    if (c.message) expect(json.error.message).toMatch(c.message);
  });

  it('queued nothing for any of them, and keeps serving', async () => {
    expect(await promptTokens()).toBe(promptTokensBefore);
    const client = new OpenAI({ baseURL: cluster.baseURL, apiKey: 'unused' });
    const ok = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: [{ type: 'text', text: 'still alive?' }] }], max_tokens: 4 });
    expect(ok.choices).toHaveLength(1);
    expect(ok.usage!.prompt_tokens).toBeGreaterThan(0);
    // The official client maps the image refusal to its typed 400 error.
    await expect(
      client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: dataUrl(png) } }] }] }),
    ).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    expect((await fetch(`${cluster.origin}/health`)).status).toBe(200);
  });
});
