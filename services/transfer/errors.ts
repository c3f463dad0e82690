/**
 * Errors of the transfer layer. They are internal (a client sees `internal_error`); `code` lets
 * callers tell a refused write from an unreachable peer, e.g. to fall back to local prefill.
 */
export type TransferErrorCode =
  | 'out_of_range' // a range falls outside the source or the remote region: nothing was written
  | 'unknown_region' // the receiver has no region with that id
  | 'not_granted' // the receiver's guard refused the put (no lease, or ranges outside it): nothing was written
  | 'bad_descriptor' // the descriptor is malformed, tampered with, or for another backend
  | 'peer_unreachable' // no connection / endpoint to the receiver
  | 'peer_failed' // the connection broke while the put was in flight
  | 'protocol' // the peer sent bytes that are not the transfer protocol
  | 'ucx' // UCX reported an error status (see `ucsStatus`)
  | 'unavailable' // the backend cannot run here (e.g. UCX missing)
  | 'closed' // the engine was closed
  | 'invalid_argument';

export class TransferError extends Error {
  readonly code: TransferErrorCode;
  /** UCS status code when `code` is 'ucx' (or an endpoint error came from UCX). */
  readonly ucsStatus?: number;

  constructor(code: TransferErrorCode, message: string, options: { cause?: unknown; ucsStatus?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TransferError';
    this.code = code;
    if (options.ucsStatus !== undefined) this.ucsStatus = options.ucsStatus;
  }
}

export function isTransferError(err: unknown, code?: TransferErrorCode): err is TransferError {
  return err instanceof TransferError && (code === undefined || err.code === code);
}
