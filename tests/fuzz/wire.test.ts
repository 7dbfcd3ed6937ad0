import test from 'ava';
import net from 'node:net';
import v8 from 'node:v8';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { Endpoint, encodeValue, decodeValue, makeFrame, type Channel } from '@cohort/runtime';
import { connectCluster, dataPlaneExtras, listeningAddresses, membershipSubjects, tokenClientInterceptor, DISCOVER_SUBJECT, actorEventSubject, logSubject } from '@cohort/cluster';
import { dashboardSubjects, trainingSubject } from '@cohort/dashboard';
import { decodeBatch, FrameKind } from '@cohort/protos';
import { FUZZ_CASES, FUZZ_SECONDS, FUZZ_SEED, OPS, Rng, forBudget, randomBatch, randomPayload, randomValue } from './helpers.js';
import { startFuzzCluster, type FuzzCluster } from './cluster.js';

// Junk, truncated and ill-typed traffic into a real cluster (nats-server, head, agent,
// worker: separate processes on loopback): every message gets a refusal or is dropped,
// every process survives, and the cluster serves calls afterwards. Seeded and bounded
// (COHORT_FUZZ_SEED, COHORT_FUZZ_CASES, COHORT_FUZZ_SECONDS).

let c: FuzzCluster;
test.before(async () => {
  c = await startFuzzCluster(`fuzz${process.pid}`);
});
test.after.always(async () => {
  await c?.stop();
});

const PATH = '/cohort.v1.DataPlane/Connect';
const identity = (b: Buffer) => b;

/** Still serving: every process alive, a call through the head's placement, the actor answering. */
async function stillServes(t: { deepEqual(a: unknown, b: unknown, m?: string): void; is(a: unknown, b: unknown, m?: string): void; true(a: boolean, m?: string): void }, what: string) {
  t.deepEqual(c.dead(), [], `${what}: every process survives`);
  t.is(await c.actor.noop(), 1, `${what}: the actor still answers`);
  const listed = await c.rt.listActors();
  t.true(listed.some((a) => a.name === `${c.config.clusterName}-target` && a.state === 'alive'), `${what}: the head still serves the directory`);
}

/** One raw gRPC stream: writes `msgs`, half-closes, and resolves with what came back. */
function rawStream(address: string, msgs: Uint8Array[], token: string | undefined): Promise<{ replies: Buffer[]; status?: grpc.StatusObject; error?: Error }> {
  return new Promise((resolve) => {
    const client = new grpc.Client(address, grpc.credentials.createInsecure(), token ? { interceptors: [tokenClientInterceptor(token)] } : {});
    const call = client.makeBidiStreamRequest(PATH, identity, identity);
    const replies: Buffer[] = [];
    let status: grpc.StatusObject | undefined;
    let error: Error | undefined;
    const timer = setTimeout(() => call.cancel(), 5000);
    call.on('data', (b: Buffer) => replies.push(b));
    call.on('error', (e) => (error = e));
    // the status is the stream's last word (an OK end, a refusal, or our cancel)
    call.on('status', (s) => {
      status = s;
      clearTimeout(timer);
      setImmediate(() => {
        client.close();
        resolve({ replies, status, error });
      });
    });
    for (const m of msgs) call.write(Buffer.from(m));
    call.end();
  });
}

test.serial('gRPC data plane: random and truncated batches, junk hellos and frames (unknown kinds, actor ids, payloads, bulk lengths) at head, agent and worker', async (t) => {
  const r = new Rng(FUZZ_SEED);
  const targets = Object.entries(c.addresses);
  t.log(`seed ${FUZZ_SEED}`);
  // without the token: every stream is refused before a byte of it is read
  for (const [who, address] of targets) {
    const out = await rawStream(address, [randomBatch(r)], undefined);
    t.is(out.status?.code, grpc.status.UNAUTHENTICATED, `${who}: tokenless stream refused`);
    t.regex(out.status?.details ?? '', /cluster token missing/);
  }
  const n = await forBudget(FUZZ_CASES, FUZZ_SECONDS, async (i) => {
    const [, address] = targets[i % targets.length];
    const msgs = Array.from({ length: r.between(1, 3) }, () => randomBatch(r));
    const out = await rawStream(address, msgs, c.token);
    // whatever came back must itself be well-formed (refusals are Error frames)
    for (const b of out.replies) t.notThrows(() => decodeBatch(b));
  });
  t.log(`${n} raw cases`);
  t.true(n > 0);
  // one message over the receive bound (maxMessageBytes + 1 MiB): refused by gRPC, nothing else breaks
  const huge = await rawStream(c.addresses.worker, [Buffer.alloc(66 << 20)], c.token);
  t.is(huge.status?.code, grpc.status.RESOURCE_EXHAUSTED);
  await stillServes(t, 'after raw gRPC junk');
});

