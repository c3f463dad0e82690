import { intOption } from './parse.js';

/** TANDEM_HEADERS_TIMEOUT_MS / TANDEM_REQUEST_BODY_TIMEOUT_MS: how long a client may take to send a request. */
export function clientTimeouts(): { headersTimeoutMs: number; requestTimeoutMs: number } {
  return {
    headersTimeoutMs: intOption(process.env.TANDEM_HEADERS_TIMEOUT_MS, 'TANDEM_HEADERS_TIMEOUT_MS', 10_000, 100),
    requestTimeoutMs: intOption(process.env.TANDEM_REQUEST_BODY_TIMEOUT_MS, 'TANDEM_REQUEST_BODY_TIMEOUT_MS', 30_000, 100),
  };
}
