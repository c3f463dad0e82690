/**
 * Weight-only quantization schemes (FastDeploy's names). A prefill worker and the decode worker
 * it writes KV for must use the same one: the KV computed by different weights would not match.
 */
export type Quantization = 'none' | 'wint8' | 'wint4';
export const QUANTIZATIONS: readonly Quantization[] = ['none', 'wint8', 'wint4'];

/**
 * Elements per weight scale (docs/quantization.md has the measurements): wint8 keeps one scale
 * per output channel (0 = the whole row), which costs nothing per group in the kernels; wint4
 * uses groups of 32 (laid out so the kernels pay no more per group than at 128, ADR 0019).
 */
export function quantGroup(q: Quantization): number {
  return q === 'wint4' ? wint4Group() : 0;
}

/** wint4's group size; TANDEM_WINT4_GROUP=32|64|128|256 selects another for measurements (the registered layout follows it). */
function wint4Group(): number {
  const raw = process.env.TANDEM_WINT4_GROUP;
  if (raw === undefined || raw === '') return 32;
  const g = Number(raw);
  if (![32, 64, 128, 256].includes(g)) throw new RangeError(`TANDEM_WINT4_GROUP must be 32, 64, 128 or 256, got '${raw}'`);
  return g;
}

/**
 * Whether a scheme's MLP down projections are quantized from Hadamard-rotated rows (and their
 * input activations rotated too, docs/quantization.md "Rotation"): wint8, whose error on a
 * trained checkpoint is mostly the per-token int8 activations, worst at down_proj's spiky input,
 * which rotation cuts (top-1 98.6% -> 99.1%); not wint4, whose error is the 4-bit weights, which
 * rotation does not reduce there.
 */
export type QuantRotation = 'none' | 'down-hadamard128';

export function quantRotation(q: Quantization): QuantRotation {
  return q === 'wint8' ? 'down-hadamard128' : 'none';
}

/** Whether the stored matrix `name` (a checkpoint tensor name) is rotated under `rotation`. */
export function isRotatedMatrix(rotation: QuantRotation, name: string): boolean {
  return rotation === 'down-hadamard128' && /(^|\.)down_proj\.(weight|qweight|scales)$/.test(name);
}

/**
 * Bits of the LM head under a scheme. wint4 keeps the head at int8, one scale per output channel
 * (as wint8 stores it): on the trained checkpoint the int4 head alone cost 40% of wint4's KL,
 * because its error lands on the logits with nothing after it (docs/quantization.md, "wint4").
 */
export function quantHeadBits(q: Quantization): 8 | 4 | undefined {
  return q === 'none' ? undefined : 8;
}

/**
 * What, beyond the scheme's name, decides a quantized model's codes: the group size, zero points
 * and the head's bits ("g32-zp-p16-head8"). Workers register it; a P/D pair whose layouts differ (a worker of
 * an older Tandem, whose wint4 head was int4, beside a new one) is refused at registration.
 */
export function quantLayout(group: number, headBits: number, zeroPoints = false): string {
  // "-p16": zero-point groups of 32 are stored and summed in panels of 16 rows (one fp32 order,
  // kernels/src/quant.h), so a worker of a Tandem before that would round differently.
  const panels = zeroPoints && group === 32 ? '-p16' : '';
  return `g${group}${zeroPoints ? '-zp' : ''}${panels}-head${headBits}`;
}

/**
 * Whether a scheme's 4-bit matrices are asymmetric, with a zero point per group (and each group's
 * range chosen by the least squared error, quant.h kClipSearch): wint4.
 */
export function quantZeroPoints(q: Quantization): boolean {
  return q === 'wint4' && ZERO_POINTS;
}

/** For measurements: TANDEM_WINT4_ZERO_POINTS=0 quantizes wint4 symmetrically (z = 8), as before. */
const ZERO_POINTS = process.env.TANDEM_WINT4_ZERO_POINTS !== '0';

/** The layout a worker that registered none has: what its scheme meant before layouts were registered. */
export function legacyQuantLayout(q: Quantization): string | undefined {
  return q === 'wint4' ? 'g128-head4' : q === 'wint8' ? 'g0-head8' : undefined;
}

export function quantizationBits(q: Quantization): 8 | 4 | undefined {
  return q === 'wint8' ? 8 : q === 'wint4' ? 4 : undefined;
}

/** `value` from a flag, env variable or config key; undefined = 'none'. */
export function parseQuantization(value: string | undefined, source = '--quantization'): Quantization {
  if (value === undefined || value === '') return 'none';
  const v = value.toLowerCase();
  if ((QUANTIZATIONS as readonly string[]).includes(v)) return v as Quantization;
  throw new RangeError(`${source} must be one of ${QUANTIZATIONS.join(', ')}, got '${value}'`);
}
