/**
 * Next-token sampler: one row of raw logits (length = vocab size) in, one token out.
 *
 * Semantics, in order (each step is a pure function of the logits, the params and the context;
 * nothing depends on batch composition, timing or which worker runs the step):
 *
 * 1. Logprobs (only when `params.logprobs !== undefined`). From log_softmax of the RAW logits
 *    (before penalties and temperature), in float64: lse = max + log(sum(exp(x - max))),
 *    logprob(i) = x[i] - lse. The result carries `logprob` of the chosen token and
 *    `topLogprobs`: the `params.logprobs` highest (capped at the vocab size), sorted by logprob
 *    descending, ties to the lower id. Penalties, temperature and filters never change them.
 *
 * 2. Penalties, applied to a float64 working copy (`logits` itself is never written):
 *    - repetition (CTRL / HF): for each distinct id in prompt ∪ output,
 *      x = x > 0 ? x / r : x * r (once per id, however often it occurs);
 *    - then frequency and presence (OpenAI): with c = occurrences of the id in the output so far,
 *      x = x - c * frequencyPenalty - (c > 0 ? presencePenalty : 0).
 *    A -Infinity logit (a masked token) stays -Infinity whatever the penalties.
 *
 * 3. temperature == 0: greedy, the argmax of the penalized logits, ties to the lowest id. No
 *    random number is drawn. Without penalties this is a single pass over the logits.
 *
 * 4. temperature > 0: z = x / temperature and weights w = exp(z - max z) (so the most likely
 *    token has w = 1 exactly); p = w / sum(w). Then the filters, each keeping a prefix of the
 *    ranking (higher first, ties to the lower id):
 *    - top_k (topK > 0 and < vocab; 0 or -1 disable): the k ids with the largest z;
 *    - top_p (topP < 1): over the top_k survivors renormalized, the shortest prefix in rank
 *      order whose probability sum is >= topP (at least one token; topP = 0 keeps only the best);
 *    - min_p (minP > 0): ids with p >= minP * p_max, i.e. w >= minP.
 *    The survivors are renormalized and one is drawn by inverse CDF, walking the survivors in
 *    increasing id order: the first id whose running weight sum exceeds u * (survivors' sum).
 *    u = counterUniform(ctx.seed, outputTokenIds.length) — see rng.ts: Philox4x32-10 keyed by
 *    the seed with the output position as the counter. If z overflows to +Infinity (a positive
 *    temperature below ~1e-300), the step falls back to greedy, the T -> 0 limit.
 *
 * Efficiency: the vocab is ~100k. Greedy without penalties is one pass. Penalties touch only the
 * ids that occur in the prompt/output. top_k uses a bounded heap (small k) or quickselect, never
 * a full sort; top_p without top_k first discards ids that provably cannot be in the nucleus
 * (w < S(1 - topP) / (2V): together they weigh less than (1 - topP) S / 2), then runs a weighted
 * quickselect. Scratch arrays are module-level and grow to the largest vocab seen, so a call
 * allocates no vocab-sized memory (only its result and a few small objects).
 */
import type { GeneratedToken, SamplingParams, TokenLogprob } from '../../protocol/request.js';
import { counterUniform } from './rng.js';
import { heapTopK, quickSelectTopK, weightedPrefix } from './select.js';

export { counterUniform, philox4x32_10, randomSeed } from './rng.js';

export interface SamplerContext {
  promptTokenIds: ArrayLike<number>;
  /** Tokens generated so far (before this step); its length is the RNG step. */
  outputTokenIds: ArrayLike<number>;
  /** The request's seed (uint32). Authoritative: `SamplingParams.seed` is not read here. */
  seed: number;
}

import { MAX_LOGPROBS } from '../../protocol/sampling-ranges.js';

/** Most `logprobs` alternatives a request may ask for (defined with the other request ranges in protocol). */
export { MAX_LOGPROBS };

