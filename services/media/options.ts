/**
 * Operator settings for image input. Every limit is checked at the gateway before any work is
 * queued, so a hostile image costs at most one header parse (pixels) or one bounded read (bytes).
 */
export interface MediaOptions {
  /** Most images in one request (all messages together). Default 8. */
  maxImagesPerRequest: number;
  /** Largest encoded image in bytes, whether from a data: URL or a remote fetch. Default 8 MiB. */
  maxEncodedBytes: number;
  /**
   * Largest decoded canvas (width × height) an image may declare. Checked from the header
   * before decoding, so a decompression bomb is refused without inflating it. Default 4096².
   */
  maxInputPixels: number;
  /** Adaptive resolution: the resized image has at least this many pixels. Default 4·28² (ERNIE-4.5-VL). */
  minPixels: number;
  /** Adaptive resolution: the resized image has at most this many pixels. Default 6177·28² (ERNIE-4.5-VL). */
  maxPixels: number;
  /** ViT patch side in pixels. Default 14. */
  patchSize: number;
  /** Patches merged per side by the adapter (2×2 → one token). Default 2. */
  mergeSize: number;
  /** Longer side / shorter side beyond which the long side is shortened (ERNIE's rule). Default 200. */
  maxAspectRatio: number;
  /** Per-channel mean and std applied after scaling to [0, 1] (OpenAI CLIP's, as ERNIE-4.5-VL's processor uses). */
  imageMean: readonly [number, number, number];
  imageStd: readonly [number, number, number];
  remote: RemoteImageOptions;
}

export interface RemoteImageOptions {
  /**
   * Host names (exact, case-insensitive) or IP literals that http(s) image URLs may name. Empty
   * (the default) refuses every remote URL: fetching on a client's behalf is opt-in.
   */
  allowedHosts: readonly string[];
  /**
   * Let allow-listed names resolve to loopback, private, link-local or other non-public
   * addresses. Off by default, so an allow-listed name whose DNS points inside the network
   * cannot be used for SSRF. An IP literal that is itself in allowedHosts is always allowed.
   */
  allowPrivateAddresses: boolean;
  /** Whole fetch (DNS, connect, redirects, body), in milliseconds. Default 5000. */
  timeoutMs: number;
  /** Redirects followed, each re-checked against the allow-list and address rules. Default 3. */
  maxRedirects: number;
}

export const DEFAULT_MEDIA_OPTIONS: MediaOptions = {
  maxImagesPerRequest: 8,
  maxEncodedBytes: 8 * 1024 * 1024,
  maxInputPixels: 4096 * 4096,
  minPixels: 4 * 28 * 28,
  maxPixels: 6177 * 28 * 28,
  patchSize: 14,
  mergeSize: 2,
  maxAspectRatio: 200,
  imageMean: [0.48145466, 0.4578275, 0.40821073],
  imageStd: [0.26862954, 0.26130258, 0.27577711],
  remote: { allowedHosts: [], allowPrivateAddresses: false, timeoutMs: 5000, maxRedirects: 3 },
};

export type MediaOptionsInput = Partial<Omit<MediaOptions, 'remote'>> & { remote?: Partial<RemoteImageOptions> };

/** Defaults filled in; rejects settings that could never admit an image (a config bug, not a request error). */
export function resolveMediaOptions(input: MediaOptionsInput = {}): MediaOptions {
  const o: MediaOptions = {
    ...DEFAULT_MEDIA_OPTIONS,
    ...input,
    remote: { ...DEFAULT_MEDIA_OPTIONS.remote, ...input.remote },
  };
  const factor = o.patchSize * o.mergeSize;
  if (!(o.minPixels >= factor * factor) || !(o.maxPixels >= o.minPixels)) {
    throw new RangeError(`media options: need ${factor * factor} <= minPixels <= maxPixels, got ${o.minPixels}, ${o.maxPixels}`);
  }
  for (const k of ['maxImagesPerRequest', 'maxEncodedBytes', 'maxInputPixels', 'patchSize', 'mergeSize', 'maxAspectRatio'] as const) {
    if (!(o[k] > 0)) throw new RangeError(`media options: ${k} must be positive, got ${o[k]}`);
  }
  return o;
}
