import { timingSafeEqual } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { apiError, toOpenAIErrorBody } from '../errors/index.js';

export interface MetricsServer {
  /** `http://host:port/metrics` */
  url: string;
  close(): Promise<void>;
}

export interface MetricsServerOptions {
  /**
   * When set, GET /metrics needs `Authorization: Bearer <key>` (constant-time compare) and answers
   * the catalogue's 401 `invalid_api_key` otherwise. /health stays open: probes read it, and it
   * says nothing but "ok".
   */
  apiKey?: string;
}

/**
 * The small HTTP side door of a gRPC-only process (router, worker): Prometheus text on
 * GET /metrics, `{"status":"ok"}` on GET /health for probes. Port 0 picks a free one.
 */
export async function startMetricsServer(registry: Registry, host: string, port: number, o: MetricsServerOptions = {}): Promise<MetricsServer> {
  const key = o.apiKey ? Buffer.from(o.apiKey) : undefined;
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/metrics') {
      if (key && !bearerMatches(req.headers.authorization, key)) return refuse(res, req.headers.authorization);
      registry.metrics().then(
        (text) => {
          res.setHeader('content-type', registry.contentType);
          res.end(text);
        },
        (e: Error) => {
          res.statusCode = 500;
          res.end(e.message);
        },
      );
    } else if (path === '/health') {
      res.setHeader('content-type', 'application/json');
      res.end('{"status":"ok"}');
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const bound = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${bound}/metrics`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        // A scraper's keep-alive connection must not hold the process open.
        server.closeAllConnections();
      }),
  };
}

function bearerMatches(header: string | undefined, key: Buffer): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) return false;
  const given = Buffer.from(m[1]!.trim());
  return given.length === key.length && timingSafeEqual(given, key);
}

/** The catalogue's 401, as the gateway answers it for its own /metrics. */
function refuse(res: ServerResponse, header: string | undefined): void {
  const e = apiError('invalid_api_key', header ? 'Incorrect metrics key provided.' : 'Missing metrics key: send it as "Authorization: Bearer <key>".');
  res.statusCode = e.status;
  res.setHeader('content-type', 'application/json');
  res.setHeader('www-authenticate', 'Bearer');
  res.end(JSON.stringify(toOpenAIErrorBody(e)));
}