/** top_k at or below this uses the bounded heap; above, quickselect over all ids. */
const HEAP_TOP_K_MAX = 256;

// ---------------------------------------------------------------------------------------------
// Validation

function fail(field: string, requirement: string, value: unknown): never {
  throw new RangeError(`sampling: ${field} must be ${requirement}, got ${String(value)}`);
}

function finite(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/**
 * Second-line validation of the fields the sampler reads (the gateway validates first). Throws a
 * RangeError naming the offending field.
 */
export function validateSamplingParams(p: SamplingParams): void {
  if (!finite(p.temperature) || p.temperature < 0) fail('temperature', 'a finite number >= 0', p.temperature);
  if (!finite(p.topP) || p.topP < 0 || p.topP > 1) fail('topP', 'a number in [0, 1]', p.topP);
  if (!Number.isSafeInteger(p.topK) || p.topK < -1) fail('topK', 'an integer >= -1 (0 or -1 disable)', p.topK);
  if (!finite(p.minP) || p.minP < 0 || p.minP > 1) fail('minP', 'a number in [0, 1]', p.minP);
  if (!finite(p.presencePenalty)) fail('presencePenalty', 'a finite number', p.presencePenalty);
  if (!finite(p.frequencyPenalty)) fail('frequencyPenalty', 'a finite number', p.frequencyPenalty);
  if (!finite(p.repetitionPenalty) || p.repetitionPenalty <= 0) {
    fail('repetitionPenalty', 'a finite number > 0', p.repetitionPenalty);
  }
  if (p.logprobs !== undefined && (!Number.isInteger(p.logprobs) || p.logprobs < 0 || p.logprobs > MAX_LOGPROBS)) {
    fail('logprobs', `undefined or an integer in [0, ${MAX_LOGPROBS}]`, p.logprobs);
  }
}

function validateSeed(seed: unknown): void {
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    fail('seed', 'an integer in [0, 2^32)', seed);
  }
}

function badLogit(id: number, x: number): never {
  throw new RangeError(`sampling: logits[${id}] is ${x}; logits must be finite or -Infinity`);
}

// ---------------------------------------------------------------------------------------------
// Scratch

/** Per-module scratch, grown to the largest vocab seen; never shrinks. */
class Scratch {
  /** z, then weights (by id). */
  work: Float64Array;
  /** Candidate ids. */
  idx: Int32Array;
  /** Occurrences in the output (by id); all zero between calls. */
  counts: Int32Array;
  /** 1 when the id is in `penalized`; all zero between calls. */
  marked: Uint8Array;
  /** Distinct ids that get a penalty in the current call. */
  penalized: Int32Array;
  nPenalized = 0;

  constructor(readonly capacity: number) {
    this.work = new Float64Array(capacity);
    this.idx = new Int32Array(capacity);
    this.counts = new Int32Array(capacity);
    this.marked = new Uint8Array(capacity);
    this.penalized = new Int32Array(capacity);
  }
}

let scratch: Scratch | undefined;

function scratchFor(vocab: number): Scratch {
  if (scratch === undefined || scratch.capacity < vocab) scratch = new Scratch(vocab);
  return scratch;
}

// ---------------------------------------------------------------------------------------------
// Penalties

interface Penalties {
  rep: number;
  freq: number;
  pres: number;
}

function checkTokenId(field: string, pos: number, id: number, vocab: number): void {
  if ((id | 0) !== id || id < 0 || id >= vocab) {
    throw new RangeError(`sampling: ${field}[${pos}] = ${id} is not a token id in [0, ${vocab})`);
  }
}

/**
 * Records which ids get a penalty (distinct ids of prompt ∪ output when the repetition penalty is
 * on, of the output when only frequency/presence are) and, for frequency/presence, how often each
 * occurs in the output. Must be paired with {@link clearPenalties} (in a finally).
 */
