import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { isApiError } from '../common/errors/index.js';
import { parseImageDataUrl } from './data-url.js';
import { loadImage, processImageBytes } from './process-image.js';
import { DEFAULT_MEDIA_OPTIONS, resolveMediaOptions } from './options.js';
import { sniffImageFormat } from './sniff.js';
import { dataUrl, gradientImage, pngDeclaring, solidImage } from '../../test/fixtures/test-images.js';

const O = DEFAULT_MEDIA_OPTIONS;

async function refusal(p: Promise<unknown> | (() => unknown)): Promise<{ code: string; message: string; param?: string; status: number }> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (!isApiError(e)) throw e;
    return { code: e.code, message: e.message, param: e.param, status: e.status };
  }
  throw new Error('expected a refusal');
}

describe('format sniffing', () => {
  it('recognizes PNG, JPEG and WebP by their bytes, and names refused formats', async () => {
    expect(sniffImageFormat(await solidImage(4, 4, [1, 2, 3], 'png'))).toEqual({ supported: true, format: 'png' });
    expect(sniffImageFormat(await solidImage(4, 4, [1, 2, 3], 'jpeg'))).toEqual({ supported: true, format: 'jpeg' });
    expect(sniffImageFormat(await solidImage(4, 4, [1, 2, 3], 'webp'))).toEqual({ supported: true, format: 'webp' });
    expect(sniffImageFormat(await solidImage(4, 4, [1, 2, 3], 'gif'))).toEqual({ supported: false, format: 'gif' });
    expect(sniffImageFormat(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toEqual({ supported: false, format: 'svg/xml' });
    expect(sniffImageFormat(Buffer.from('hello world'))).toEqual({ supported: false, format: undefined });
  });

  it('decodes each supported format to the same pixels for the same picture', async () => {
    const png = await processImageBytes(await solidImage(60, 60, [10, 200, 30], 'png'), O);
    const webp = await processImageBytes(await solidImage(60, 60, [10, 200, 30], 'webp'), O);
    const jpeg = await processImageBytes(await solidImage(60, 60, [10, 200, 30], 'jpeg'), O);
    expect(webp.mmHash).toBe(png.mmHash); // lossless: identical pixels, identical hash
    expect(jpeg.width).toBe(png.width);
    expect([png.source.format, webp.source.format, jpeg.source.format]).toEqual(['png', 'webp', 'jpeg']);
  });
});

describe('processImageBytes', () => {
  it('resizes to multiples of 28 and reports grid and token count', async () => {
    const img = await processImageBytes(await gradientImage(640, 480), O);
    expect([img.width, img.height]).toEqual([644, 476]);
    expect(img.grid).toEqual({ t: 1, h: 476 / 14, w: 644 / 14 });
    expect(img.tokenCount).toBe((476 / 28) * (644 / 28));
    expect(img.pixels).toBeInstanceOf(Float32Array);
    expect(img.pixels.length).toBe(3 * 476 * 644);
    expect(img.source).toEqual({ format: 'png', width: 640, height: 480, bytes: expect.any(Number) });
  });

  it('normalizes with the CLIP mean and std into [3, H, W] planes', async () => {
    const img = await processImageBytes(await solidImage(56, 56, [255, 0, 128]), O);
    expect([img.width, img.height, img.tokenCount]).toEqual([56, 56, 4]);
    const plane = 56 * 56;
    const expected = [(1 - 0.48145466) / 0.26862954, (0 - 0.4578275) / 0.26130258, (128 / 255 - 0.40821073) / 0.27577711];
    for (let c = 0; c < 3; c++) {
      for (const i of [0, 17, plane - 1]) expect(img.pixels[c * plane + i]).toBeCloseTo(expected[c]!, 5);
    }
  });

  it('drops alpha and converts greyscale to RGB', async () => {
    const rgba = await sharp({ create: { width: 56, height: 56, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0.2 } } }).png().toBuffer();
    const a = await processImageBytes(rgba, O);
    expect(a.pixels[0]).toBeCloseTo((1 - 0.48145466) / 0.26862954, 5);
    const grey = await sharp({ create: { width: 56, height: 56, channels: 3, background: { r: 77, g: 77, b: 77 } } }).greyscale().png().toBuffer();
    const g = await processImageBytes(grey, O);
    expect(g.pixels.length).toBe(3 * 56 * 56);
    expect(g.pixels[56 * 56]).toBeCloseTo((77 / 255 - 0.4578275) / 0.26130258, 2);
  });

  it('reads 16-bit PNGs and CMYK JPEGs as 8-bit sRGB', async () => {
    const colour = { width: 60, height: 60, channels: 3 as const, background: { r: 255, g: 0, b: 128 } };
    const deep = await processImageBytes(await sharp({ create: colour }).toColourspace('rgb16').png().toBuffer(), O);
    expect(deep.pixels[0]).toBeCloseTo((1 - 0.48145466) / 0.26862954, 4);
    expect(deep.pixels.length).toBe(3 * 56 * 56);
    const cmyk = await processImageBytes(await sharp({ create: colour }).toColourspace('cmyk').jpeg().toBuffer(), O);
    expect(cmyk.pixels.length).toBe(3 * 56 * 56);
  });

  it('mm_hash is stable and sensitive to one pixel and to size', async () => {
    const a = await gradientImage(100, 80);
    const h1 = (await processImageBytes(a, O)).mmHash;
    expect(h1).toMatch(/^[0-9a-f]{64}$/);
    expect((await processImageBytes(Buffer.from(a), O)).mmHash).toBe(h1);
    const raw = await sharp(a).raw().toBuffer();
    raw[0] = raw[0]! ^ 0xff;
    const changed = await sharp(raw, { raw: { width: 100, height: 80, channels: 3 } }).png().toBuffer();
    expect((await processImageBytes(changed, O)).mmHash).not.toBe(h1);
    expect((await processImageBytes(await gradientImage(200, 160), O)).mmHash).not.toBe(h1);
  });
});

describe('limits and refusals', () => {
  it('refuses corrupt, empty, truncated and unrecognized bytes as invalid_image', async () => {
    const png = await gradientImage(64, 64);
    expect((await refusal(processImageBytes(new Uint8Array(0), O))).code).toBe('invalid_image');
    expect((await refusal(processImageBytes(Buffer.from('definitely not an image'), O))).code).toBe('invalid_image');
    expect((await refusal(processImageBytes(png.subarray(0, 40), O))).code).toBe('invalid_image');
    expect((await refusal(processImageBytes(png.subarray(0, png.length - 30), O))).code).toBe('invalid_image');
    const corrupt = Buffer.from(png);
    corrupt.fill(0x41, 60, 200);
    expect((await refusal(processImageBytes(corrupt, O))).code).toBe('invalid_image');
  });

  it('refuses other formats as unsupported_image_format, naming them', async () => {
    const r = await refusal(processImageBytes(await solidImage(8, 8, [0, 0, 0], 'gif'), O));
    expect(r).toMatchObject({ code: 'unsupported_image_format', status: 400 });
    expect(r.message).toMatch(/GIF/);
  });

  it('refuses a decompression bomb from its header, before decoding', async () => {
    const bomb = pngDeclaring(60000, 60000);
    expect(bomb.length).toBeLessThan(2000);
    const t0 = performance.now();
    const r = await refusal(processImageBytes(bomb, O));
    expect(r.code).toBe('image_too_large');
    expect(r.message).toMatch(/60000x60000/);
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it('applies maxInputPixels, maxEncodedBytes and reports the param', async () => {
    const o = resolveMediaOptions({ maxInputPixels: 100 * 100, maxEncodedBytes: 5000 });
    expect((await refusal(processImageBytes(await solidImage(101, 100, [1, 1, 1]), o, 'p'))).code).toBe('image_too_large');
    await expect(processImageBytes(await solidImage(100, 100, [1, 1, 1]), o)).resolves.toBeDefined();
    const big = await gradientImage(300, 300);
    expect(big.length).toBeGreaterThan(5000);
    const r = await refusal(loadImage(dataUrl(big), o, 'messages[0].content[0].image_url.url'));
    expect(r).toMatchObject({ code: 'image_too_large', param: 'messages[0].content[0].image_url.url' });
  });
});

describe('data: URLs', () => {
  it('loads base64 PNG/JPEG/WebP and accepts wrapped base64', async () => {
    const png = await solidImage(30, 30, [5, 6, 7]);
    const b64 = png.toString('base64');
    const wrapped = `data:image/png;base64,${b64.replace(/(.{76})/g, '$1\n')}`;
    expect((await loadImage(wrapped, O)).width).toBe(56);
    expect((await loadImage(dataUrl(await solidImage(30, 30, [5, 6, 7], 'jpeg'), 'image/jpeg'), O)).width).toBe(56);
    expect((await loadImage(dataUrl(await solidImage(30, 30, [5, 6, 7], 'webp'), 'image/webp'), O)).width).toBe(56);
  });

  it('refuses wrong MIME types, non-base64 payloads, bad base64 and empty payloads', async () => {
    const png = await solidImage(30, 30, [5, 6, 7]);
    expect((await refusal(() => parseImageDataUrl(dataUrl(png, 'text/plain'), 1e6))).code).toBe('unsupported_image_format');
    expect((await refusal(() => parseImageDataUrl(dataUrl(png, 'image/svg+xml'), 1e6))).code).toBe('unsupported_image_format');
    expect((await refusal(() => parseImageDataUrl('data:image/png,%89PNG', 1e6))).code).toBe('invalid_image');
    expect((await refusal(() => parseImageDataUrl('data:image/png;base64,@@@@', 1e6))).code).toBe('invalid_image');
    expect((await refusal(() => parseImageDataUrl('data:image/png;base64,', 1e6))).code).toBe('invalid_image');
    expect((await refusal(() => parseImageDataUrl('data:image/png;base64', 1e6))).code).toBe('invalid_image');
    // The declared type is only a gate; the bytes decide (a JPEG labelled PNG still decodes).
    expect((await loadImage(dataUrl(await solidImage(30, 30, [5, 6, 7], 'jpeg'), 'image/png'), O)).source.format).toBe('jpeg');
    // ...and a GIF labelled PNG is still a GIF.
    expect((await refusal(loadImage(dataUrl(await solidImage(8, 8, [0, 0, 0], 'gif'), 'image/png'), O))).code).toBe('unsupported_image_format');
  });

  it('refuses other URL schemes', async () => {
    expect((await refusal(loadImage('file:///etc/passwd', O))).code).toBe('invalid_image');
    expect((await refusal(loadImage('ftp://example.com/a.png', O))).code).toBe('invalid_image');
  });
});
