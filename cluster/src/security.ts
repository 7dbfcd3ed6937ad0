import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { tokensEqual } from '@cohort/runtime';

/** gRPC metadata key that carries the cluster token on every data-plane call. */
export const TOKEN_METADATA_KEY = 'x-cohort-token';

/** Paths of the PEM files for gRPC TLS. */
export interface TlsPaths {
  /** Certificate chain of this process. */
  cert: string;
  /** Private key of this process. */
  key: string;
  /** CA bundle that signs the peers' certificates. */
  ca: string;
}

/** How a process supplies the cluster token (quoted in every refusal). */
export const HOW_TO_PASS = 'pass the cluster token: COHORT_TOKEN or --token-file for cohort commands, the `token` option of connect(), or security.token/tokenEnv/tokenFile in the cluster config';

/**
 * Checks the cluster token in call metadata. Returns undefined when it is
 * valid, or the reason for refusing the call.
 */
export function checkTokenMetadata(metadata: grpc.Metadata, token: string): string | undefined {
  const got = metadata.get(TOKEN_METADATA_KEY);
  if (got.length === 0) return `cluster token missing: this cluster's data plane requires the cluster token (gRPC metadata "${TOKEN_METADATA_KEY}"); ${HOW_TO_PASS}`;
  const value = typeof got[0] === 'string' ? got[0] : got[0].toString('utf8');
  if (!tokensEqual(value, token)) return `cluster token rejected: the token sent does not match this cluster's token; ${HOW_TO_PASS}`;
  return undefined;
}

/**
 * A grpc-js server interceptor that refuses every call lacking the cluster
 * token with `UNAUTHENTICATED` and a message that says what to supply.
 * Pass it as `new grpc.Server({ interceptors: [tokenServerInterceptor(token)] })`.
 */
export function tokenServerInterceptor(token: string): grpc.ServerInterceptor {
  if (!token) throw new Error('tokenServerInterceptor: empty token; give the cluster token');
  return (_method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, mdNext) {
            const reason = checkTokenMetadata(metadata, token);
            if (reason) call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: reason });
            else mdNext(metadata);
          },
        });
      },
    });
}

/** A grpc-js client interceptor that adds the cluster token to every call. */
export function tokenClientInterceptor(token: string): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set(TOKEN_METADATA_KEY, token);
        next(metadata, listener);
      },
    });
}

/** Server credentials: TLS (client certificates required) when paths are given, else insecure (loopback use). */
export function serverCredentials(tls?: TlsPaths): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(readPem(tls.ca, 'tls.ca'), [{ cert_chain: readPem(tls.cert, 'tls.cert'), private_key: readPem(tls.key, 'tls.key') }], true);
}

/** Channel credentials matching {@link serverCredentials}. */
export function channelCredentials(tls?: TlsPaths): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(readPem(tls.ca, 'tls.ca'), readPem(tls.key, 'tls.key'), readPem(tls.cert, 'tls.cert'));
}

/** Mutual TLS for the runtime's bulk sockets, from the same PEM files as the gRPC credentials. */
export function bulkTls(tls: TlsPaths): { cert: Buffer; key: Buffer; ca: Buffer } {
  return { cert: readPem(tls.cert, 'tls.cert'), key: readPem(tls.key, 'tls.key'), ca: readPem(tls.ca, 'tls.ca') };
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`${what}: cannot read ${file} (${(err as Error).message}); point security.tls.${what.split('.')[1]} at a PEM file`);
  }
}
