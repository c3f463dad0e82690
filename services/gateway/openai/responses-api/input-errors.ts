import { apiError, isApiError } from '../../../common/errors/index.js';

const MESSAGE_PATH = /^messages(?:\[(\d+)\])?/;

/** Chat's structured-output fields and where the Responses API has them. */
const FORMAT_PATHS: ReadonlyArray<[chat: string, responses: string]> = [
  ['response_format.json_schema.schema', 'text.format.schema'],
  ['response_format.json_schema', 'text.format'],
  ['response_format', 'text.format'],
];

function responsesParam(param: string, sources: readonly string[]): string | undefined {
  const m = MESSAGE_PATH.exec(param);
  if (m) {
    const source = m[1] === undefined ? 'input' : (sources[Number(m[1])] ?? 'input');
    // Responses images are `image_url: "<url>"`, not chat's `image_url: {url}`.
    return (source + param.slice(m[0].length)).replace(/\.image_url\.url$/, '.image_url');
  }
  for (const [chat, responses] of FORMAT_PATHS) {
    if (param === chat || param.startsWith(`${chat}.`) || param.startsWith(`${chat}[`)) return responses + param.slice(chat.length);
  }
  return undefined;
}

/**
 * Errors raised after parsing (chat template, images, context length, the output-format
 * grammar) name the chat request the input became: `messages[2].content[1].image_url.url`,
 * `response_format.json_schema.schema`. A Responses client sent `input` and `text.format`, so
 * the path is rewritten to what it sent (`input[1].content[1].image_url`, `text.format.schema`),
 * in `param` and in the message text. Anything else passes through unchanged.
 */
export function inResponsesTerms(err: unknown, sources: readonly string[]): unknown {
  if (!isApiError(err) || err.param === undefined) return err;
  const param = responsesParam(err.param, sources);
  if (param === undefined) return err;
  const message = err.message.split(err.param).join(param).replace(/\bthe messages\b/g, 'the input');
  return apiError(err.code, message, param, { headers: err.headers });
}
