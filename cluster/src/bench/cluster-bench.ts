import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { init, type ActorHandle, type Runtime } from '@cohort/runtime';
import { startClusterNode, type ClusterNode } from '../agent-service.js';
import { connect } from '../connect.js';
import { startClusterHead, type ClusterHeadService } from '../head-service.js';
import { startNatsServer, type NatsServerHandle } from '../nats-server.js';
import { ClusterBenchTargetActor, type ClusterBenchTarget } from './bench-actors.js';

/** Figures of `cohort bench cluster` (per second unless named otherwise). */
export interface ClusterBenchResult {
  /** Sequential calls from the driver to an actor on a node agent. */
  cluster_actor_calls_sync_per_s: number;
  /** Calls with `inFlight` outstanding. */
  cluster_actor_calls_async_per_s: number;
  /** Driver → 2 actors on each of the 2 nodes, all in flight together. */
  cluster_one_n_actor_calls_async_per_s: number;
  /** Actor on node 1 → actor on node 2, a Float32Array of `transfer_bytes`. */
  cluster_transfer_gb_per_s: number;
  /** 2-bundle SPREAD placement group: create + ready + remove. */
  cluster_placement_groups_per_s: number;
  /** `actors` small actors (`process: 'shared'`, spread over the 2 nodes) spawned at once until all answer a call. */
  cluster_actors_started_per_s: number;
  /** Same run, the old path: `cold_actors` actors in their own fresh worker process each (pool off), at once until all answer. */
  cluster_cold_process_actors_started_per_s: number;
  /** Shared-process start rate over the cold-process one. */
  shared_vs_cold_process_start: number;
  /** One dedicated actor, spawn until it answers (median of 3): a prestarted pooled worker vs a fresh process. */
  pooled_actor_start_ms: number;
  cold_actor_start_ms: number;
  /** Control plane only: 1,000 createActor requests (scheduled into the queue, no worker started). */
  control_plane_actor_requests_per_s: number;
  /** Same run, local mode (`init()`): the floors the cluster path is compared with. */
  local_actor_calls_sync_per_s: number;
  local_actor_calls_async_per_s: number;
  cluster_sync_vs_local: number;
  cluster_async_vs_local: number;
  params: { actors: number; cold_actors: number; shared_actors_per_process: number; in_flight: number; transfer_bytes: number; requests: number; nodes: number };
}

export interface ClusterBenchOptions {
  /** Small actors for the start-rate figure (`process: 'shared'`). Default 1000. */
  actors?: number;
  /** Actors for the same-run cold-process baseline (each a fresh worker process). Default 8. */
  coldActors?: number;
  /** Actors per shared worker process. Default 250. */
  sharedActorsPerProcess?: number;
  /** Bytes moved actor-to-actor across nodes. Default 64 MiB. */
  transferBytes?: number;
  /** Scales iteration counts. */
  scale?: number;
  progress?: (line: string) => void;
}

async function rate(ops: number, fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return ops / ((performance.now() - t0) / 1000);
}

async function callRates(rt: Runtime, h: ActorHandle<ClusterBenchTarget>, sync: number, inFlight: number, rounds: number): Promise<[number, number]> {
  await h.noop();
  const s = await rate(sync, async () => {
    for (let i = 0; i < sync; i++) await h.noop();
  });
  const a = await rate(inFlight * rounds, async () => {
    for (let r = 0; r < rounds; r++) await rt.get(Array.from({ length: inFlight }, () => h.noop()));
  });
  return [s, a];
}

/**
 * The cluster benchmark: a real nats-server, a head and two node agents on
 * this machine, a driver attached with `connect()`; the same-run local-mode
 * figures beside them.
 */
