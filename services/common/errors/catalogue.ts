/**
 * The one error catalogue of the stack: every error a client can see has a stable `code`, an
 * HTTP status and an OpenAI error `type`. Clients (and the official SDKs) branch on status and
 * type, operators grep logs by code, so these three never change once published; only the
 * default message may be improved.
 */

/** OpenAI error `type` values; SDKs map them to exception classes, so stay within this set. */
export type ErrorType = 'invalid_request_error' | 'authentication_error' | 'rate_limit_error' | 'server_error';

export interface CatalogueEntry {
  readonly status: number;
  readonly type: ErrorType;
  readonly message: string;
  /** Seconds for the `Retry-After` header: present on the codes a client should retry later. */
  readonly retryAfterSeconds?: number;
}

export const ERROR_CATALOGUE = {
  invalid_json: {
    status: 400,
    type: 'invalid_request_error',
    message: 'The request body is not valid JSON or not a JSON object.',
  },
  invalid_parameter: {
    status: 400,
    type: 'invalid_request_error',
    message: 'A request parameter has an invalid type or value.',
  },
  missing_parameter: {
    status: 400,
    type: 'invalid_request_error',
    message: 'A required request parameter is missing.',
  },
  unsupported_parameter: {
    status: 400,
    type: 'invalid_request_error',
    message: 'A request parameter or value is not supported by this server.',
  },
  previous_response_not_supported: {
    status: 400,
    type: 'invalid_request_error',
    message: "Responses are not stored on this server, so 'previous_response_id' cannot be followed; send the whole conversation in 'input' instead.",
  },
  model_not_found: {
    status: 404,
    type: 'invalid_request_error',
    message: 'The requested model does not exist or is not served here.',
  },
  context_length_exceeded: {
    status: 400,
    type: 'invalid_request_error',
    message: "The prompt plus the requested completion exceed the model's context length.",
  },
  max_tokens_out_of_range: {
    status: 400,
    type: 'invalid_request_error',
    message: 'The requested maximum number of completion tokens is out of range.',
  },
  body_too_large: {
    status: 413,
    type: 'invalid_request_error',
    message: 'The request body exceeds the size limit.',
  },
  unsupported_media_type: {
    status: 415,
    type: 'invalid_request_error',
    message: "The request Content-Type is not supported; send 'application/json'.",
  },
  invalid_api_key: {
    status: 401,
    type: 'authentication_error',
    message: 'The API key is missing or invalid.',
  },
  route_not_found: {
    status: 404,
    type: 'invalid_request_error',
    message: 'No such route.',
  },
  method_not_allowed: {
    status: 405,
    type: 'invalid_request_error',
    message: 'The HTTP method is not allowed on this route.',
  },
  server_overloaded: {
    status: 503,
    type: 'server_error',
    message: 'The server is overloaded; retry after the indicated delay.',
    retryAfterSeconds: 1,
  },
  rate_limited: {
    status: 429,
    type: 'rate_limit_error',
    message: 'Too many requests; retry after the indicated delay.',
    retryAfterSeconds: 1,
  },
  invalid_image: {
    status: 400,
    type: 'invalid_request_error',
    message: 'An image could not be read; send a valid PNG, JPEG or WebP image as a base64 data: URL.',
  },
  unsupported_image_format: {
    status: 400,
    type: 'invalid_request_error',
    message: 'The image format is not supported; send PNG, JPEG or WebP.',
  },
  image_too_large: {
    status: 400,
    type: 'invalid_request_error',
    message: 'An image exceeds the size limit (encoded bytes or decoded pixels); send a smaller image.',
  },
  too_many_images: {
    status: 400,
    type: 'invalid_request_error',
    message: 'The request has more images than the server accepts per request; send fewer images.',
  },
  image_url_not_allowed: {
    status: 400,
    type: 'invalid_request_error',
    message: 'Remote image URLs are not allowed here; send the image inline as a base64 data: URL.',
  },
  image_fetch_failed: {
    status: 400,
    type: 'invalid_request_error',
    message: 'The image URL could not be fetched; check that it is reachable or send the image inline as a data: URL.',
  },
  model_does_not_support_images: {
    status: 400,
    type: 'invalid_request_error',
    message: 'The requested model does not accept image input; send text only or use a vision model.',
  },
  invalid_json_schema: {
    status: 400,
    type: 'invalid_request_error',
    message: 'The JSON schema is malformed, too large to enforce, or has no valid instance.',
  },
  unsupported_json_schema_keyword: {
    status: 400,
    type: 'invalid_request_error',
    message: 'The JSON schema uses a keyword that structured outputs do not support here.',
  },
  tool_not_found: {
    status: 400,
    type: 'invalid_request_error',
    message: "'tool_choice' names a function that is not among 'tools'.",
  },
  request_timeout: {
    status: 408,
    type: 'invalid_request_error',
    message: 'The request did not complete within the time limit.',
  },
  internal_error: {
    status: 500,
    type: 'server_error',
    message: 'The server hit an internal error while processing the request.',
  },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export const ERROR_CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CATALOGUE, value);
}

export function catalogueEntry(code: ErrorCode): CatalogueEntry {
  return ERROR_CATALOGUE[code];
}
