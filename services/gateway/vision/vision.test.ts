/**
 * Image input through the gateway, in-process: the generated ERNIE tokenizer (which carries the
 * image special tokens) and chat template, a served model with and without a vision spec, and a
 * recording backend — so the prompt layout handed to the backend is checked exactly.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AsyncQueue } from '../../common/async-queue.js';
import { isApiError } from '../../common/errors/index.js';
import type { RequestOutput } from '../../protocol/request.js';
import { processImageBytes, DEFAULT_MEDIA_OPTIONS, type ProcessedImage } from '../../media/index.js';
import { dataUrl, gradientImage, solidImage } from '../../../test/fixtures/test-images.js';
import { generateTokenizer } from '../../../tools/tokenizer/generate-tokenizer.js';
import { loadTokenizerBundle, type TokenizerBundle } from '../../text/load-tokenizer.js';
import type { BackendRequest, GenerationBackend, ServedModel } from '../backend.js';
import { parseChatCompletionRequest } from '../openai/index.js';
import { buildGateway } from '../server.js';
import { IMAGE_MARKER, tokenizeWithImages } from './expand-placeholders.js';
import { visionSpecFromConfig } from './vision-spec.js';

let bundle: TokenizerBundle;
let ids: { start: number; end: number; placeholder: number };
let small: ProcessedImage; // 56×56 → 4 tokens
let wide: ProcessedImage; // 112×56 → 8 tokens

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-vision-tok-'));
  await generateTokenizer(dir, { vocabSize: 1024 });
  bundle = await loadTokenizerBundle(dir);
  const tok = bundle.tokenizer.specialTokens;
  ids = { start: tok.get('<|IMAGE_START|>')!, end: tok.get('<|IMAGE_END|>')!, placeholder: tok.get('<|IMAGE_PLACEHOLDER|>')! };
  small = await processImageBytes(await solidImage(50, 50, [200, 10, 10]), DEFAULT_MEDIA_OPTIONS);
  wide = await processImageBytes(await gradientImage(112, 56), DEFAULT_MEDIA_OPTIONS);
});

const userTurn = (...parts: object[]) => ({ role: 'user', content: parts });
const text = (t: string) => ({ type: 'text', text: t });
const image = (url: string) => ({ type: 'image_url', image_url: { url } });

describe('chat template and placeholder expansion', () => {
  it('renders each image as ERNIE-VL does, numbered across the conversation', () => {
    const req = parseChatCompletionRequest(
      { model: 'm', messages: [userTurn(text('Compare '), image('data:a'), text(' and')), { role: 'assistant', content: 'ok' }, userTurn(image('data:b'), text('?'))] },
      { models: ['m'], maxModelLen: 4096 },
    );
    const rendered = bundle.chatTemplate!.render({ messages: req.messages, addGenerationPrompt: true });
    expect(rendered).toBe(
      `<|begin_of_sentence|>User: Compare Picture 1:<|IMAGE_START|>${IMAGE_MARKER}<|IMAGE_END|> and\nAssistant: ok<|end_of_sentence|>` +
        `User: Picture 2:<|IMAGE_START|>${IMAGE_MARKER}<|IMAGE_END|>?\nAssistant: `,
    );
  });

  it('expands each marker to tokenCount placeholder ids and records the offsets', () => {
    const rendered = `User: a Picture 1:<|IMAGE_START|>${IMAGE_MARKER}<|IMAGE_END|> b Picture 2:<|IMAGE_START|>${IMAGE_MARKER}<|IMAGE_END|>\nAssistant: `;
    const { promptIds, images } = tokenizeWithImages(rendered, [small, wide], bundle.tokenizer, ids.placeholder);
    expect(images.map((i) => [i.tokenCount, i.grid])).toEqual([[4, { t: 1, h: 4, w: 4 }], [8, { t: 1, h: 4, w: 8 }]]);
    for (const img of images) {
      expect(promptIds[img.offset - 1]).toBe(ids.start);
      expect(promptIds.slice(img.offset, img.offset + img.tokenCount)).toEqual(Array(img.tokenCount).fill(ids.placeholder));
      expect(promptIds[img.offset + img.tokenCount]).toBe(ids.end);
    }
    expect(promptIds.filter((t) => t === ids.placeholder)).toHaveLength(12);
    expect(images[0]!.mmHash).toBe(small.mmHash);
    expect(images[1]!.pixels).toBe(wide.pixels);
    // Everything outside the images is the text, tokenized as usual.
    const withoutImages = promptIds.filter((t) => t !== ids.placeholder);
    expect(bundle.tokenizer.decode(withoutImages)).toBe(rendered.split(IMAGE_MARKER).join(''));
  });

  it('refuses text that spells the marker or the placeholder token', () => {
    const err = (t: string) => {
      try {
        tokenizeWithImages(t, [small], bundle.tokenizer, ids.placeholder);
      } catch (e) {
        if (isApiError(e)) return `${e.code}: ${e.message}`;
        throw e;
      }
      return 'ok';
    };
    expect(err(`x${IMAGE_MARKER}y${IMAGE_MARKER}`)).toMatch(/^invalid_parameter: .*reserved image marker/);
    expect(err(`<|IMAGE_PLACEHOLDER|>${IMAGE_MARKER}`)).toMatch(/^invalid_parameter: .*placeholder token/);
    expect(err('no marker at all')).toMatch(/^invalid_parameter: .*placed 0 of the 1 images/);
  });

  it('detects vision models from config.json, not from the tokenizer alone', () => {
    expect(visionSpecFromConfig({ model_type: 'ernie4_5' }, bundle.tokenizer)).toBeUndefined();
    expect(visionSpecFromConfig({ model_type: 'ernie4_5_vl_moe', vision_config: { patch_size: 14 }, spatial_conv_size: 2 }, bundle.tokenizer))
      .toEqual({ imagePlaceholderId: ids.placeholder, preprocess: { patchSize: 14, mergeSize: 2 } });
  });
});

/** A backend that records requests and answers each with one token and EOS. */
function recordingBackend(): GenerationBackend & { seen: BackendRequest[] } {
  const seen: BackendRequest[] = [];
  return {
    seen,
    stats: () => ({ running: 0, waiting: 0, kvUsage: 0, prefixCacheHitRate: 0, numBlocks: 1, freeBlocks: 1, preemptions: 0 }),
    generate(req) {
      seen.push(req);
      const q = new AsyncQueue<RequestOutput>();
      q.push({ requestId: req.id, tokens: [{ tokenId: 100 }], finished: true, finishReason: 'length', promptTokens: req.promptTokenIds.length, completionTokens: 1, cachedPromptTokens: 0 });
      q.close();
      return Object.assign(q, { requestId: req.id, abort: () => q.close() });
    },
  };
}

