import { apiError } from '../../common/errors/index.js';
import { resolveLimits, type GatewayLimits } from './limits.js';
import type { LogprobsChoice } from './logprobs-request.js';
import { normalizeMaxTokens } from './max-tokens.js';
import { normalizeSampling } from './sampling.js';
import { normalizeStop } from './stop.js';
import { normalizeStream } from './stream.js';
import { normalizeLogitBias, normalizeResponseFormat } from './response-format.js';
import type { NormalizedRequestBase } from './types.js';

/** Fields both endpoints share, from a body that already matches its schema and names a served model. */
export function normalizeBase(
  kind: 'chat' | 'completion',
  body: Record<string, unknown>,
  limits: GatewayLimits,
  lp: LogprobsChoice,
): NormalizedRequestBase {
  const resolved = resolveLimits(limits);
  const model = body.model as string;
  const n = (body.n as number | undefined) ?? 1;
  if (n > resolved.maxN) throw apiError('invalid_parameter', `'n' must be at most ${resolved.maxN}, got ${n}.`, 'n');
  const base: NormalizedRequestBase = {
    model,
    n,
    ...normalizeStream(body),
    ...normalizeMaxTokens(kind, body, limits),
    stop: normalizeStop(body.stop as string | string[] | undefined, resolved.maxStop),
    logprobs: lp.logprobs,
    topLogprobs: lp.topLogprobs,
    sampling: normalizeSampling(body, lp),
  };
  if (body.user !== undefined) base.user = body.user as string;
  if (body.cache_salt !== undefined) base.cacheSalt = body.cache_salt as string;
  const responseFormat = normalizeResponseFormat(body.response_format);
  if (responseFormat) base.responseFormat = responseFormat;
  const logitBias = normalizeLogitBias(body.logit_bias);
  if (logitBias) base.logitBias = logitBias;
  return base;
}