function markPenalties(s: Scratch, ctx: SamplerContext, vocab: number, useRep: boolean, useCounts: boolean): void {
  const { marked, penalized, counts } = s;
  if (useRep) {
    const prompt = ctx.promptTokenIds;
    for (let i = 0; i < prompt.length; i++) {
      const id = prompt[i]!;
      checkTokenId('promptTokenIds', i, id, vocab);
      if (marked[id] === 0) {
        marked[id] = 1;
        penalized[s.nPenalized++] = id;
      }
    }
  }
  const output = ctx.outputTokenIds;
  for (let i = 0; i < output.length; i++) {
    const id = output[i]!;
    checkTokenId('outputTokenIds', i, id, vocab);
    if (marked[id] === 0) {
      marked[id] = 1;
      penalized[s.nPenalized++] = id;
    }
    if (useCounts) counts[id]!++;
  }
}

function clearPenalties(s: Scratch): void {
  const { marked, penalized, counts } = s;
  for (let i = 0; i < s.nPenalized; i++) {
    const id = penalized[i]!;
    marked[id] = 0;
    counts[id] = 0;
  }
  s.nPenalized = 0;
}

/** The penalized logit of a marked id (`count` = its occurrences in the output). */
function penalize(x: number, count: number, p: Penalties): number {
  if (x === -Infinity) return x;
  let v = p.rep === 1 ? x : x > 0 ? x / p.rep : x * p.rep;
  if (count > 0) v = v - count * p.freq - p.pres;
  return v;
}

// ---------------------------------------------------------------------------------------------
// Greedy

function greedy(logits: Float32Array, vocab: number, s: Scratch, pen: Penalties | undefined): number {
  let best = -Infinity;
  let bestId = -1;
  if (pen === undefined) {
    for (let i = 0; i < vocab; i++) {
      const x = logits[i]!;
      if (x > best) {
        if (x === Infinity) badLogit(i, x);
        best = x;
        bestId = i;
      } else if (x !== x) {
        badLogit(i, x);
      }
    }
  } else {
    const { marked, penalized, counts } = s;
    for (let i = 0; i < vocab; i++) {
      if (marked[i] !== 0) continue;
      const x = logits[i]!;
      if (x > best) {
        if (x === Infinity) badLogit(i, x);
        best = x;
        bestId = i;
      } else if (x !== x) {
        badLogit(i, x);
      }
    }
    for (let j = 0; j < s.nPenalized; j++) {
      const id = penalized[j]!;
      const x = logits[id]!;
      if (x !== x || x === Infinity) badLogit(id, x);
      const v = penalize(x, counts[id]!, pen);
      if (v > best || (v === best && bestId >= 0 && id < bestId)) {
        best = v;
        bestId = id;
      }
    }
  }
  if (bestId < 0) throw new RangeError('sampling: every logit is -Infinity (no token can be chosen)');
  return bestId;
}

// ---------------------------------------------------------------------------------------------
// Sampling

/**
 * Fills work[0..vocab) with z = penalized logit / temperature and returns max z. Checks every raw
 * logit for NaN / +Infinity on the way.
 */
function scaledLogits(logits: Float32Array, vocab: number, temperature: number, s: Scratch, pen: Penalties | undefined): number {
  const work = s.work;
  let max = -Infinity;
  if (pen === undefined) {
    for (let i = 0; i < vocab; i++) {
      const x = logits[i]!;
      if (x !== x || x === Infinity) badLogit(i, x);
      const z = x / temperature;
      work[i] = z;
      if (z > max) max = z;
    }
  } else {
    const { marked, penalized, counts } = s;
    for (let i = 0; i < vocab; i++) {
      const x = logits[i]!;
      if (x !== x || x === Infinity) badLogit(i, x);
      const z = x / temperature;
      work[i] = z;
      if (marked[i] === 0 && z > max) max = z;
    }
    for (let j = 0; j < s.nPenalized; j++) {
      const id = penalized[j]!;
      const z = penalize(logits[id]!, counts[id]!, pen) / temperature;
      work[id] = z;
      if (z > max) max = z;
    }
  }
  return max;
}

