import test from 'ava';
import net from 'node:net';
import { pino } from 'pino';
import { Endpoint, MessageTooLargeError, MAX_BULK_HELLO_BYTES, encodeValue, decodeValue } from '@cohort/runtime';

// The bulk port reads nothing but a bounded handshake before it authenticates:
// junk, silence, crowds and oversized attachments get a clear refusal and cost nothing.

const logger = pino({ level: 'silent' });
const codec = (maxBulkBytes?: number) => ({
  encode: (v: unknown, what: string) => encodeValue(v, { bulkThreshold: 64 * 1024, maxBytes: 1 << 26, maxBulkBytes, what }),
  decode: (p: Uint8Array, s: boolean, b: Uint8Array[]) => decodeValue(p, s, b, { revive: (d) => d }),
});

/** Connects to `port`, writes `bytes` (if any), and resolves with what came back once the server closed the socket. */
function probe(port: number, bytes?: Buffer, opts: { endAfterWrite?: boolean } = {}): Promise<{ reply: Buffer; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const got: Buffer[] = [];
    const s = net.connect({ port, host: '127.0.0.1' }, () => {
      if (bytes) s.write(bytes, () => opts.endAfterWrite && s.end());
    });
    s.on('data', (d) => got.push(d));
    s.on('error', () => {});
    s.on('close', () => resolve({ reply: Buffer.concat(got), ms: performance.now() - t0 }));
  });
}

/** The reason text of a refusal record (8 bytes of 0xff, u16 length, UTF-8). */
function refusalText(reply: Buffer): string {
  if (reply.length < 10 || reply.readUInt32LE(0) !== 0xffffffff || reply.readUInt32LE(4) !== 0xffffffff) return '';
  return reply.subarray(10, 10 + reply.readUInt16LE(8)).toString('utf8');
}

function hello(channelId: string, token: string, extra = Buffer.alloc(0)): Buffer {
  const body = Buffer.from(`${channelId}\n${token}`);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(body.length);
  return Buffer.concat([len, body, extra]);
}

