import test from 'ava';
import { pino } from 'pino';
import { Endpoint, encodeValue, decodeValue } from '@cohort/runtime';

const logger = pino({ level: 'silent' });
const codec = {
  encode: (v: unknown, what: string) => encodeValue(v, { bulkThreshold: 64 * 1024, maxBytes: 1 << 26, what }),
  decode: (p: Uint8Array, s: boolean, b: Uint8Array[]) => decodeValue(p, s, b, { revive: (d) => d }),
};

test('requests over one channel keep their order when large (bulk) and small payloads interleave', async (t) => {
  const [a, b] = await Promise.all([Endpoint.start({ logger, codec }), Endpoint.start({ logger, codec })]);
  try {
    const seen: number[] = [];
    b.handle('echo', (body) => {
      const { i, data } = body as { i: number; data?: Float32Array };
      seen.push(i);
      return { i, len: data?.length ?? 0, last: data ? data[data.length - 1] : -1 };
    });
    const calls = [];
    for (let i = 0; i < 12; i++) {
      const data = i % 3 === 0 ? new Float32Array(300_000 + i).fill(i) : undefined;
      calls.push(a.request(b.address, 'echo', { i, data }));
    }
    const out = (await Promise.all(calls)) as Array<{ i: number; len: number; last: number }>;
    t.deepEqual(seen, [...Array(12).keys()], 'delivered in send order');
    t.deepEqual(out.map((o) => o.i), [...Array(12).keys()]);
    t.is(out[9].len, 300_009);
    t.is(out[9].last, 9);
    // The reverse direction reuses the same channel (b never dials a).
    a.handle('ping', () => 'pong');
    t.is(await b.request(a.address, 'ping', null), 'pong');
    const e = await t.throwsAsync(a.request(b.address, 'nope', null));
    t.regex(e!.message, /unknown request "nope"/);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test('a closed peer fails pending requests', async (t) => {
  const [a, b] = await Promise.all([Endpoint.start({ logger, codec }), Endpoint.start({ logger, codec })]);
  b.handle('never', () => new Promise(() => {}));
  const p = a.request(b.address, 'never', 1);
  await new Promise((r) => setTimeout(r, 100));
  await b.close();
  await t.throwsAsync(p);
  await a.close();
});

test('two processes dialing each other at once get two working channels, bulk included', async (t) => {
  const [a, b] = await Promise.all([Endpoint.start({ logger, codec }), Endpoint.start({ logger, codec })]);
  try {
    const size = (body: unknown) => (body as Float32Array).length;
    a.handle('size', size);
    b.handle('size', size);
    const big = new Float32Array(200_000).fill(1);
    const out = await Promise.all([a.request(b.address, 'size', big), b.request(a.address, 'size', big), a.request(b.address, 'size', big.subarray(7)), b.request(a.address, 'size', big.subarray(9))]);
    t.deepEqual(out, [200_000, 200_000, 199_993, 199_991]);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test('an endpoint can bind a fixed gRPC port (a cluster head does)', async (t) => {
  const net = await import('node:net');
  const free = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as import('node:net').AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const ep = await Endpoint.start({ logger, codec, port: free });
  try {
    t.is(ep.address, `127.0.0.1:${free}`);
  } finally {
    await ep.close();
  }
});

test('bulk sockets present a token when one is configured; a peer without it is refused', async (t) => {
  const [a, b, stranger] = await Promise.all([
    Endpoint.start({ logger, codec, bulkToken: 's3cret' }),
    Endpoint.start({ logger, codec, bulkToken: 's3cret', advertiseHost: 'localhost' }),
    Endpoint.start({ logger, codec }),
  ]);
  try {
    t.regex(b.address, /^localhost:\d+$/, 'the advertised host is used in the address');
    b.handle('size', (body) => (body as Float32Array).length);
    b.handle('make', (n) => new Float32Array(n as number));
    t.is(await a.request(b.address, 'size', new Float32Array(100_000)), 100_000);
    t.is(((await a.request(b.address, 'make', 100_000)) as Float32Array).length, 100_000);
    // b never sends bulk bytes to a process that did not present the token.
    await t.throwsAsync(stranger.request(b.address, 'make', 100_000), { message: /bulk connection/ });
  } finally {
    await Promise.all([a.close(), b.close(), stranger.close()]);
  }
});

test('bulk receive buffers come from a pool: a released one is reused, held ones are never lent again, contents stay intact', async (t) => {
  const [a, b] = await Promise.all([Endpoint.start({ logger, codec }), Endpoint.start({ logger, codec })]);
  try {
    const held: Float32Array[] = [];
    b.handle('keep', (body) => {
      held.push(body as Float32Array);
      return held.length;
    });
    const n = 50_000; // 200 KB: bulk path
    const send = (v: number) => a.request(b.address, 'keep', new Float32Array(n).fill(v));
    await Promise.all([send(1), send(2), send(3)]);
    t.is(b.bulkPool.reused, 0, 'nothing released yet: fresh buffers');
    t.true(b.bulkPool.release(held[0]));
    t.false(b.bulkPool.release(held[0]), 'a second release of the same buffer is refused');
    t.false(b.bulkPool.release(new Float32Array(n)), 'a buffer the pool did not lend is refused');
    const firstBuffer = held[0].buffer;
    await Promise.all([send(4), send(5), send(6)]);
    t.is(b.bulkPool.reused, 1, 'one buffer was free: one reuse');
    t.is(held[3].buffer, firstBuffer, 'the next attachment of that size is read into the released buffer');
    t.is(new Set(held.slice(1).map((x) => x.buffer)).size, 5, 'held buffers are distinct: none lent to two messages');
    for (const [i, x] of held.slice(1).entries()) t.true(x.every((v) => v === i + 2), `message ${i + 2} intact`);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});