export async function runClusterBench(o: ClusterBenchOptions = {}): Promise<ClusterBenchResult> {
  const say = o.progress ?? (() => undefined);
  const s = o.scale ?? 1;
  const n = (k: number) => Math.max(1, Math.round(k * s));
  const actors = o.actors ?? 1000;
  const coldActors = o.coldActors ?? 8;
  const perProcess = o.sharedActorsPerProcess ?? 250;
  const transferBytes = o.transferBytes ?? 64 * 1024 * 1024;
  const inFlight = 1000;
  const requests = 1000;
  const token = `bench-${process.pid}-${Date.now()}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-bench-cluster-'));
  let nats: NatsServerHandle | undefined;
  let head: ClusterHeadService | undefined;
  const nodes: ClusterNode[] = [];
  let rt: Runtime | undefined;
  let local: Runtime | undefined;
  try {
    say('local mode baseline (init)');
    local = await init({ logLevel: 'warn', resources: { CPU: 8 } });
    const lh = await local.spawn(ClusterBenchTargetActor, []);
    const [localSync, localAsync] = await callRates(local, lh, n(2000), inFlight, n(10));
    await local.shutdown();
    local = undefined;

    say('starting nats-server, head and 2 node agents (+ 1 with the worker pool off, for the cold-process baseline)');
    nats = await startNatsServer({ dir: path.join(dir, 'nats'), token });
    head = await startClusterHead({ cluster: 'bench', natsUrl: nats.url, auth: { token }, heartbeatMs: 500, timeoutMs: 5000 });
    for (const id of ['bench-node-1', 'bench-node-2']) {
      nodes.push(await startClusterNode({ address: nats.url, auth: { token }, nodeId: id, resources: { CPU: 1000 + actors, GPU: 0 }, heartbeatMs: 500, workerPool: { prestart: 2, sharedActorsPerProcess: perProcess } }));
    }
    // The cold node offers only `bench_cold` slots, so nothing else lands there.
    nodes.push(await startClusterNode({ address: nats.url, auth: { token }, nodeId: 'bench-cold', resources: { CPU: 0, GPU: 0, bench_cold: 1000 }, heartbeatMs: 500, workerPool: { prestart: 0 } }));
    const end = Date.now() + 15_000;
    while (head.controlPlane.nodeIds().length < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    rt = await connect(nats.url, { token, runtime: { logLevel: 'warn' } });
    const r = rt;
    const on = (node: string) => ({ nodeAffinity: { nodeId: node }, resources: { CPU: 1 } });

    say('1:1 calls driver → actor on a node agent');
    const h1 = await r.spawn(ClusterBenchTargetActor, [], on('bench-node-1'));
    const [sync, async_] = await callRates(r, h1, n(2000), inFlight, n(10));

    say('1:n calls to 4 actors on 2 nodes');
    const targets = await Promise.all([1, 2, 1, 2].map((k) => r.spawn(ClusterBenchTargetActor, [], on(`bench-node-${k}`))));
    await Promise.all(targets.map((t) => t.noop()));
    const perTarget = Math.floor(inFlight / targets.length);
    const oneN = await rate(perTarget * targets.length * n(10), async () => {
      for (let k = 0; k < n(10); k++) await r.get(targets.flatMap((t) => Array.from({ length: perTarget }, () => t.noop())));
    });

    say(`actor → actor transfer across nodes (${(transferBytes / 2 ** 20).toFixed(0)} MiB Float32Array)`);
    const src = targets[0];
    const dst = targets[1];
    await src.make(transferBytes / 4);
    await src.sendTo(dst);
    const rounds = n(4);
    const transfer = await rate(rounds, async () => {
      for (let i = 0; i < rounds; i++) await src.sendTo(dst);
    });

    say('placement groups create + ready + remove');
    const pgs = n(50);
    const pg = await rate(pgs, async () => {
      for (let i = 0; i < pgs; i++) {
        const g = await r.createPlacementGroup({ bundles: [{ CPU: 1 }, { CPU: 1 }], strategy: 'SPREAD' });
        await g.ready();
        await g.remove();
      }
    });

    say('one dedicated actor, spawn until it answers: pooled worker vs fresh process (3 each)');
    const startMs = async (opts: Parameters<Runtime['spawn']>[2]): Promise<number> => {
      const ms: number[] = [];
      for (let i = 0; i < 3; i++) {
        await new Promise((res) => setTimeout(res, 1500)); // the pool refills in the background meanwhile
        const t0 = performance.now();
        const h = await r.spawn(ClusterBenchTargetActor, [], opts);
        await h.noop();
        ms.push(performance.now() - t0);
        await h.$kill();
      }
      return ms.sort((a, b) => a - b)[1];
    };
    const pooledMs = await startMs(on('bench-node-1'));
    const coldMs = await startMs({ resources: { custom: { bench_cold: 1 } } });

    say(`${coldActors} actors at once, each in a fresh worker process (the old path) until all answer`);
    const cold: ActorHandle<ClusterBenchTarget>[] = [];
    const coldRate = await rate(coldActors, async () => {
      const hs = await Promise.all(Array.from({ length: coldActors }, () => r.spawn(ClusterBenchTargetActor, [], { resources: { custom: { bench_cold: 1 } } })));
      cold.push(...hs);
      await Promise.all(hs.map((h) => h.noop()));
    });
    await Promise.all(cold.map((h) => h.$kill()));

    say(`${actors} small actors at once (process: 'shared', ${perProcess} per worker process) until all answer`);
    const many: ActorHandle<ClusterBenchTarget>[] = [];
    const started = await rate(actors, async () => {
      const hs = await Promise.all(Array.from({ length: actors }, () => r.spawn(ClusterBenchTargetActor, [], { resources: { CPU: 1 }, spread: true, process: 'shared' })));
      many.push(...hs);
      await Promise.all(hs.map((h) => h.noop()));
    });
    await Promise.all(many.map((h) => h.$kill()));

    say(`${requests} createActor requests through the control plane (queued: no node has the resource)`);
    const queued: ActorHandle<ClusterBenchTarget>[] = [];
    const cpRate = await rate(requests, async () => {
      const hs = await Promise.all(Array.from({ length: requests }, () => r.spawn(ClusterBenchTargetActor, [], { resources: { custom: { bench_slot: 1 } } })));
      queued.push(...hs);
    });
    await Promise.all(queued.map((h) => h.$kill()));

    return {
      cluster_actor_calls_sync_per_s: Math.round(sync),
      cluster_actor_calls_async_per_s: Math.round(async_),
      cluster_one_n_actor_calls_async_per_s: Math.round(oneN),
      cluster_transfer_gb_per_s: +((transfer * transferBytes) / 1e9).toFixed(3),
      cluster_placement_groups_per_s: Math.round(pg),
      cluster_actors_started_per_s: +started.toFixed(2),
      cluster_cold_process_actors_started_per_s: +coldRate.toFixed(2),
      shared_vs_cold_process_start: +(started / coldRate).toFixed(1),
      pooled_actor_start_ms: Math.round(pooledMs),
      cold_actor_start_ms: Math.round(coldMs),
      control_plane_actor_requests_per_s: Math.round(cpRate),
      local_actor_calls_sync_per_s: Math.round(localSync),
      local_actor_calls_async_per_s: Math.round(localAsync),
      cluster_sync_vs_local: +(sync / localSync).toFixed(3),
      cluster_async_vs_local: +(async_ / localAsync).toFixed(3),
      params: { actors, cold_actors: coldActors, shared_actors_per_process: perProcess, in_flight: inFlight, transfer_bytes: transferBytes, requests, nodes: 2 },
    };
  } finally {
    await local?.shutdown().catch(() => undefined);
    await rt?.shutdown().catch(() => undefined);
    for (const nd of nodes) await nd.stop().catch(() => undefined);
    await head?.stop({ killActors: true }).catch(() => undefined);
    await nats?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
