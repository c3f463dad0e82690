/**
 * The part of the xk6-sse extension (k6 built with `xk6 build --with github.com/phymbert/xk6-sse`)
 * these scripts use; @types/k6 does not cover extensions. Written from the extension's documented
 * surface: open() runs the callback, blocks until the stream ends or close() is called, and
 * returns the HTTP response.
 */
declare module 'k6/x/sse' {
  export interface SseEvent {
    id: string;
    name: string;
    data: string;
  }

  export interface SseError {
    error(): string;
  }

  export interface SseClient {
    on(event: 'open', handler: () => void): void;
    on(event: 'event', handler: (e: SseEvent) => void): void;
    on(event: 'error', handler: (e: SseError) => void): void;
    close(): void;
  }

  export interface SseParams {
    method?: 'GET' | 'POST';
    body?: string;
    headers?: Record<string, string>;
    tags?: Record<string, string>;
  }

  export interface SseResponse {
    status: number;
    error: string;
  }

  export function open(url: string, params: SseParams, callback: (client: SseClient) => void): SseResponse;

  const sse: { open: typeof open };
  export default sse;
}
