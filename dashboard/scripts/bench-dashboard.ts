// Dashboard micro-benchmark: /metrics latency on a large in-memory cluster and SSE fan-out of training steps.
// Run: node --import tsx dashboard/scripts/bench-dashboard.ts
import { startDashboard, type ClusterSnapshot } from '@cohort/dashboard';
const nodes = Array.from({ length: 100 }, (_, i) => ({ id: `n${i}`, alive: true, state: 'alive' as const, labels: {}, resources: { total: { CPU: 16, GPU: 8 }, used: { CPU: 8, GPU: 8 }, free: { CPU: 8, GPU: 0 } }, gpus: Array.from({ length: 8 }, (_, g) => ({ index: g, holders: [`a${i}-${g}`] })) }));
const actors = nodes.flatMap((n, i) => Array.from({ length: 10 }, (_, k) => ({ id: `a${i}-${k}`, name: `a${i}-${k}`, className: 'Rollout', state: 'ALIVE' as const, node: n.id, restarts: 0, gpuIds: [k % 8] })));
const snap: ClusterSnapshot = { cluster: 'bench', head: null, nodes, actors, placementGroups: [], pending: [], time: 0 };
const dash = await startDashboard({ snapshot: async () => snap, actorLogs: async () => [] }, { port: 0 });
for (let i = 0; i < 1000; i++) dash.training.push('r', { step: i, reward: i, timings: { generate: 1, update: 1, total: 2 }, simulatorBatch: { mean: 1, max: 2 } });
// /metrics latency
const lat: number[] = [];
for (let i = 0; i < 50; i++) { const t0 = performance.now(); const body = await (await fetch(`${dash.url}/metrics`)).text(); lat.push(performance.now() - t0); if (i === 0) process.stdout.write(`metrics body ${body.length} bytes, ${body.split('\n').length} lines\n`); }
lat.sort((a, b) => a - b);
process.stdout.write(`GET /metrics (100 nodes, 800 GPUs, 1000 actors): median ${lat[25].toFixed(1)} ms, p90 ${lat[45].toFixed(1)} ms\n`);
// SSE fan-out: K clients, M steps
const K = 20, M = 2000;
let received = 0;
const readers = await Promise.all(Array.from({ length: K }, async () => {
  const res = await fetch(`${dash.url}/api/events`);
  const r = res.body!.getReader();
  void (async () => { for (;;) { const { value, done } = await r.read(); if (done) break; const s = Buffer.from(value).toString(); received += (s.match(/event: step/g) ?? []).length; } })();
  return r;
}));
while (dash.clients() < K) await new Promise((r) => setTimeout(r, 10));
await new Promise((r) => setTimeout(r, 300));
const t0 = performance.now();
for (let i = 0; i < M; i++) dash.training.push('live', { step: i, reward: Math.random(), timings: { generate: 1, update: 1, total: 2 } });
while (received < K * M) await new Promise((r) => setImmediate(r));
const ms = performance.now() - t0;
process.stdout.write(`SSE fan-out: ${M} steps to ${K} browsers in ${ms.toFixed(0)} ms = ${((K * M) / ms * 1000).toFixed(0)} step events/s\n`);
for (const r of readers) await r.cancel().catch(() => undefined);
await dash.close();
