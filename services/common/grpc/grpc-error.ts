import * as grpc from '@grpc/grpc-js';

/** A gRPC status error to emit from a handler or throw toward one (code + details, empty metadata). */
export function grpcError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}
