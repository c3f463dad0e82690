import { apiError, type ApiError } from '../common/errors/index.js';

/** The catalogue codes this module answers with (all 400s: the client sent a bad image). */
export type MediaErrorCode =
  | 'invalid_image'
  | 'unsupported_image_format'
  | 'image_too_large'
  | 'too_many_images'
  | 'image_url_not_allowed'
  | 'image_fetch_failed';

/** `param` is the request path of the offending URL, e.g. `messages[0].content[1].image_url.url`. */
export function mediaError(code: MediaErrorCode, message: string, param?: string): ApiError {
  return apiError(code, message, param);
}
