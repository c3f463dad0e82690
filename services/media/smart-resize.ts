/**
 * Adaptive resolution as ERNIE-4.5-VL's image processor (and Qwen-VL's) computes it: both sides
 * become multiples of `factor` (patch × merge = 28), the aspect ratio is kept as far as that
 * allows, and the pixel count lands in [minPixels, maxPixels]. The arithmetic mirrors the
 * reference's float steps exactly (including Python's round-half-to-even), so the same image
 * gets the same size — and the same number of image tokens — here as in the reference.
 */

export interface ResizeBounds {
  factor: number;
  minPixels: number;
  maxPixels: number;
  /** Beyond this long/short ratio the long side is shortened to ratio × short side. */
  maxAspectRatio: number;
}

export interface Size {
  height: number;
  width: number;
}

/** Python 3's round(): halves go to the even neighbour (round(2.5) = 2, round(1.5) = 2). */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

const nearestMultiple = (x: number, f: number): number => roundHalfEven(x / f) * f;
const multipleBelow = (x: number, f: number): number => Math.floor(x / f) * f;
const multipleAbove = (x: number, f: number): number => Math.ceil(x / f) * f;

/** Thrown when no size satisfies the bounds (an extreme aspect ratio with tight bounds). */
export class ResizeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResizeError';
  }
}

/** The target size of an image of `height` × `width` pixels (both >= 1). */
export function smartResize(height: number, width: number, b: ResizeBounds): Size {
  const f = b.factor;
  let h = height;
  let w = width;
  // Extremely long strips: ERNIE squeezes the long side down to maxAspectRatio × the short one
  // rather than refusing, so a 1×10000 banner still yields a (distorted) image.
  if (Math.max(h, w) / Math.min(h, w) > b.maxAspectRatio) {
    if (h > w) {
      w = Math.max(f, nearestMultiple(w, f));
      h = multipleBelow(w * b.maxAspectRatio, f);
    } else {
      h = Math.max(f, nearestMultiple(h, f));
      w = multipleBelow(h * b.maxAspectRatio, f);
    }
  }
  let hBar = Math.max(f, nearestMultiple(h, f));
  let wBar = Math.max(f, nearestMultiple(w, f));
  if (hBar * wBar > b.maxPixels) {
    const beta = Math.sqrt((h * w) / b.maxPixels);
    // The reference can reach 0 here for a thin strip; one factor is the smallest real side.
    hBar = Math.max(f, multipleBelow(h / beta, f));
    wBar = Math.max(f, multipleBelow(w / beta, f));
  } else if (hBar * wBar < b.minPixels) {
    const beta = Math.sqrt(b.minPixels / (h * w));
    hBar = multipleAbove(h * beta, f);
    wBar = multipleAbove(w * beta, f);
  }
  const pixels = hBar * wBar;
  if (pixels < b.minPixels || pixels > b.maxPixels) {
    throw new ResizeError(
      `an image of ${width}x${height} cannot be resized to multiples of ${f} within ${b.minPixels}..${b.maxPixels} pixels (got ${wBar}x${hBar})`,
    );
  }
  return { height: hBar, width: wBar };
}
