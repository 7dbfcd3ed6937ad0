import type { Logger } from 'pino';
import { CorpusSearchEngine, RetrieverSearchEngine, type Dataset, type SearchEngine } from '@cohort/zerosearch';
import type { TrainConfig } from '../config/schema.js';

/**
 * The real search engine evaluation uses (`eval.engine`): BM25 over the
 * world's corpus, or a Search-R1 retrieval server (`eval.retriever`), probed
 * with one query here so a wrong url or a down server fails before training,
 * not at the first evaluation. Documents per search: `rollout.topk`.
 */
export async function openEvalEngine(config: TrainConfig, ds: Dataset, logger?: Logger): Promise<SearchEngine> {
  const e = config.eval;
  if (e.engine === 'retriever') {
    if (!e.retriever) throw new Error('eval.engine retriever needs eval.retriever.url');
    const engine = new RetrieverSearchEngine({ ...e.retriever, topk: config.rollout.topk }, logger);
    try {
      await engine.probe();
    } catch (err) {
      throw new Error(`eval.retriever: ${(err as Error).message}`);
    }
    return engine;
  }
  return new CorpusSearchEngine(ds.corpus, { topk: config.rollout.topk });
}
