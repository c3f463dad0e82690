import { describe, expect, it } from 'vitest';
import {
  ApiError,
  ERROR_CATALOGUE,
  ERROR_CODES,
  apiError,
  errorCatalogueMarkdown,
  isErrorCode,
  toApiError,
  toOpenAIErrorBody,
} from './index.js';

const EXPECTED: Record<string, [number, string]> = {
  invalid_json: [400, 'invalid_request_error'],
  invalid_parameter: [400, 'invalid_request_error'],
  missing_parameter: [400, 'invalid_request_error'],
  unsupported_parameter: [400, 'invalid_request_error'],
  previous_response_not_supported: [400, 'invalid_request_error'],
  model_not_found: [404, 'invalid_request_error'],
  context_length_exceeded: [400, 'invalid_request_error'],
  max_tokens_out_of_range: [400, 'invalid_request_error'],
  body_too_large: [413, 'invalid_request_error'],
  unsupported_media_type: [415, 'invalid_request_error'],
  invalid_api_key: [401, 'authentication_error'],
  route_not_found: [404, 'invalid_request_error'],
  method_not_allowed: [405, 'invalid_request_error'],
  server_overloaded: [503, 'server_error'],
  rate_limited: [429, 'rate_limit_error'],
  invalid_image: [400, 'invalid_request_error'],
  unsupported_image_format: [400, 'invalid_request_error'],
  image_too_large: [400, 'invalid_request_error'],
  too_many_images: [400, 'invalid_request_error'],
  image_url_not_allowed: [400, 'invalid_request_error'],
  image_fetch_failed: [400, 'invalid_request_error'],
  model_does_not_support_images: [400, 'invalid_request_error'],
  invalid_json_schema: [400, 'invalid_request_error'],
  unsupported_json_schema_keyword: [400, 'invalid_request_error'],
  tool_not_found: [400, 'invalid_request_error'],
  request_timeout: [408, 'invalid_request_error'],
  internal_error: [500, 'server_error'],
};

describe('error catalogue', () => {
  it.each(Object.entries(EXPECTED))('%s has the published status and type', (code, [status, type]) => {
    expect(isErrorCode(code)).toBe(true);
    const e = apiError(code as keyof typeof ERROR_CATALOGUE);
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('ApiError');
    expect([e.code, e.status, e.type]).toEqual([code, status, type]);
    expect(e.message).toBe(ERROR_CATALOGUE[code as keyof typeof ERROR_CATALOGUE].message);
  });

  it('has no code beyond the published ones and only 4xx/5xx statuses', () => {
    expect([...ERROR_CODES].sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const code of ERROR_CODES) expect(ERROR_CATALOGUE[code].status).toBeGreaterThanOrEqual(400);
    expect(isErrorCode('nope')).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
  });

  it('keeps message and param given at the throw site', () => {
    const e = apiError('invalid_parameter', 'bad temperature', 'temperature');
    expect(e.message).toBe('bad temperature');
    expect(e.param).toBe('temperature');
    expect(e.headers).toBeUndefined();
  });

  it('sets Retry-After on overload and rate limits, overridable and in whole seconds', () => {
    expect(apiError('server_overloaded').headers).toEqual({ 'retry-after': '1' });
    expect(apiError('rate_limited').headers).toEqual({ 'retry-after': '1' });
    expect(apiError('server_overloaded', undefined, undefined, { retryAfterSeconds: 2.2 }).headers).toEqual({ 'retry-after': '3' });
    expect(apiError('invalid_api_key', undefined, undefined, { headers: { 'www-authenticate': 'Bearer' } }).headers)
      .toEqual({ 'www-authenticate': 'Bearer' });
  });

  it('keeps the cause for logs', () => {
    const cause = new Error('disk on fire');
    expect(apiError('internal_error', undefined, undefined, { cause }).cause).toBe(cause);
  });
});

describe('toOpenAIErrorBody', () => {
  it('has exactly message, type, param, code; param null when absent', () => {
    const body = toOpenAIErrorBody(apiError('model_not_found', 'no such model', 'model'));
    expect(Object.keys(body)).toEqual(['error']);
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(body).toEqual({ error: { message: 'no such model', type: 'invalid_request_error', param: 'model', code: 'model_not_found' } });
    expect(toOpenAIErrorBody(apiError('route_not_found')).error.param).toBeNull();
  });

  it('hides the message of anything that is not an ApiError', () => {
    const body = toOpenAIErrorBody(new Error('ECONNREFUSED 10.0.0.7:6379'));
    expect(body).toEqual({ error: { message: ERROR_CATALOGUE.internal_error.message, type: 'server_error', param: null, code: 'internal_error' } });
    expect(toOpenAIErrorBody('a string').error.code).toBe('internal_error');
    const wrapped = toApiError(new TypeError('x'));
    expect(wrapped.status).toBe(500);
    expect(wrapped.cause).toBeInstanceOf(TypeError);
  });

  it('passes ApiErrors through unchanged', () => {
    const e = apiError('body_too_large');
    expect(toApiError(e)).toBe(e);
  });
});

describe('errorCatalogueMarkdown', () => {
  it('lists every code with its status and type', () => {
    const md = errorCatalogueMarkdown();
    const rows = md.trim().split('\n');
    expect(rows).toHaveLength(2 + ERROR_CODES.length);
    expect(rows[0]).toMatch(/^\| code \| HTTP status \| type \|/);
    for (const code of ERROR_CODES) {
      const e = ERROR_CATALOGUE[code];
      expect(md).toContain(`| \`${code}\` | ${e.status} | \`${e.type}\` |`);
    }
    expect(md).toMatch(/\| `server_overloaded` \| 503 \| `server_error` \| 1 s \|/);
  });
});
