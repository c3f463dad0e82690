import * as grpc from '@grpc/grpc-js';
import { grpcError } from './grpc/grpc-error.js';

/**
 * Bounded shutdown of a server with requests in flight: let them finish for a grace period, then
 * fail what is left (`force`) and give that a moment to reach the peers.
 */

/** How long, after `force`, to wait for the drained promise before returning anyway. */
export const FORCE_WAIT_MS = 300;

/**
 * Waits for `drained` (in-flight work ending on its own) up to `graceMs`; past it calls `force`
 * and waits up to FORCE_WAIT_MS more. Resolves with how it ended; never rejects on `drained`.
 */
export async function drainOrForce(drained: Promise<unknown>, force: () => void | Promise<void>, graceMs: number): Promise<'drained' | 'forced'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = (ms: number) => new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)));
  const settled = drained.then(
    () => 'drained' as const,
    () => 'drained' as const,
  );
  const first = await Promise.race([settled, timeout(graceMs)]);
  clearTimeout(timer);
  if (first === 'drained') return 'drained';
  await force();
  await Promise.race([settled, timeout(FORCE_WAIT_MS)]);
  clearTimeout(timer);
  return 'forced';
}

/**
 * The gRPC calls a server has in flight, so that a shutdown past its grace period can end each
 * with UNAVAILABLE — which callers treat as "this server is gone" (the router retries a prefill
 * or migrates a decode; the gateway answers 503 / an SSE error event) — instead of grpc-js's
 * forceShutdown, whose CANCELLED looks to the caller like its own cancellation.
 */
export class InFlightCalls {
  private readonly live = new Set<(details: string) => void>();

  get size(): number {
    return this.live.size;
  }

  /** The same handlers, each call registered until it ends. */
  wrap(handlers: grpc.UntypedServiceImplementation): grpc.UntypedServiceImplementation {
    const out: grpc.UntypedServiceImplementation = {};
    for (const [name, handler] of Object.entries(handlers)) {
      const h = handler as (call: NodeJS.EventEmitter, callback?: grpc.sendUnaryData<unknown>) => void;
      out[name] = ((call: NodeJS.EventEmitter, callback?: grpc.sendUnaryData<unknown>) => {
        let ended = false;
        const end = () => {
          ended = true;
          this.live.delete(fail);
        };
        const fail = (details: string) => {
          if (ended) return;
          end();
          const err = grpcError(grpc.status.UNAVAILABLE, details);
          if (callback) callback(err);
          else call.emit('error', err);
        };
        this.live.add(fail);
        call.once('cancelled', end);
        if (callback) {
          return h(call, (err, value, trailer, flags) => {
            if (ended) return;
            end();
            callback(err, value, trailer, flags);
          });
        }
        call.once('finish', end);
        call.once('error', end);
        return h(call);
      }) as grpc.UntypedHandleCall;
    }
    return out;
  }

  /** Ends every call still in flight with UNAVAILABLE `details`. */
  failAll(details: string): void {
    for (const f of [...this.live]) f(details);
  }
}