function sample(logits: Float32Array, vocab: number, params: SamplingParams, u: number, s: Scratch, pen: Penalties | undefined): number {
  const max = scaledLogits(logits, vocab, params.temperature, s, pen);
  if (max === -Infinity) throw new RangeError('sampling: every logit is -Infinity (no token can be chosen)');
  // A temperature so small (or a penalty so extreme) that z overflows: the T -> 0 limit, greedy.
  if (max === Infinity) return greedy(logits, vocab, s, pen);
  const { work, idx } = s;

  // `n < 0` means "all ids, implicitly"; otherwise the survivors are idx[0..n).
  let n = -1;
  let total = 0;
  const k = params.topK;
  if (k > 0 && k < vocab) {
    if (k <= HEAP_TOP_K_MAX) {
      heapTopK(work, vocab, k, idx);
    } else {
      for (let i = 0; i < vocab; i++) idx[i] = i;
      quickSelectTopK(work, idx, vocab, k);
    }
    n = k;
    idx.subarray(0, n).sort(); // id order (numeric), so sums are taken in a canonical order
    for (let c = 0; c < n; c++) {
      const id = idx[c]!;
      const w = Math.exp(work[id]! - max); // the global max is always among the top k
      work[id] = w;
      total += w;
    }
  } else {
    for (let i = 0; i < vocab; i++) {
      const w = Math.exp(work[i]! - max);
      work[i] = w;
      total += w;
    }
  }

  if (params.topP < 1) {
    const target = params.topP * total;
    if (n < 0) {
      // Ids below the cutoff weigh < vocab * cutoff = (1 - topP) * total / 2 together, so the
      // nucleus (which needs only topP * total) lies among the ids at or above it.
      const cutoff = ((1 - params.topP) * total) / (2 * vocab);
      n = 0;
      for (let i = 0; i < vocab; i++) if (work[i]! >= cutoff) idx[n++] = i;
    }
    n = weightedPrefix(work, idx, n, target);
    idx.subarray(0, n).sort();
  }

  if (params.minP > 0) {
    const threshold = params.minP; // p >= minP * p_max  <=>  w >= minP, since w_max = 1
    if (n < 0) {
      n = 0;
      for (let i = 0; i < vocab; i++) if (work[i]! >= threshold) idx[n++] = i;
    } else {
      let kept = 0;
      for (let c = 0; c < n; c++) {
        const id = idx[c]!;
        if (work[id]! >= threshold) idx[kept++] = id;
      }
      n = kept;
    }
  }

  // Inverse CDF over the survivors in increasing id order.
  if (n < 0) {
    const target = u * total;
    let acc = 0;
    let lastPositive = -1;
    for (let i = 0; i < vocab; i++) {
      const w = work[i]!;
      if (w > 0) {
        acc += w;
        if (acc > target) return i;
        lastPositive = i;
      }
    }
    return lastPositive; // only when rounding put u * total at the very top
  }
  let sum = 0;
  for (let c = 0; c < n; c++) sum += work[idx[c]!]!;
  const target = u * sum;
  let acc = 0;
  let lastPositive = idx[0]!;
  for (let c = 0; c < n; c++) {
    const id = idx[c]!;
    const w = work[id]!;
    if (w > 0) {
      acc += w;
      if (acc > target) return id;
      lastPositive = id;
    }
  }
  return lastPositive;
}

// ---------------------------------------------------------------------------------------------
// Logprobs

