import { describe, expect, it } from 'vitest';
import { DEFAULT_MEDIA_OPTIONS as D } from './options.js';
import { ResizeError, roundHalfEven, smartResize } from './smart-resize.js';

const bounds = { factor: 28, minPixels: D.minPixels, maxPixels: D.maxPixels, maxAspectRatio: D.maxAspectRatio };

describe('roundHalfEven', () => {
  it('rounds halves to the even neighbour, like Python 3', () => {
    expect([0.5, 1.5, 2.5, 3.5, 2.4999, 2.5001, 7].map(roundHalfEven)).toEqual([0, 2, 2, 4, 2, 3, 7]);
  });
});

describe('smartResize (ERNIE-4.5-VL bounds: 4·28² .. 6177·28², factor 28)', () => {
  // [height, width, expected height, expected width], expected values computed independently.
  const TABLE: Array<[number, number, number, number]> = [
    [224, 224, 224, 224],
    [100, 100, 112, 112],
    [1, 1, 56, 56], // below minPixels: scaled up
    [28, 28, 56, 56],
    [42, 42, 56, 56], // 1.5 → 2
    [70, 70, 56, 56], // 2.5 → 2 (half to even)
    [98, 98, 112, 112], // 3.5 → 4
    [56, 57, 56, 56],
    [333, 777, 336, 784],
    [480, 640, 476, 644],
    [768, 1024, 756, 1036],
    [1080, 1920, 1092, 1932],
    [3000, 4000, 1904, 2520], // above maxPixels: scaled down
    [4000, 3000, 2520, 1904],
    [12000, 9000, 2520, 1904],
    [10, 5000, 28, 5600], // aspect ratio 500: long side shortened to 200 × short
    [5000, 10, 5600, 28],
    [2, 3000, 28, 5600],
    [1, 20000, 28, 5600],
  ];
  it.each(TABLE)('%i x %i → %i x %i', (h, w, eh, ew) => {
    expect(smartResize(h, w, bounds)).toEqual({ height: eh, width: ew });
  });

  it('gives multiples of 28 within the pixel bounds, close to the aspect ratio, for many shapes', () => {
    for (const h of [1, 7, 29, 55, 113, 300, 511, 1000, 2047, 4096, 9999]) {
      for (const w of [1, 13, 28, 99, 256, 640, 1333, 3000, 8191]) {
        const r = smartResize(h, w, bounds);
        expect(r.height % 28).toBe(0);
        expect(r.width % 28).toBe(0);
        expect(r.height * r.width).toBeGreaterThanOrEqual(bounds.minPixels);
        expect(r.height * r.width).toBeLessThanOrEqual(bounds.maxPixels);
        // A side shorter than one factor is padded up to it, distorting the shape (as the reference does).
        if (Math.min(h, w) < 28) continue;
        const ratioIn = Math.min(Math.max(h, w) / Math.min(h, w), 200);
        const ratioOut = Math.max(r.height, r.width) / Math.min(r.height, r.width);
        // Rounding each side to a multiple of 28 moves the ratio by at most a 28-pixel step per side.
        const slack = (1 + 28 / Math.min(r.height, r.width)) ** 2;
        expect(ratioOut / ratioIn).toBeLessThanOrEqual(slack);
        expect(ratioIn / ratioOut).toBeLessThanOrEqual(slack);
      }
    }
  });

  it('honours other bounds', () => {
    const small = { ...bounds, minPixels: 3136, maxPixels: 3136 * 4 };
    expect(smartResize(1000, 1000, small)).toEqual({ height: 112, width: 112 });
    expect(smartResize(10, 10, small)).toEqual({ height: 56, width: 56 });
    expect(smartResize(64, 64, { ...bounds, factor: 32, minPixels: 1024, maxPixels: 1 << 20 })).toEqual({ height: 64, width: 64 });
  });

  it('refuses when no size fits (a long strip with a tight pixel budget)', () => {
    expect(() => smartResize(3000, 100, { ...bounds, minPixels: 3136, maxPixels: 3136 * 4 })).toThrow(ResizeError);
  });
});
