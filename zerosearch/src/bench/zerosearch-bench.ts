import { analyze, Bm25Index } from '../bm25.js';
import { makeDataset } from '../dataset.js';
import { OpenAIClient } from '../openai-client.js';
import { startOpenAIServer } from '../openai-server.js';
import { simulatorPrompt } from '../simulator-prompt.js';
import { WorldSimulator } from '../world-simulator.js';

/** Figures of `cohort bench zerosearch`. */
export interface ZeroSearchBench {
  readonly documents: number;
  readonly queries: number;
  readonly dataMakeMs: number;
  /** Share of hop queries whose top-5 holds a document stating the hop's fact. */
  readonly recallAt5: number;
  /** BM25 over the inverted index. */
  readonly indexQps: number;
  /** Same scores by scanning every document (same-run baseline). */
  readonly scanQps: number;
  readonly indexVsScan: number;
  /** Simulator requests through the OpenAI server, one at a time. */
  readonly serverSequentialRps: number;
  /** The same requests, 32 in flight (server batches them). */
  readonly serverConcurrentRps: number;
  readonly concurrentVsSequential: number;
}

function scanSearch(docs: string[][], query: string, k: number, k1: number, b: number): number[] {
  const n = docs.length;
  const avg = docs.reduce((a, d) => a + d.length, 0) / n;
  const terms = [...new Set(analyze(query))];
  const df = terms.map((t) => docs.filter((d) => d.includes(t)).length);
  const scores: [number, number][] = [];
  docs.forEach((d, i) => {
    let s = 0;
    terms.forEach((t, j) => {
      let tf = 0;
      for (const w of d) if (w === t) tf++;
      if (!tf) return;
      const idf = Math.log(1 + (n - df[j] + 0.5) / (df[j] + 0.5));
      s += (idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * d.length) / avg));
    });
    if (s > 0) scores.push([i, s]);
  });
  return scores.sort((x, y) => y[1] - x[1] || x[0] - y[0]).slice(0, k).map((x) => x[0]);
}

/** Measures search and simulator-serving throughput on a made world (ratios are vs same-run baselines). */
export async function benchZeroSearch(opts: { size?: string; queries?: number; requests?: number } = {}): Promise<ZeroSearchBench> {
  const t0 = performance.now();
  const ds = makeDataset({ size: opts.size ?? 'large', seed: 1 });
  const dataMakeMs = performance.now() - t0;
  const texts = ds.corpus.map((d) => `${d.title} ${d.text}`);
  const hops = [...ds.train, ...ds.test].flatMap((q) => q.steps).slice(0, opts.queries ?? 400);
  const queries = hops.map((s) => s.query);
  const index = new Bm25Index(texts);
  let t = performance.now();
  const fast = queries.map((q) => index.search(q, 5).map((h) => h.doc));
  const indexMs = performance.now() - t;
  const recallAt5 = hops.filter((h, i) => fast[i].some((d) => ds.corpus[d].facts.includes(h.fact))).length / hops.length;
  const tokenized = texts.map((x) => analyze(x));
  const scanN = Math.min(queries.length, 100);
  t = performance.now();
  const slow = queries.slice(0, scanN).map((q) => scanSearch(tokenized, q, 5, index.k1, index.b));
  const scanMs = performance.now() - t;
  slow.forEach((s, i) => {
    if (s.join() !== fast[i].join()) throw new Error(`BM25 index and scan disagree on "${queries[i]}"`);
  });

  const sim = new WorldSimulator(ds.world, {}, ds.corpus);
  const server = await startOpenAIServer({ generator: sim });
  try {
    const client = new OpenAIClient({ addresses: [server.url], maxRetries: 0, concurrency: 32 });
    const prompts = ds.test.slice(0, opts.requests ?? 128).map((q) => simulatorPrompt({ query: q.steps[0].query, mode: 'useful', question: q.question, goldenAnswers: q.goldenAnswers }));
    const g = { maxTokens: 600, temperature: 0.8 };
    t = performance.now();
    for (const p of prompts) await client.generate([p], g);
    const seqMs = performance.now() - t;
    t = performance.now();
    await client.generate(prompts, g);
    const concMs = performance.now() - t;
    const indexQps = queries.length / (indexMs / 1000);
    const scanQps = scanN / (scanMs / 1000);
    const serverSequentialRps = prompts.length / (seqMs / 1000);
    const serverConcurrentRps = prompts.length / (concMs / 1000);
    return {
      documents: texts.length,
      queries: queries.length,
      dataMakeMs,
      recallAt5,
      indexQps,
      scanQps,
      indexVsScan: indexQps / scanQps,
      serverSequentialRps,
      serverConcurrentRps,
      concurrentVsSequential: serverConcurrentRps / serverSequentialRps,
    };
  } finally {
    await server.close();
  }
}
