import * as grpc from '@grpc/grpc-js';
import { finalError } from '../common/grpc/grpc-error.js';
import { pb } from '../protocol/wire.js';
import type { Leg } from './leg.js';
import type { MoveFn } from './sequence-log.js';

/** How a Router call (Generate or Resume) that relayed a decode stream ended: recorded, then the call ends. */
export function endCall(call: grpc.ServerWritableStream<unknown, unknown>, move: MoveFn, leg: Leg, last: pb.TokenChunk | undefined): void {
  // Shut down under the request: its record stays for the router that resumes it.
  if (leg.handedOver && !last?.finished) return;
  // A client that hangs up right after the final chunk did get the whole answer.
  if (leg.cancelled && !last?.finished) move('cancelled');
  else if (last?.finishReason === pb.FinishReason.ERROR) move('failed', { error: last.error });
  else move('finished', { generatedTokens: last?.completionTokens ?? 0 });
  call.end();
}

/**
 * A Router call that failed: recorded, and the caller told with the error marked final — the
 * request itself failed, so the gateway must not answer it with a Resume.
 */
export function failCall(call: grpc.ServerWritableStream<unknown, unknown>, move: MoveFn, leg: Leg, e: unknown): void {
  if (leg.handedOver) return;
  const err = e as Partial<grpc.ServiceError> & Error;
  move(leg.cancelled ? 'cancelled' : 'failed', { error: err.message });
  if (!leg.cancelled) call.emit('error', finalError(err.code ?? grpc.status.INTERNAL, err.details ?? err.message));
}
