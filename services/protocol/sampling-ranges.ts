/**
 * The ranges of a request's sampling settings, defined once for every hop: the gateway's JSON
 * schema is built from them, the proto fields can hold every value inside them, and the engine
 * checks them when a request is submitted. A value the gateway accepts is therefore one the
 * engine accepts, and a value from any other caller (a direct gRPC client, a bug) is refused at
 * submit with a RangeError instead of failing inside the engine's step loop.
 */

/** Largest value of a proto `int32` field (top_k travels as one). */
export const INT32_MAX = 2 ** 31 - 1;

/** logit_bias: OpenAI's range of a bias, and the most entries one request may carry. */
export const LOGIT_BIAS_MIN = -100;
export const LOGIT_BIAS_MAX = 100;
export const MAX_LOGIT_BIAS_ENTRIES = 1024;

/** Most log-probability alternatives per token (OpenAI's limit; the sampler's too). */
export const MAX_LOGPROBS = 20;

export interface NumberRange {
  /** The OpenAI / HTTP parameter name. */
  readonly param: string;
  /** The engine's (SamplingParams) field name. */
  readonly field: 'temperature' | 'topP' | 'topK' | 'minP' | 'presencePenalty' | 'frequencyPenalty' | 'repetitionPenalty';
  readonly integer?: boolean;
  readonly min: number;
  /** When true, `min` itself is outside the range. */
  readonly exclusiveMin?: boolean;
  readonly max: number;
}

export const SAMPLING_RANGES: readonly NumberRange[] = [
  { param: 'temperature', field: 'temperature', min: 0, max: 2 },
  { param: 'top_p', field: 'topP', min: 0, exclusiveMin: true, max: 1 },
  // -1 is vLLM's spelling of "disabled", 0 the engine's; the top is the proto's int32.
  { param: 'top_k', field: 'topK', integer: true, min: -1, max: INT32_MAX },
  { param: 'min_p', field: 'minP', min: 0, max: 1 },
  { param: 'presence_penalty', field: 'presencePenalty', min: -2, max: 2 },
  { param: 'frequency_penalty', field: 'frequencyPenalty', min: -2, max: 2 },
  { param: 'repetition_penalty', field: 'repetitionPenalty', min: 0, exclusiveMin: true, max: 2 },
];

/** JSON Schema of one range (for ajv). */
export function rangeSchema(r: NumberRange): Record<string, unknown> {
  return {
    type: r.integer ? 'integer' : 'number',
    ...(r.exclusiveMin ? { exclusiveMinimum: r.min } : { minimum: r.min }),
    maximum: r.max,
  };
}

/** Whether `v` lies in the range (finite, integral where required). */
export function inRange(r: NumberRange, v: unknown): boolean {
  if (typeof v !== 'number' || !Number.isFinite(v)) return false;
  if (r.integer && !Number.isInteger(v)) return false;
  if (r.exclusiveMin ? v <= r.min : v < r.min) return false;
  return v <= r.max;
}

/** "an integer in [-1, 2147483647]" — for error messages. */
export function describeRange(r: NumberRange): string {
  return `${r.integer ? 'an integer' : 'a number'} in ${r.exclusiveMin ? '(' : '['}${r.min}, ${r.max}]`;
}