test.serial('gRPC data plane: well-formed requests with ill-typed bodies and calls to unknown actors each get an error reply naming the problem', async (t) => {
  const r = new Rng(FUZZ_SEED + 1);
  const codec = {
    encode: (v: unknown, what: string) => encodeValue(v, { bulkThreshold: 64 * 1024, maxBytes: 1 << 26, what }),
    decode: (p: Uint8Array, s: boolean, b: Uint8Array[]) => decodeValue(p, s, b, { revive: (d) => d }),
  };
  const ep = await Endpoint.start({ logger: pino({ level: 'silent' }), codec, ...dataPlaneExtras({ token: c.token }) });
  t.teardown(() => ep.close());
  const targets = Object.entries(c.addresses);
  let errors = 0;
  let replies = 0;
  const within = <T>(p: Promise<T>, ms: number) => Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`no answer within ${ms} ms`)), ms))]);
  const n = await forBudget(FUZZ_CASES, FUZZ_SECONDS, async (i) => {
    const [who, address] = targets[i % targets.length];
    // requests that wait by design (waitAlive / waitPlacementGroup on an id) answer at once for unknown ids
    const op = r.pick(OPS.filter((o) => o !== 'agent.headAddress'));
    const body = r.next() < 0.5 ? randomValue(r) : Array.from({ length: r.between(0, 4) }, () => randomValue(r));
    try {
      await within(ep.request(address, op, body), 10_000);
      replies++;
    } catch (err) {
      const m = (err as Error).message;
      t.true(typeof m === 'string' && m.length > 0 && !/no answer within/.test(m), `${who} ${op}: ${m}`);
      errors++;
    }
    if (i % 5 === 0) {
      // a Call frame to an actor id this worker does not host, or a method it lacks
      const ch: Channel = ep.channelTo(c.addresses.worker);
      await ch.ready;
      const id = ch.nextId();
      const target = r.next() < 0.5 ? `no-such-actor-${r.between(0, 1e6)}` : c.actor.$id;
      const method = r.pick(['nope', 'constructor', '__proto__', 'then', r.string(12)]);
      const got = await within(
        new Promise<{ kind: number; payload: Uint8Array }>((resolve, reject) => {
          ch.pending.set(id, { onFrame: (f) => resolve(f), onClose: reject });
          ch.send(makeFrame(FrameKind.Call, id, target, method, randomPayload(r)));
        }),
        10_000,
      );
      t.is(got.kind, FrameKind.Error, `call ${target}.${method} refused`);
      const wire = v8.deserialize(got.payload) as { message?: string };
      t.regex(String(wire.message), /hosts actor|has no method|could not be decoded/);
    }
  });
  t.log(`${n} request cases: ${replies} answered, ${errors} refused with a message`);
  await stillServes(t, 'after ill-typed requests');
});

test.serial('bulk ports: junk, huge declared lengths, truncated and tokenless handshakes at every bulk port', async (t) => {
  const r = new Rng(FUZZ_SEED + 2);
  const grpcPorts = new Set(Object.values(c.addresses).map((a) => Number(a.slice(a.lastIndexOf(':') + 1))));
  const bulk: Array<[string, number]> = [];
  for (const [who, pid] of [['head', c.pids.head], ['agent', c.pids.agent], ['worker', c.pids.worker]] as const) {
    for (const a of listeningAddresses(pid)) {
      const port = Number(a.slice(a.lastIndexOf(':') + 1));
      if (!grpcPorts.has(port) && a.startsWith('127.')) bulk.push([who, port]);
    }
  }
  t.true(bulk.length >= 3, `bulk ports found: ${JSON.stringify(bulk)}`);
  const send = (port: number, bytes: Buffer) =>
    new Promise<void>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => s.end(bytes));
      s.on('data', () => undefined);
      s.on('error', () => resolve());
      s.on('close', () => resolve());
      setTimeout(() => s.destroy(), 3000);
    });
  const n = await forBudget(FUZZ_CASES, FUZZ_SECONDS, async (i) => {
    const [, port] = bulk[i % bulk.length];
    const len = Buffer.alloc(4);
    const body = Buffer.from(`${r.pick(['', 'abcd', r.string(20)])}\n${r.pick(['', 'wrong', c.token.slice(0, 5), r.string(30)])}`);
    len.writeUInt32LE(r.pick([body.length, r.between(0, 2 ** 32 - 1), 0]));
    const whole = Buffer.concat([len, body, r.next() < 0.3 ? r.bytes(r.between(1, 1000)) : Buffer.alloc(0)]);
    const bytes = r.pick([r.bytes(r.between(0, 64 << 10)), whole, whole.subarray(0, r.between(0, whole.length))]);
    await send(port, bytes);
  });
  t.log(`${n} bulk cases`);
  // the bulk path still carries a transfer between two actors
  const b = await c.rt.spawn((await import('@cohort/cluster/bench')).ClusterBenchTargetActor, []);
  await c.actor.make(100_000);
  t.is(await c.actor.sendTo(b), 100_000);
  await b.$kill();
  await stillServes(t, 'after bulk junk');
});

