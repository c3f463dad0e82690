/**
 * Image format from the leading bytes. The bytes decide, never the declared MIME type or file
 * name: decoders are picked by content, so trusting a label would let any libvips loader (SVG,
 * TIFF, PDF...) be reached with a mislabelled payload.
 */
export type SupportedFormat = 'png' | 'jpeg' | 'webp';

export type Sniffed = { supported: true; format: SupportedFormat } | { supported: false; format: string | undefined };

const startsWith = (b: Uint8Array, sig: readonly number[], at = 0): boolean =>
  b.length >= at + sig.length && sig.every((v, i) => b[at + i] === v);
const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

/** Recognizable but refused formats, so the error can name what was sent. */
const OTHER: ReadonlyArray<[string, number[], number]> = [
  ['gif', ascii('GIF8'), 0],
  ['bmp', ascii('BM'), 0],
  ['tiff', [0x49, 0x49, 0x2a, 0x00], 0],
  ['tiff', [0x4d, 0x4d, 0x00, 0x2a], 0],
  ['heif/avif', ascii('ftyp'), 4],
  ['pdf', ascii('%PDF'), 0],
  ['ico', [0x00, 0x00, 0x01, 0x00], 0],
];

export function sniffImageFormat(b: Uint8Array): Sniffed {
  if (startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { supported: true, format: 'png' };
  if (startsWith(b, [0xff, 0xd8, 0xff])) return { supported: true, format: 'jpeg' };
  if (startsWith(b, ascii('RIFF')) && startsWith(b, ascii('WEBP'), 8)) return { supported: true, format: 'webp' };
  for (const [name, sig, at] of OTHER) if (startsWith(b, sig, at)) return { supported: false, format: name };
  // SVG and other XML: text that opens with '<' after optional whitespace / BOM.
  const head = Buffer.from(b.subarray(0, 256)).toString('utf8').replace(/^\uFEFF?\s*/, '');
  if (head.startsWith('<')) return { supported: false, format: 'svg/xml' };
  return { supported: false, format: undefined };
}

/** MIME types a data: URL may declare. image/jpg is not registered but common in the wild. */
export const ACCEPTED_MIME_TYPES: ReadonlySet<string> = new Set(['image/png', 'image/jpeg', 'image/jpg', 'image/webp']);
