import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { pb } from '../protocol/wire.js';
import type { SequenceRequest } from '../state/index.js';
import { requestFromStore, resentImages, storedRequestOf } from './stored-request.js';

const pixels = new Uint8Array(new Float32Array([0.25, -1, 3]).buffer);
const image = (mmHash: string, offset: number, withPixels = true) =>
  create(pb.ImageSchema, { mmHash, offset, tokenCount: 4, gridT: 1, gridH: 4, gridW: 4, pixels: withPixels ? pixels : new Uint8Array(0) });

describe('a stored request with images, resumed', () => {
  const original = create(pb.GenerateRequestSchema, { requestId: 'r', sampling: { maxTokens: 8 }, promptTokenIds: [1, 2, 3, 4, 5, 6, 7, 8, 9], images: [image('a', 1), image('b', 5)] });
  const stored: SequenceRequest = storedRequestOf(original);

  it('the store keeps the images\' hashes and places, not their pixels', () => {
    expect(stored.images).toEqual([
      { mmHash: 'a', offset: 1, tokenCount: 4, grid: { t: 1, h: 4, w: 4 } },
      { mmHash: 'b', offset: 5, tokenCount: 4, grid: { t: 1, h: 4, w: 4 } },
    ]);
  });

  it('takes the images the caller sends again, with their pixels, into the worker request', () => {
    const images = resentImages(stored, original.images);
    expect(typeof images).not.toBe('string');
    const req = requestFromStore('r', stored, [42], images as Exclude<typeof images, string>);
    expect(req.images.map((i) => [i.mmHash, i.offset, Buffer.from(i.pixels).equals(Buffer.from(pixels))])).toEqual([['a', 1, true], ['b', 5, true]]);
    expect(req.resumeOutputTokenIds).toEqual([42]);
  });

  it('refuses images that are missing, reordered, changed or without pixels', () => {
    expect(resentImages(stored, [])).toBe('the request has 2 image(s), the caller sent 0');
    expect(resentImages(stored, [image('b', 5), image('a', 1)])).toBe("image 0 differs from the stored request's");
    expect(resentImages(stored, [image('a', 1), image('b', 6)])).toBe("image 1 differs from the stored request's");
    expect(resentImages(stored, [image('a', 1), image('b', 5, false)])).toBe('image 1 was sent without its pixels');
  });
});
