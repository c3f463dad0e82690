/**
 * RGB bytes [H, W, 3] → float planes [3, H, W]: scaled to [0, 1], then (x - mean) / std per
 * channel, as the ViT was trained. Channel-planar because the patch embedding reads one
 * channel's 14×14 patch at a time.
 */
export function normalizeToPlanes(
  rgb: Uint8Array,
  width: number,
  height: number,
  mean: readonly [number, number, number],
  std: readonly [number, number, number],
): Float32Array {
  const plane = width * height;
  if (rgb.length !== plane * 3) throw new RangeError(`normalizeToPlanes: ${rgb.length} bytes for ${width}x${height}x3`);
  const out = new Float32Array(plane * 3);
  // One lookup table per channel: 256 entries instead of a multiply-add per sample.
  const lut = [0, 1, 2].map((c) => Float32Array.from({ length: 256 }, (_, v) => (v / 255 - mean[c]!) / std[c]!));
  const [r, g, b] = lut as [Float32Array, Float32Array, Float32Array];
  for (let i = 0, p = 0; i < plane; i++, p += 3) {
    out[i] = r[rgb[p]!]!;
    out[plane + i] = g[rgb[p + 1]!]!;
    out[2 * plane + i] = b[rgb[p + 2]!]!;
  }
  return out;
}
