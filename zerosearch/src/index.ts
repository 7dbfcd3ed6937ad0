/**
 * @cohort/zerosearch — the ZeroSearch environment: a seeded world and its data,
 * the policy template and multi-turn state machine, rewards, search engines
 * (BM25 corpus, simulation LLM, SerpAPI-shaped HTTP, the Search-R1 retrieval
 * API as client and server), the curriculum, an OpenAI-compatible client and
 * server for simulator backends, parquet and streamed corpus readers.
 */
export { makeWorld, World, WorldConfigSchema, WORLD_SIZES, ATTRIBUTE_RELATIONS, PROFESSIONS, INDUSTRIES } from './world.js';
export { lookalikeWord, mostHeldOut } from './world.js';
export type { Entity, EntityKind, Fact, Relation, Split, WorldConfig } from './world.js';
export { makeCorpus, factSentence } from './corpus.js';
export type { Doc, CorpusOptions } from './corpus.js';
export { allQuestions, makeSplits, answersFor } from './questions.js';
export type { QAItem, HopStep, SplitOptions, Splits } from './questions.js';
export { makeDataset, writeDataset, toQARow, readJsonl, loadCorpus, loadWorld, DATASET_FILES, DATASET_SIZES, DatasetConfigSchema } from './dataset.js';
export type { Dataset, DatasetConfig, SimPair, Demonstration } from './dataset.js';
export { writeQAParquet, readQAParquet, questionFromPrompt } from './parquet.js';
export { openParquet, parquetRowGroups, PARQUET_COMPRESSORS } from './parquet-read.js';
export type { ParquetFile } from './parquet-read.js';
export type { QARow } from './parquet.js';
export { qaItemFromRow, readQAItems } from './parquet-world.js';
export { readCorpusFile, streamCorpus, textLines, docFromRow, jsonlDoc, lineText, MAX_CORPUS_LINE_BYTES } from './corpus-file.js';
export type { TextLine } from './corpus-file.js';
export { policyInstruction, cutAtAction, parseAction, formatDocs, formatObservation, extractAnswer, ACTION_STOPS, CORRECTIVE_MESSAGE, NO_INFORMATION, ZEROSEARCH_TAGS } from './template.js';
export type { ParsedAction } from './template.js';
export { RolloutState } from './rollout-state.js';
export type { RolloutSample, RolloutOptions, RolloutAction, Segment } from './rollout-state.js';
export { runRollouts, summarizeRollouts } from './rollout-loop.js';
export type { RolloutItem, RolloutDriver, RolloutLoopStats, RolloutSummary } from './rollout-loop.js';
export { normalizeAnswer, f1Score, exactMatch, coverExactMatch, scoreAnswer } from './rewards.js';
export type { AnswerScores } from './rewards.js';
export { truncateTokens, WhitespaceTokenizer } from './tokenizer.js';
export type { TextTokenizer } from './tokenizer.js';
export { SearchRequestSchema, validateRequests } from './search-engine.js';
export type { SearchEngine, SearchRequest, SearchResult, SearchMode } from './search-engine.js';
export { Bm25Index, Bm25Builder, analyze } from './bm25.js';
export type { Bm25Options, Bm25Hit } from './bm25.js';
export { CorpusSearchEngine } from './corpus-engine.js';
export type { CorpusEngineOptions } from './corpus-engine.js';
export { SimulatorSearchEngine } from './simulator-engine.js';
export type { SimulatorEngineOptions, SimulatorMetrics } from './simulator-engine.js';
export { simulatorPrompt, parseSimulatorPrompt, processSimulatorOutput, simulatorFormatOk, SIMULATOR_STOP } from './simulator-prompt.js';
export type { SimulatorStyle, SimulatorPromptInput, ParsedSimulatorPrompt } from './simulator-prompt.js';
export { WorldSimulator, guessRelation } from './world-simulator.js';
export type { WorldSimulatorOptions } from './world-simulator.js';
export { HttpSearchEngine, HttpEngineOptionsSchema } from './http-engine.js';
export { RetrieverSearchEngine, RetrieverEngineOptionsSchema, RetrieverUnavailableError } from './retriever-engine.js';
export type { RetrieverEngineOptions } from './retriever-engine.js';
export { startRetrieverServer } from './retriever-server.js';
export type { RetrieverServer, RetrieverServerOptions, ScoredRetriever } from './retriever-server.js';
export { JsonlCorpusIndex } from './jsonl-corpus-index.js';
export { RetrieveRequestSchema, RetrieveResponseSchema, wikiContents } from './retriever-api.js';
export type { RetrieveRequest, RetrieveResponse } from './retriever-api.js';
export { requestJson, RetryPolicySchema, RetriesExhaustedError, HttpStatusError, describeFetchError } from './http-retry.js';
export type { RetryPolicy, RetryMetrics } from './http-retry.js';
export type { HttpEngineOptions } from './http-engine.js';
export { curriculumNoiseP, Curriculum, CurriculumSchema, type CurriculumConfig, type CurriculumInput } from './curriculum.js';
export { applyStops } from './text-generator.js';
export type { TextGenerator, GenerateOptions } from './text-generator.js';
export { OpenAIClient, OpenAIClientOptionsSchema, SimulatorUnavailableError } from './openai-client.js';
export type { OpenAIClientOptions, ClientMetrics } from './openai-client.js';
export { startOpenAIServer, renderChat } from './openai-server.js';
export type { OpenAIServer, OpenAIServerOptions } from './openai-server.js';
export { OraclePolicy } from './oracle-policy.js';
export { FIDELITY_TARGETS, fidelityCheck, simulatorEval } from './fidelity.js';
export type { FidelityReport, FidelityOptions, SimulatorEvalReport } from './fidelity.js';
export { LocalModelGenerator, tuneSimulator, readTuneReport, simulatorConfigHash, TuneOptionsSchema } from './local-simulator.js';
export { answerSwaps, queryParts, type SwappedPair } from './sim-augment.js';
export type { TuneHooks, TuneOptions, TuneReport } from './local-simulator.js';
export { SIMULATOR_FILES, SimulatorManifestSchema, readSimulatorManifest, verifySimulatorManifest, writeSimulatorManifest } from './simulator-manifest.js';
export type { SimulatorManifest } from './simulator-manifest.js';
