import * as grpc from '@grpc/grpc-js';

/** A gRPC status error to emit from a handler or throw toward one (code + details, empty metadata). */
export function grpcError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}

/**
 * Trailer on a router error that ends the request for good (the request failed, or cannot be
 * resumed). A Generate or Resume stream that ends in an error without it lost its router (a
 * dropped connection, a router shutting down): the gateway answers it with Router.Resume.
 */
export const FINAL_ERROR_TRAILER = 'tandem-final';

/** The same status and details, marked final (see FINAL_ERROR_TRAILER). */
export function finalError(code: grpc.status, details: string): grpc.ServiceError {
  const err = grpcError(code, details);
  err.metadata.set(FINAL_ERROR_TRAILER, '1');
  return err;
}

export function isFinalError(e: { metadata?: grpc.Metadata }): boolean {
  return (e.metadata?.get(FINAL_ERROR_TRAILER).length ?? 0) > 0;
}
