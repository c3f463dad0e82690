/**
 * Weight-only quantization schemes (FastDeploy's names). A prefill worker and the decode worker
 * it writes KV for must use the same one: the KV computed by different weights would not match.
 */
export type Quantization = 'none' | 'wint8' | 'wint4';
export const QUANTIZATIONS: readonly Quantization[] = ['none', 'wint8', 'wint4'];

/**
 * Elements per weight scale (docs/quantization.md has the measurements): wint8 keeps one scale
 * per output channel (0 = the whole row), which costs nothing per group in the kernels; wint4
 * needs groups of 128 to stay close to bf16.
 */
export function quantGroup(q: Quantization): number {
  return q === 'wint4' ? 128 : 0;
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
