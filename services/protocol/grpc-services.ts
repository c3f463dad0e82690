/**
 * gRPC service definitions for @grpc/grpc-js, made from the descriptors protobuf-es generated
 * from proto/ (no .proto parsing at run time): each method (de)serializes its generated message
 * types. Handlers may write init-shaped objects; `create` turns them into messages.
 */
import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary, type DescMessage, type DescService } from '@bufbuild/protobuf';
import { Router } from './gen/tandem/v1/router_pb.js';
import { Worker } from './gen/tandem/v1/worker_pb.js';

function codec(schema: DescMessage): { serialize: (v: unknown) => Buffer; deserialize: (b: Buffer) => unknown } {
  return {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    serialize: (v) => Buffer.from(toBinary(schema, create(schema, v as any))),
    deserialize: (b) => fromBinary(schema, b),
  };
}

export function serviceDefinition(service: DescService): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const m of service.methods) {
    const req = codec(m.input);
    const res = codec(m.output);
    def[m.name] = {
      path: `/${service.typeName}/${m.name}`,
      requestStream: m.methodKind === 'client_streaming' || m.methodKind === 'bidi_streaming',
      responseStream: m.methodKind === 'server_streaming' || m.methodKind === 'bidi_streaming',
      requestSerialize: req.serialize,
      requestDeserialize: req.deserialize,
      responseSerialize: res.serialize,
      responseDeserialize: res.deserialize,
    };
  }
  return def;
}

let clients: { Worker: grpc.ServiceClientConstructor; Router: grpc.ServiceClientConstructor } | undefined;

/** tandem.v1 Worker and Router: client constructors (each with its `.service` definition). */
export function tandemV1(): { Worker: grpc.ServiceClientConstructor; Router: grpc.ServiceClientConstructor } {
  clients ??= {
    Worker: grpc.makeGenericClientConstructor(serviceDefinition(Worker), Worker.typeName),
    Router: grpc.makeGenericClientConstructor(serviceDefinition(Router), Router.typeName),
  };
  return clients;
}