describe('gateway with images', () => {
  const served = (vision: boolean): ServedModel => ({
    name: 'm',
    tokenizer: bundle.tokenizer,
    chatTemplate: bundle.chatTemplate,
    maxModelLen: 4096,
    vocabSize: bundle.tokenizer.vocabSize,
    eosTokenIds: [bundle.tokenizer.eosId],
    created: 0,
    ...(vision ? { vision: { imagePlaceholderId: ids.placeholder } } : {}),
  });
  const post = async (vision: boolean, messages: object[], media?: object) => {
    const backend = recordingBackend();
    const app = await buildGateway({ backend, model: served(vision), media });
    const res = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: { model: 'm', messages, max_tokens: 1 } });
    await app.close();
    return { status: res.statusCode, body: res.json() as { error?: { code: string; message: string; param: string | null } }, seen: backend.seen };
  };

  it('hands the backend the expanded prompt and the images with their offsets', async () => {
    const a = dataUrl(await solidImage(50, 50, [200, 10, 10]));
    const b = dataUrl(await gradientImage(112, 56), 'image/png');
    const r = await post(true, [userTurn(text('what differs?'), image(a), image(b))]);
    expect(r.status).toBe(200);
    expect(r.seen).toHaveLength(1);
    const req = r.seen[0]!;
    expect(req.images!.map((i) => [i.tokenCount, i.mmHash])).toEqual([[4, small.mmHash], [8, wide.mmHash]]);
    for (const img of req.images!) {
      expect(req.promptTokenIds.slice(img.offset, img.offset + img.tokenCount).every((t) => t === ids.placeholder)).toBe(true);
      expect(img.pixels.length).toBe(3 * img.grid.h * 14 * img.grid.w * 14);
    }
    expect(req.promptTokenIds.filter((t) => t === ids.placeholder)).toHaveLength(12);
  });

  it('sends no images field for text-only requests', async () => {
    const r = await post(true, [{ role: 'user', content: 'hi' }]);
    expect(r.status).toBe(200);
    expect('images' in r.seen[0]!).toBe(false);
  });

  it('refuses images for a text-only model (bad images with their own error first), and queues nothing', async () => {
    const good = dataUrl(await solidImage(50, 50, [1, 2, 3]));
    const r = await post(false, [userTurn(text('look'), image(good))]);
    expect([r.status, r.body.error?.code, r.body.error?.param]).toEqual([400, 'model_does_not_support_images', 'messages[0].content[1]']);
    const bad = await post(false, [userTurn(text('look'), image('data:image/png;base64,AAAA'))]);
    expect([bad.status, bad.body.error?.code]).toEqual([400, 'invalid_image']);
    expect([...r.seen, ...bad.seen]).toHaveLength(0);
  });

  it('refuses bad images with the field path, and queues nothing', async () => {
    const good = dataUrl(await solidImage(50, 50, [1, 2, 3]));
    const bad = await post(true, [userTurn(image(good)), { role: 'assistant', content: 'ok' }, userTurn(text('and'), image('data:image/png;base64,AAAA'))]);
    expect([bad.status, bad.body.error?.code, bad.body.error?.param]).toEqual([400, 'invalid_image', 'messages[2].content[1].image_url.url']);
    const many = await post(true, [userTurn(image(good), image(good), image(good))], { maxImagesPerRequest: 2 });
    expect([many.status, many.body.error?.code]).toEqual([400, 'too_many_images']);
    expect([...bad.seen, ...many.seen]).toHaveLength(0);
  });

  it('counts image tokens against the context window', async () => {
    const backend = recordingBackend();
    const app = await buildGateway({ backend, model: { ...served(true), maxModelLen: 64 } });
    const big = dataUrl(await gradientImage(280, 280)); // 10×10 = 100 tokens
    const res = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: { model: 'm', messages: [userTurn(image(big))] } });
    await app.close();
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('context_length_exceeded');
    expect(backend.seen).toHaveLength(0);
  });
});
