import { ErrorCode, NatsError } from 'nats';
import { BusClosedError, BusError, BusNoRespondersError, BusTimeoutError } from './errors.js';

/**
 * Translates a nats.js error into the bus's own errors so callers never import nats to branch
 * on a failure. Anything without a bus meaning passes through untouched.
 */
export function toBusError(err: unknown, subject: string, timeoutMs?: number): unknown {
  if (err instanceof BusError || !(err instanceof NatsError)) return err;
  switch (err.code) {
    case ErrorCode.Timeout:
      return new BusTimeoutError(subject, timeoutMs ?? 0, { cause: err });
    case ErrorCode.NoResponders:
      // JetStream not enabled shares code 503 with no-responders; nats.js marks it by message.
      return /jetstream/i.test(err.message) ? err : new BusNoRespondersError(subject, { cause: err });
    case ErrorCode.Disconnect:
      return new BusError(`NATS connection lost during '${subject}'; the client is reconnecting`, { cause: err });
    case ErrorCode.PermissionsViolation:
      return new BusError(`NATS refused '${subject}' to this connection's user: ${err.message} (subject permissions, deploy/nats/nats-server.conf)`, { cause: err });
    case ErrorCode.ConnectionClosed:
    case ErrorCode.ConnectionDraining:
      return new BusClosedError(undefined, { cause: err });
    default:
      return err;
  }
}

/** JetStream API error code for "stream not found". */
const STREAM_NOT_FOUND = 10059;

/** A KV bucket's stream is gone (e.g. a server restarted without its store): publishes and direct gets find nobody. */
export function isMissingStream(err: unknown): boolean {
  if (!(err instanceof NatsError)) return false;
  return err.code === ErrorCode.NoResponders || err.api_error?.err_code === STREAM_NOT_FOUND || /stream not found/i.test(err.message);
}
