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
