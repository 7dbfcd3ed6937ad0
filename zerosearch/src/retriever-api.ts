import { z } from 'zod';

/**
 * The Search-R1 retrieval server API (`retrieval_server.py`: e5 + FAISS over
 * wiki-18, as ZeroSearch evaluates with), spoken by the `retriever` engine and
 * served by `cohort search serve`:
 *
 *   POST /retrieve  {"queries": ["..."], "topk": 3, "return_scores": true}
 *   → {"result": [[{"document": {"id": "...", "contents": "\"Title\"\ntext"}, "score": 0.8}, ...], ...]}
 *
 * One result list per query, in order; without `return_scores` each entry is
 * the document itself. `topk` is optional (the server's default).
 */
export const RetrieveRequestSchema = z.object({
  queries: z.array(z.string()),
  topk: z.number().int().positive().nullish(),
  return_scores: z.boolean().default(false),
});
export type RetrieveRequest = z.input<typeof RetrieveRequestSchema>;

/** A retrieved document: wiki-18 `contents`, or FlashRAG-style `title` + `text`; other fields pass through. */
export const RetrievedDocumentSchema = z.looseObject({
  id: z.union([z.string(), z.number()]).optional(),
  contents: z.string().optional(),
  title: z.string().optional(),
  text: z.string().optional(),
});

export const RetrieveResponseSchema = z.object({
  result: z.array(z.array(z.union([z.object({ document: RetrievedDocumentSchema, score: z.number().optional() }), RetrievedDocumentSchema]))),
});
export type RetrieveResponse = z.output<typeof RetrieveResponseSchema>;

/** wiki-18's `contents`: the title in double quotes, a newline, the text. */
export function wikiContents(title: string, text: string): string {
  return `"${title}"\n${text}`;
}
