import * as grpc from '@grpc/grpc-js';
import { CALL_TOKEN_HEADER, CallTokenVerifier, mintCallToken, type TokenVerdict } from '../security/call-token.js';

/**
 * gRPC call authentication for every Tandem service (ADR 0015): the client interceptor puts a
 * fresh call token in each call's metadata; the server interceptor checks it when the metadata
 * arrives and answers UNAUTHENTICATED without ever starting the handler (nothing is parsed,
 * queued or computed for a caller without the cluster secret).
 */
export function serverAuthInterceptor(key: Buffer, onRefused?: (method: string, reason: Exclude<TokenVerdict, { ok: true }>['reason']) => void): grpc.ServerInterceptor {
  const verifier = new CallTokenVerifier(key);
  return (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            const token = metadata.get(CALL_TOKEN_HEADER)[0];
            const verdict = verifier.verify(typeof token === 'string' ? token : undefined, method.path);
            if (verdict.ok) {
              // Handlers and tracing never see the token.
              metadata.remove(CALL_TOKEN_HEADER);
              mdNext(metadata);
              return;
            }
            onRefused?.(method.path, verdict.reason);
            call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: `tandem: call not authenticated (${verdict.reason} cluster token)`, metadata: new grpc.Metadata() });
          },
        }),
    });
}

/** Client side: mints a token per call, bound to the method it calls. */
export function clientAuthInterceptor(key: Buffer): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start: (metadata, listener, next) => {
        metadata.set(CALL_TOKEN_HEADER, mintCallToken(key, options.method_definition.path));
        next(metadata, listener);
      },
    });
}

/** Channel options of a client that authenticates its calls (or plain `base` without a key). */
export function authenticatedClientOptions(base: grpc.ChannelOptions, key: Buffer | undefined): grpc.ClientOptions {
  return key ? { ...base, interceptors: [clientAuthInterceptor(key)] } : base;
}
