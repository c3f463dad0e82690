/**
 * One request's token stream from the router that survives losing the router (DESIGN §8): when
 * the Generate stream ends in an error the router did not decide — the connection dropped (kill
 * -9), the router shut down under it — the request is not lost with it. Its state is in the
 * sequence store, so once a router answers — another of the gateway's routers at once, or the
 * same address again (`up --cluster` restarts a dead one on its port in ~1-2 s; a Service's other
 * replica answers at once) — `Router.Resume` continues it after the tokens already delivered, and
 * the caller sees one uninterrupted stream.
 *
 * Bounded: a loss gives up after `windowMs` without a router taking the request, and a request
 * is resumed at most `maxResumes` times. Errors marked final by the router (tandem-final) end the
 * request as before. A request the router never recorded (lost within its first milliseconds),
 * with nothing delivered yet, is simply sent again.
 */
import * as grpc from '@grpc/grpc-js';
import { isFinalError } from '../common/grpc/grpc-error.js';
import type { pb } from '../protocol/wire.js';
import type { RouterClient, RouterPool } from './router-pool.js';

export interface ResumePolicy {
  /** How long one loss of the router may last before the request fails. */
  windowMs: number;
  /** How many losses one request may survive. */
  maxResumes: number;
}

export const DEFAULT_RESUME_POLICY: ResumePolicy = { windowMs: 10_000, maxResumes: 5 };

/** Pause between two Resume attempts that reached a router which could not take the request yet. */
const RETRY_PAUSE_MS = 100;

export interface RouterStreamHandlers {
  data(chunk: pb.TokenChunk): void;
  /** The stream ended: all of it arrived, or it was cancelled here. */
  end(): void;
  error(e: grpc.ServiceError): void;
  /** A Resume is being sent (the `n`-th of this request), after `lost` ended the previous call. */
  resuming?(n: number, delivered: number, lost: grpc.ServiceError): void;
}

const RESUMABLE = new Set([grpc.status.UNAVAILABLE, grpc.status.INTERNAL, grpc.status.UNKNOWN, grpc.status.CANCELLED]);

/** Lost the router, not refused by it: a transport or shutdown error without the final mark. */
export function isRouterLoss(e: grpc.ServiceError): boolean {
  return RESUMABLE.has(e.code) && !isFinalError(e);
}

/** Starts the request's Generate stream; returns its cancel. */
export function streamFromRouter(routers: Pick<RouterPool, 'pick' | 'whenAnyReady'>, req: pb.GenerateRequest, md: grpc.Metadata, deadline: number, policy: ResumePolicy, h: RouterStreamHandlers): () => void {
  /** Token ids received, in order (what the client has, or will have from the queue). */
  const delivered: number[] = [];
  let finished = false;
  let cancelled = false;
  let resent = false;
  let losses = 0;
  let resumes = 0;
  /** The current loss: when it began, its error, Resume calls tried since (undefined while a router streams). */
  let loss: { at: number; error: grpc.ServiceError; tries: number } | undefined;
  /** The live call; undefined between a loss and the next Resume. */
  let current: grpc.ClientReadableStream<pb.TokenChunk> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastError: grpc.ServiceError | undefined;

  const attach = (call: grpc.ClientReadableStream<pb.TokenChunk>): void => {
    current = call;
    // A router that answers (headers or data) has taken the request: a later loss is a new one.
    const taken = () => (loss = undefined);
    call.on('metadata', taken);
    call.on('data', (c: pb.TokenChunk) => {
      taken();
      for (const t of c.tokens) delivered.push(t.tokenId);
      if (c.finished) finished = true;
      h.data(c);
    });
    // grpc-js ends the stream after an error too: only a clean end is the end of the request.
    let failed = false;
    call.on('end', () => failed || h.end());
    call.on('error', (e: grpc.ServiceError) => {
      failed = true;
      current = undefined;
      lastError = e;
      if (cancelled || finished) return h.end();
      if (e.code === grpc.status.NOT_FOUND && isFinalError(e) && delivered.length === 0 && !resent) {
        // The router was lost before it recorded the request: nothing to resume, send it again.
        resent = true;
        return attach(generateOn(routers.pick()));
      }
      if (!isRouterLoss(e)) return h.error(e);
      const now = Date.now();
      if (!loss) {
        loss = { at: now, error: e, tries: 0 };
        losses++;
      }
      if (losses > policy.maxResumes || now - loss.at >= policy.windowMs || now >= deadline) return h.error(loss.error);
      timer = setTimeout(resume, loss.tries > 0 ? RETRY_PAUSE_MS : 0);
    });
  };

  const resume = (): void => {
    if (cancelled || !loss) return h.end();
    const l = loss;
    // Waits for a router to answer (another one, or a restarted one), at most until the window closes.
    routers.whenAnyReady(Math.min(l.at + policy.windowMs, deadline), (err, client) => {
      if (cancelled) return h.end();
      if (err || !client) return h.error(l.error);
      l.tries++;
      h.resuming?.(++resumes, delivered.length, lastError!);
      // The store keeps no pixels: a request with images sends them again.
      const ask = { requestId: req.requestId, deliveredTokens: delivered.length, deliveredTokenIds: delivered, images: req.images };
      attach(client.Resume(ask, md, { deadline }) as grpc.ClientReadableStream<pb.TokenChunk>);
    });
  };

  const generateOn = (client: RouterClient) => client.Generate(req, md, { deadline }) as grpc.ClientReadableStream<pb.TokenChunk>;
  attach(generateOn(routers.pick()));
  return () => {
    if (cancelled) return;
    cancelled = true;
    clearTimeout(timer);
    // A live call ends through its CANCELLED error; between calls there is none to wait for.
    if (current) current.cancel();
    else h.end();
  };
}