test('junk on the bulk port is refused at its first four bytes; the endpoint keeps serving', async (t) => {
  const [a, b] = await Promise.all([Endpoint.start({ logger, codec: codec(), bulkToken: 'tok-123456' }), Endpoint.start({ logger, codec: codec(), bulkToken: 'tok-123456' })]);
  try {
    b.handle('size', (x) => (x as Float32Array).length);
    // a huge declared handshake length (what made the old reader buffer every following byte)
    const junk = Buffer.alloc(8 << 20, 0x41);
    junk.writeUInt32LE(0x7fffffff, 0);
    const r = await probe(b.bulkPort, junk);
    t.regex(refusalText(r.reply), new RegExp(`handshake of 2147483647 bytes declared; at most ${MAX_BULK_HELLO_BYTES}`));
    t.is(b.bulkServer.refused.oversize, 1);
    t.is(b.bulkServer.pending, 0, 'nothing left in handshake');
    t.is(await a.request(b.address, 'size', new Float32Array(100_000)), 100_000, 'bulk transfers still work');
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test('a wrong token, a malformed handshake and bytes after the handshake each get a refusal naming the problem', async (t) => {
  const ep = await Endpoint.start({ logger, codec: codec(), bulkToken: 'right-token' });
  try {
    t.regex(refusalText((await probe(ep.bulkPort, hello('abcd', 'wrong-token'))).reply), /wrong cluster token/);
    t.regex(refusalText((await probe(ep.bulkPort, hello('abcd', ''))).reply), /missing cluster token/);
    t.regex(refusalText((await probe(ep.bulkPort, hello('not hex!', 'right-token'))).reply), /malformed bulk handshake/);
    t.regex(refusalText((await probe(ep.bulkPort, hello('abcd', 'right-token', Buffer.from('more')))).reply), /bytes after the bulk handshake/);
    t.deepEqual({ ...ep.bulkServer.refused }, { busy: 0, deadline: 0, oversize: 0, token: 2, protocol: 2, tls: 0 });
  } finally {
    await ep.close();
  }
});

test('a connection that says nothing is closed at the handshake deadline; more than maxPending at once are refused at once', async (t) => {
  const ep = await Endpoint.start({ logger, codec: codec(), bulkToken: 'right-token', bulkLimits: { handshakeMs: 1500, maxPending: 4 } });
  try {
    const silent = Array.from({ length: 4 }, () => probe(ep.bulkPort));
    for (let i = 0; i < 100 && ep.bulkServer.pending < 4; i++) await new Promise((r) => setTimeout(r, 10));
    t.is(ep.bulkServer.pending, 4);
    const extra = await probe(ep.bulkPort);
    t.regex(refusalText(extra.reply), /too many bulk connections in their handshake \(4\)/);
    t.true(extra.ms < 1000, `refused at once (${extra.ms.toFixed(0)} ms)`);
    const done = await Promise.all(silent);
    for (const d of done) {
      t.regex(refusalText(d.reply), /no bulk handshake within 1500 ms/);
      t.true(d.ms >= 1400 && d.ms < 6000, `closed at the deadline (${d.ms.toFixed(0)} ms)`);
    }
    t.is(ep.bulkServer.pending, 0);
    t.is(ep.bulkServer.refused.deadline, 4);
    t.is(ep.bulkServer.refused.busy, 1);
  } finally {
    await ep.close();
  }
});

test('a peer with the wrong token learns why its bulk connection was refused', async (t) => {
  const [a, b] = await Promise.all([Endpoint.start({ logger, codec: codec(), bulkToken: 'token-aaaa' }), Endpoint.start({ logger, codec: codec(), bulkToken: 'token-bbbb' })]);
  try {
    b.handle('make', (n) => new Float32Array(n as number));
    await t.throwsAsync(a.request(b.address, 'make', 100_000), { message: /bulk connection to .* refused by the peer: wrong cluster token/ });
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test('attachments over maxBulkBytes: the sender refuses to encode them, a receiver refuses a bigger announced length', async (t) => {
  const limit = 1 << 20;
  const [small, big] = await Promise.all([
    Endpoint.start({ logger, codec: codec(limit), bulkLimits: { maxBulkBytes: limit } }),
    Endpoint.start({ logger, codec: codec() }), // a peer configured with a larger limit
  ]);
  try {
    small.handle('size', (x) => (x as Uint8Array).length);
    big.handle('make', (n) => new Uint8Array(n as number));
    t.is(await big.request(small.address, 'size', new Uint8Array(limit)), limit, 'at the limit: accepted');
    const err = await t.throwsAsync(async () => small.request(big.address, 'size', new Uint8Array(limit + 1)));
    t.true(err instanceof MessageTooLargeError);
    t.regex(err!.message, /over the 1048576-byte bulk limit.*maxBulkBytes/);
    await t.throwsAsync(small.request(big.address, 'make', limit + 1), { message: /announced a bulk attachment of 1048577 bytes, over this process's limit of 1048576 \(maxBulkBytes/ });
  } finally {
    await Promise.all([small.close(), big.close()]);
  }
});

test('a batch bigger than the receive bound is split by the sender; one frame over it is refused without killing the process', async (t) => {
  const maxBatchBytes = 256 * 1024;
  const [a, b] = await Promise.all([Endpoint.start({ logger, codec: codec(), maxBatchBytes }), Endpoint.start({ logger, codec: codec(), maxBatchBytes })]);
  try {
    b.handle('len', (x) => (x as string).length);
    // twenty 50 KB strings in one tick: 1 MB of frames, sent as several batches under 256 KiB
    const out = await Promise.all(Array.from({ length: 20 }, () => a.request(b.address, 'len', 'x'.repeat(50_000))));
    t.deepEqual(out, Array(20).fill(50_000));
    await t.throwsAsync(a.request(b.address, 'len', 'y'.repeat(400_000)), { message: /larger than max|RESOURCE_EXHAUSTED|closed|failed/i });
    // the process and the endpoint survive: a new channel works
    t.is(await a.request(b.address, 'len', 'ok'), 2);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});