function attachLogprobs(out: GeneratedToken, logits: Float32Array, vocab: number, count: number): void {
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) {
    const x = logits[i]!;
    if (x > max) max = x;
  }
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp(logits[i]! - max);
  const lse = max + Math.log(sum);
  out.logprob = logits[out.tokenId]! - lse;

  const n = Math.min(count, vocab);
  const top: TokenLogprob[] = [];
  if (n > 0) {
    // Kept sorted by logprob desc; ids arrive in increasing order, so an equal logprob goes after
    // the entries already there (ties to the lower id) and never displaces the last one.
    for (let i = 0; i < vocab; i++) {
      const lp = logits[i]! - lse;
      if (top.length === n && !(lp > top[n - 1]!.logprob)) continue;
      const entry: TokenLogprob = { tokenId: i, logprob: lp };
      let pos: number;
      if (top.length < n) {
        top.push(entry);
        pos = top.length - 1;
      } else {
        pos = n - 1; // the current last entry drops out
      }
      while (pos > 0 && top[pos - 1]!.logprob < lp) {
        top[pos] = top[pos - 1]!;
        pos--;
      }
      top[pos] = entry;
    }
  }
  out.topLogprobs = top;
}

// ---------------------------------------------------------------------------------------------
// Entry point

/**
 * Picks the next token from one row of raw logits (length = vocab). Never mutates `logits`.
 * Logprobs are read from `logprobLogits` (default `logits`): the model's own row when `logits`
 * carries a grammar mask or logit_bias, so they report the model, not the constraint.
 * Deterministic in (logits, params, ctx); see the module comment for the exact semantics. Throws
 * RangeError on invalid params, seed, token ids, or NaN / +Infinity logits.
 */
export function sampleToken(logits: Float32Array, params: SamplingParams, ctx: SamplerContext, logprobLogits: Float32Array = logits): GeneratedToken {
  validateSamplingParams(params);
  validateSeed(ctx.seed);
  const vocab = logits.length;
  if (vocab === 0) throw new RangeError('sampling: logits is empty');

  const useRep = params.repetitionPenalty !== 1;
  const useCounts = params.frequencyPenalty !== 0 || params.presencePenalty !== 0;
  const pen: Penalties | undefined =
    useRep || useCounts
      ? { rep: params.repetitionPenalty, freq: params.frequencyPenalty, pres: params.presencePenalty }
      : undefined;

  const s = scratchFor(vocab);
  let tokenId: number;
  try {
    if (pen !== undefined) markPenalties(s, ctx, vocab, useRep, useCounts);
    const penalties = s.nPenalized > 0 ? pen : undefined;
    if (params.temperature === 0) {
      tokenId = greedy(logits, vocab, s, penalties);
    } else {
      const u = counterUniform(ctx.seed, ctx.outputTokenIds.length);
      tokenId = sample(logits, vocab, params, u, s, penalties);
    }
  } finally {
    clearPenalties(s);
  }

  const out: GeneratedToken = { tokenId };
  if (params.logprobs !== undefined) attachLogprobs(out, logprobLogits, vocab, params.logprobs);
  return out;
}

/**
 * The penalized logits (step 2 of the module comment) as a new Float64Array — for tests and
 * debugging; the sampler itself applies the same function in place on its scratch copy.
 */
export function penalizedLogits(logits: Float32Array, params: SamplingParams, ctx: SamplerContext): Float64Array {
  validateSamplingParams(params);
  const vocab = logits.length;
  const out = Float64Array.from(logits);
  const useRep = params.repetitionPenalty !== 1;
  const useCounts = params.frequencyPenalty !== 0 || params.presencePenalty !== 0;
  if (!useRep && !useCounts) return out;
  const pen: Penalties = { rep: params.repetitionPenalty, freq: params.frequencyPenalty, pres: params.presencePenalty };
  const s = scratchFor(vocab);
  try {
    markPenalties(s, ctx, vocab, useRep, useCounts);
    for (let j = 0; j < s.nPenalized; j++) {
      const id = s.penalized[j]!;
      out[id] = penalize(logits[id]!, s.counts[id]!, pen);
    }
  } finally {
    clearPenalties(s);
  }
  return out;
}
