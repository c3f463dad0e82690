import { apiError } from '../../common/errors/index.js';
import { childParam } from './param-path.js';
import type { ChatRole, NormalizedContentPart } from './types.js';

/** Part types OpenAI defines that this gateway does not take (as opposed to unknown types). */
const NOT_SUPPORTED: Record<string, string> = {
  input_image: "Use a part of type 'image_url' for images.",
  input_audio: 'Audio inputs are not supported.',
  file: 'File inputs are not supported.',
  video_url: 'Video inputs are not supported.',
};

/**
 * A content-part array in canonical form: text-only arrays are joined into one string (no
 * separator, the same way the chat template flattens text parts, so both paths give the same
 * prompt); arrays with images stay arrays, in order, for the chat template to place the images.
 * Images are only taken in user turns: that is where vision models were trained to see them.
 * The schema has already checked each part's field types (including image_url.url).
 */
export function normalizeContentParts(
  parts: ReadonlyArray<Record<string, unknown>>,
  param: string,
  role: ChatRole,
): string | NormalizedContentPart[] {
  const out: NormalizedContentPart[] = [];
  let hasImage = false;
  parts.forEach((part, i) => {
    const at = childParam(param, i);
    const type = part.type as string;
    if (type === 'text') {
      if (part.text === undefined) throw apiError('missing_parameter', `Missing required parameter: '${at}.text'.`, `${at}.text`);
      out.push({ type: 'text', text: part.text as string });
      return;
    }
    if (type === 'image_url') {
      const image = part.image_url as { url: string; detail?: 'auto' | 'low' | 'high' } | undefined;
      if (image === undefined) throw apiError('missing_parameter', `Missing required parameter: '${at}.image_url'.`, `${at}.image_url`);
      if (role !== 'user') {
        throw apiError('invalid_parameter', `Images are only accepted in user messages; '${at}' is in a ${role} message.`, at);
      }
      hasImage = true;
      out.push({ type: 'image_url', image_url: image.detail === undefined ? { url: image.url } : { url: image.url, detail: image.detail } });
      return;
    }
    const refusal = NOT_SUPPORTED[type];
    if (refusal !== undefined) throw apiError('unsupported_parameter', `${refusal} ('${at}' has type '${type}')`, at);
    throw apiError('invalid_parameter', `Invalid content part type '${type}' at '${at}'; expected 'text' or 'image_url'.`, `${at}.type`);
  });
  return hasImage ? out : out.map((p) => (p as { text: string }).text).join('');
}