test.serial('NATS subjects the head serves: junk, ill-typed and oversized messages are dropped; discovery and status keep answering', async (t) => {
  const r = new Rng(FUZZ_SEED + 3);
  const cluster = c.config.clusterName;
  const nc = await connectCluster({ url: c.state.natsUrl, token: c.token, name: 'fuzz' });
  t.teardown(() => nc.close());
  const m = membershipSubjects(cluster);
  const d = dashboardSubjects(cluster);
  const subjects = [m.heartbeat(`fz${r.between(0, 99)}`), m.heartbeat('x'), m.leave('nosuchnode'), m.events, trainingSubject(cluster), logSubject(cluster), actorEventSubject(cluster), d.info, d.logs, DISCOVER_SUBJECT];
  const junk = (): Uint8Array => {
    switch (r.between(0, 4)) {
      case 0:
        return r.bytes(r.between(0, 4096));
      case 1:
        return Buffer.from(JSON.stringify(randomValue(r, 0), (_k, v) => (typeof v === 'bigint' ? Number(v) : v)) ?? 'null');
      case 2: // heartbeat-shaped, with wrong types and hostile sizes
        return Buffer.from(JSON.stringify({ nodeId: r.pick(['fz1', '', 'a'.repeat(5000), '../x']), resources: r.pick([{ CPU: -4 }, { CPU: 1e308 }, Object.fromEntries(Array.from({ length: 3000 }, (_, k) => [`r${k}`, 1])), 'x']), labels: { k: 'v'.repeat(r.between(0, 20000)) }, seq: r.pick([0, -1, 'a']), sentAt: Date.now(), address: r.pick(['127.0.0.1:1', 'x'.repeat(10000)]) }));
      case 3: // a training step with oversized and wrong fields
        return Buffer.from(JSON.stringify({ run: r.pick(['r1', '../../etc', 'r'.repeat(300), `run${r.between(0, 1e6)}`]), step: { step: r.pick([1, -1, 'x', 1e20]), reward: r.pick([0.5, 'x', null]), extra: 'y'.repeat(r.between(0, 50_000)) } }));
      default: // a log line with a huge message
        return Buffer.from(JSON.stringify({ actor: `a${r.between(0, 1e6)}`, msg: 'm'.repeat(r.between(0, 200_000)), level: 'info', time: Date.now() }));
    }
  };
  const n = await forBudget(FUZZ_CASES * 2, FUZZ_SECONDS, async (i) => {
    const subject = subjects[i % subjects.length];
    const data = junk();
    if (subject === DISCOVER_SUBJECT || subject === d.info || subject === d.logs) {
      try {
        await nc.request(subject, data, { timeout: 2000 });
      } catch {
        /* no answer to junk is a fine refusal; the head must still answer real ones below */
      }
    } else nc.publish(subject, data);
    if (i % 50 === 49) await nc.flush();
  });
  await nc.flush();
  t.log(`${n} NATS messages`);
  const info = JSON.parse(new TextDecoder().decode((await nc.request(DISCOVER_SUBJECT, '', { timeout: 5000 })).data)) as { cluster: string };
  t.is(info.cluster, cluster, 'discovery still answers');
  await new Promise((res) => setTimeout(res, 3500)); // fake nodes from well-formed heartbeats time out
  const nodes = (await c.rt.cp.listActors()).length;
  t.true(nodes >= 1);
  await stillServes(t, 'after NATS junk');
});
