import { LOGIT_BIAS_MAX, LOGIT_BIAS_MIN, MAX_LOGIT_BIAS_ENTRIES, MAX_LOGPROBS, SAMPLING_RANGES, describeRange, inRange } from '../../protocol/sampling-ranges.js';
import type { SamplingParams } from '../../protocol/request.js';
import type { EngineRequest } from '../request-types.js';

/**
 * The engine's own check of a request (the gateway validates first and answers with catalogue
 * errors; this guards every other caller). Throws RangeError naming the problem.
 */
export function validateEngineRequest(
  req: EngineRequest,
  limits: { vocabSize: number; maxModelLen: number; capacityTokens: number },
): void {
  const p = req.promptTokenIds;
  if (!req.id) throw new RangeError('request id is empty');
  if (p.length === 0) throw new RangeError(`request ${req.id}: the prompt is empty`);
  for (const t of p) {
    if (!Number.isInteger(t) || t < 0 || t >= limits.vocabSize) throw new RangeError(`request ${req.id}: prompt token ${t} is outside the vocabulary (0..${limits.vocabSize - 1})`);
  }
  const s = req.sampling;
  if (!Number.isInteger(s.maxTokens) || s.maxTokens < 1) throw new RangeError(`request ${req.id}: maxTokens must be an integer >= 1`);
  for (const t of req.eosTokenIds ?? []) {
    if (!Number.isInteger(t) || t < 0 || t >= limits.vocabSize) throw new RangeError(`request ${req.id}: EOS token ${t} is outside the vocabulary (0..${limits.vocabSize - 1})`);
  }
  const bad = samplingProblem(s, limits.vocabSize);
  if (bad) throw new RangeError(`request ${req.id}: sampling: ${bad}`);
  const resumed = req.resumeOutputTokenIds ?? [];
  for (const t of resumed) {
    if (!Number.isInteger(t) || t < 0 || t >= limits.vocabSize) throw new RangeError(`request ${req.id}: resumed token ${t} is outside the vocabulary (0..${limits.vocabSize - 1})`);
  }
  if (resumed.length >= s.maxTokens) throw new RangeError(`request ${req.id}: ${resumed.length} resumed tokens leave nothing to generate (maxTokens ${s.maxTokens})`);
  if (p.length + resumed.length >= limits.maxModelLen) {
    throw new RangeError(`request ${req.id}: prompt and resumed tokens (${p.length + resumed.length}) fill the context (${limits.maxModelLen})`);
  }
  if (p.length >= limits.maxModelLen) {
    throw new RangeError(`request ${req.id}: the prompt has ${p.length} tokens; the context holds ${limits.maxModelLen}`);
  }
  const longest = Math.min(p.length + s.maxTokens, limits.maxModelLen);
  if (longest > limits.capacityTokens) {
    throw new RangeError(`request ${req.id}: ${longest} tokens would not fit in the KV cache (${limits.capacityTokens} tokens)`);
  }
}

/**
 * What is wrong with a request's sampling settings, checked against the cluster-wide ranges
 * (services/protocol/sampling-ranges.ts) so nothing the sampler would refuse reaches a step.
 */
function samplingProblem(s: SamplingParams, vocabSize: number): string | undefined {
  for (const r of SAMPLING_RANGES) {
    if (!inRange(r, s[r.field])) return `${r.field} must be ${describeRange(r)}, got ${String(s[r.field])}`;
  }
  if (s.seed !== undefined && !(Number.isInteger(s.seed) && s.seed >= 0 && s.seed <= 0xffffffff)) return `seed must be an integer in [0, 2^32), got ${String(s.seed)}`;
  if (s.logprobs !== undefined && !(Number.isInteger(s.logprobs) && s.logprobs >= 0 && s.logprobs <= MAX_LOGPROBS)) {
    return `logprobs must be undefined or an integer in [0, ${MAX_LOGPROBS}], got ${String(s.logprobs)}`;
  }
  for (const t of s.stopTokenIds) {
    if (!Number.isInteger(t) || t < 0 || t >= vocabSize) return `stop token ${t} is outside the vocabulary (0..${vocabSize - 1})`;
  }
  return logitBiasProblem(s.logitBias, vocabSize);
}

function logitBiasProblem(bias: Record<number, number> | undefined, vocabSize: number): string | undefined {
  if (bias === undefined) return undefined;
  const entries = Object.entries(bias);
  if (entries.length > MAX_LOGIT_BIAS_ENTRIES) return `logitBias has ${entries.length} entries; at most ${MAX_LOGIT_BIAS_ENTRIES}`;
  for (const [key, v] of entries) {
    const id = Number(key);
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) return `logitBias token ${key} is outside the vocabulary (0..${vocabSize - 1})`;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < LOGIT_BIAS_MIN || v > LOGIT_BIAS_MAX) {
      return `logitBias[${key}] must be a number in [${LOGIT_BIAS_MIN}, ${LOGIT_BIAS_MAX}], got ${String(v)}`;
    }
  }
  return undefined;
}
