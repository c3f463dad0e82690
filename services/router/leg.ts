import * as grpc from '@grpc/grpc-js';
import { outgoingTraceparent } from '../common/telemetry/index.js';

/** Every worker call made for one client call, cancelled together when the client goes away. */
export class Leg {
  private calls: grpc.Call[] = [];
  private onCancelFns: Array<() => void> = [];
  cancelled = false;
  /**
   * The call was ended under the request by this router's shutdown (UNAVAILABLE, see
   * InFlightCalls): the legs are cancelled, but the request is not over — its record is left as
   * it is for the router the gateway resumes it on.
   */
  handedOver = false;
  add<T extends grpc.Call>(c: T): T {
    this.calls.push(c);
    if (this.cancelled) c.cancel();
    return c;
  }
  /** A call that completed its part (its final message arrived) is no longer cancelled with the leg. */
  release(c: grpc.Call): void {
    this.calls = this.calls.filter((x) => x !== c);
  }
  /** Runs `fn` when the request is cancelled (now, if it already was). */
  onCancel(fn: () => void): void {
    if (this.cancelled) fn();
    else this.onCancelFns.push(fn);
  }
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    for (const c of this.calls) c.cancel();
    for (const fn of this.onCancelFns) fn();
  }
}

export interface LegContext {
  leg: Leg;
  /** Metadata for a worker call: the trace context of the request. */
  legTrace: () => grpc.Metadata;
  /** The caller's deadline, for every worker leg (none when the caller set none). */
  legOptions: grpc.CallOptions;
}

/** The legs of a Router call: cancelled with the call, bounded by its deadline, traced under it. */
export function legContext(call: grpc.ServerWritableStream<unknown, unknown>): LegContext {
  const parentTrace = call.metadata.get('traceparent')[0]?.toString();
  const leg = new Leg();
  call.on('cancelled', () => leg.cancel());
  // A call cancelled before its handler ran (a client that left at once) has no 'cancelled'
  // event left to fire: without this its worker legs would run to max_tokens for nobody.
  if (call.cancelled) leg.cancel();
  // Errors are emitted on the call by the handler itself once the request is over (the legs are
  // done then), or by the server's shutdown while it still runs: hand the request over.
  call.on('error', () => {
    if (leg.cancelled) return;
    leg.handedOver = true;
    leg.cancel();
  });
  const deadline = call.getDeadline();
  return {
    leg,
    // The active span's ids (router.generate) when tracing is on, a fresh child id otherwise.
    legTrace: () => {
      const md = new grpc.Metadata();
      md.set('traceparent', outgoingTraceparent(parentTrace));
      return md;
    },
    legOptions: Number.isFinite(Number(deadline)) ? { deadline } : {},
  };
}
