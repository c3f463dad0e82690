import { apiError, isApiError } from '../../../common/errors/index.js';

const MESSAGE_PATH = /^messages(?:\[(\d+)\])?/;

/**
 * Errors raised after parsing (chat template, images, context length) name the chat messages the
 * input became: `messages[2].content[1].image_url.url`. A Responses client sent `input`, so the
 * path is rewritten to the item it came from (`input[1].content[1].image_url`), in `param` and in
 * the message text. Anything else passes through unchanged.
 */
export function inInputTerms(err: unknown, sources: readonly string[]): unknown {
  if (!isApiError(err) || err.param === undefined) return err;
  const m = MESSAGE_PATH.exec(err.param);
  if (!m) return err;
  const source = m[1] === undefined ? 'input' : (sources[Number(m[1])] ?? 'input');
  // Responses images are `image_url: "<url>"`, not chat's `image_url: {url}`.
  const param = (source + err.param.slice(m[0].length)).replace(/\.image_url\.url$/, '.image_url');
  const message = err.message.split(err.param).join(param).replace(/\bthe messages\b/g, 'the input');
  return apiError(err.code, message, param, { headers: err.headers });
}
