import test from 'ava';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { tokenServerInterceptor, tokenClientInterceptor, serverCredentials, channelCredentials, type TlsPaths } from '@cohort/cluster';
import { tempDir } from './helpers/nats.js';

// A one-method echo service defined without a .proto (raw Buffers).
const service: grpc.ServiceDefinition = {
  echo: {
    path: '/cohort.test.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  },
};
const Client = grpc.makeGenericClientConstructor(service, 'Echo');

async function serve(t: import('ava').ExecutionContext, token: string, tls?: TlsPaths): Promise<number> {
  const server = new grpc.Server({ interceptors: [tokenServerInterceptor(token)] });
  server.addService(service, { echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.concat([Buffer.from('echo:'), call.request])) });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', serverCredentials(tls), (e, p) => (e ? reject(e) : resolve(p))));
  t.teardown(() => new Promise<void>((r) => server.tryShutdown(() => r())));
  return port;
}

function call(c: grpc.Client): Promise<Buffer> {
  return new Promise((resolve, reject) => (c as unknown as { echo: (b: Buffer, cb: (e: grpc.ServiceError | null, r: Buffer) => void) => void }).echo(Buffer.from('hi'), (e, r) => (e ? reject(e) : resolve(r))));
}

test('gRPC calls without the cluster token, or with a wrong one, are refused with UNAUTHENTICATED and a clear message', async (t) => {
  const port = await serve(t, 'grpc-token-123');
  const addr = `127.0.0.1:${port}`;
  const bare = new Client(addr, channelCredentials());
  const wrong = new Client(addr, channelCredentials(), { interceptors: [tokenClientInterceptor('not-the-token')] });
  const good = new Client(addr, channelCredentials(), { interceptors: [tokenClientInterceptor('grpc-token-123')] });
  t.teardown(() => [bare, wrong, good].forEach((c) => c.close()));
  const e1 = (await t.throwsAsync(call(bare))) as unknown as grpc.ServiceError;
  t.is(e1.code, grpc.status.UNAUTHENTICATED);
  t.regex(e1.details, /cluster token missing/);
  const e2 = (await t.throwsAsync(call(wrong))) as unknown as grpc.ServiceError;
  t.is(e2.code, grpc.status.UNAUTHENTICATED);
  t.regex(e2.details, /token rejected/);
  t.is((await call(good)).toString(), 'echo:hi');
});

test('gRPC over mutual TLS: a client with the CA-signed cert and the token gets through; one without a cert is refused', async (t) => {
  const dir = tempDir(t);
  const sh = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  sh(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=cohort-test-ca']);
  for (const who of ['server', 'client']) {
    sh(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', '/CN=localhost']);
    execFileSync('sh', ['-c', `printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > ext.cnf && openssl x509 -req -in ${who}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out ${who}.pem -days 1 -extfile ext.cnf`], { cwd: dir, stdio: 'ignore' });
  }
  const p = (f: string) => path.join(dir, f);
  const port = await serve(t, 'tls-token-123', { cert: p('server.pem'), key: p('server.key'), ca: p('ca.pem') });
  const opts = { interceptors: [tokenClientInterceptor('tls-token-123')], 'grpc.ssl_target_name_override': 'localhost' };
  const good = new Client(`127.0.0.1:${port}`, channelCredentials({ cert: p('client.pem'), key: p('client.key'), ca: p('ca.pem') }), opts);
  const plain = new Client(`127.0.0.1:${port}`, channelCredentials(), { interceptors: [tokenClientInterceptor('tls-token-123')] });
  t.teardown(() => [good, plain].forEach((c) => c.close()));
  t.is((await call(good)).toString(), 'echo:hi');
  const e = (await t.throwsAsync(call(plain))) as unknown as grpc.ServiceError;
  t.is(e.code, grpc.status.UNAVAILABLE);
});

test('a missing TLS file is named with the config key to fix', (t) => {
  t.throws(() => serverCredentials({ cert: '/nonexistent/c.pem', key: '/nonexistent/k.pem', ca: '/nonexistent/ca.pem' }), { message: /\/nonexistent\/ca\.pem.*security\.tls\.ca/ });
});
