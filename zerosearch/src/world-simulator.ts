import { CorpusSearchEngine } from './corpus-engine.js';
import { makeCorpus, padText, type Doc } from './corpus.js';
import { FACT_SENTENCES, FILLERS, INVERSE_SENTENCES, fill } from './phrasing.js';
import { Rng, hashString } from '@cohort/engine/rng';
import { coverExactMatch } from './rewards.js';
import { parseSimulatorPrompt } from './simulator-prompt.js';
import { formatDocs } from './template.js';
import type { GenerateOptions, TextGenerator } from './text-generator.js';
import type { Entity, Fact, Relation, World } from './world.js';

const RELATION_WORDS: [RegExp, Relation][] = [
  [/\b(birthplace|born where|native|city of birth|hometown)\b/, 'born_in'],
  [/\b(year|when|birth year|born in the year)\b/, 'birth_year'],
  [/\b(profession|job|occupation|living|career)\b/, 'profession'],
  [/\b(founder|founded|founding|created)\b/, 'founder'],
  [/\b(headquarters|headquartered|based|office|hq)\b/, 'headquarters'],
  [/\b(industry|sector|business)\b/, 'industry'],
  [/\b(capital)\b/, 'capital'],
  [/\b(language|speak|spoken)\b/, 'language'],
  [/\b(country|nation|located)\b/, 'located_in'],
  [/\b(born|birth)\b/, 'born_in'],
];

/** The relation a query most likely asks about, or null. */
export function guessRelation(text: string): Relation | null {
  const t = text.toLowerCase();
  for (const [re, rel] of RELATION_WORDS) if (re.test(t)) return rel;
  return null;
}

/** Options of the template simulator. */
export interface WorldSimulatorOptions {
  readonly seed?: number;
  /** Pad each document with filler sentences up to this many words (default 0: fact sentences only). */
  readonly docWords?: number;
}

/**
 * A deterministic, retrieval-backed simulation "LLM" over a world's facts. It
 * reads the simulator prompt (query, useful/noisy, question and answer), finds
 * the entity the query is about, and writes exactly five short documents of one
 * sentence each (a regular shape a tiny simulator can learn): useful ones
 * state the needed fact, in varied phrasing; noisy ones name the right entity
 * without stating any fact (two) and state facts of other relations than the
 * one asked about related entities of its kind (three), and never contain the
 * gold answer. The template (test)
 * simulator backend; it also writes the learned simulator's tuning targets.
 * Sampling options other than `maxTokens` (a word cap) are ignored; output
 * depends only on the prompt and seed.
 */
export class WorldSimulator implements TextGenerator {
  readonly name = 'world-simulator';
  private readonly engine: CorpusSearchEngine;
  private readonly names: { entity: Entity; key: string }[];
  private readonly docWords: number;

  constructor(readonly world: World, private readonly opts: WorldSimulatorOptions = {}, docs?: readonly Doc[]) {
    this.engine = new CorpusSearchEngine(docs ?? makeCorpus(world));
    this.docWords = opts.docWords ?? 0;
    this.names = world.entities
      .flatMap((e) => [e.name, ...e.aliases].map((n) => ({ entity: e, key: n.toLowerCase() })))
      .sort((a, b) => b.key.length - a.key.length);
  }

  /** Entities named in a text, longest name first, without overlaps. */
  entitiesIn(text: string): Entity[] {
    let t = ` ${text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ')} `;
    const out: Entity[] = [];
    for (const { entity, key } of this.names) {
      const k = ` ${key.replace(/[^\p{L}\p{N}]+/gu, ' ')} `;
      if (t.includes(k)) {
        if (!out.includes(entity)) out.push(entity);
        t = t.split(k).join(' # ');
      }
    }
    return out;
  }

  async generate(prompts: readonly string[], opts: GenerateOptions): Promise<string[]> {
    return prompts.map((p) => {
      const text = this.respond(p);
      const words = text.split(/(\s+)/);
      return opts.maxTokens > 0 && words.length > opts.maxTokens * 2 ? words.slice(0, opts.maxTokens * 2).join('').trimEnd() : text;
    });
  }

  /** The five documents for one prompt, formatted `Doc 1: …`. */
  respond(prompt: string): string {
    const rng = new Rng(hashString(prompt) ^ (this.opts.seed ?? this.world.config.seed));
    const parsed = parseSimulatorPrompt(prompt);
    if (!parsed) return formatDocs(this.engine.retrieve(prompt.slice(-400)).map((d) => d.text));
    const answers = parsed.answers ?? [];
    const docs = parsed.mode === 'useful' ? this.useful(parsed.query, parsed.question, answers, rng) : this.noisy(parsed.query, parsed.question, answers, rng);
    return formatDocs(docs);
  }

  private sentence(f: Fact, rng: Rng, inverse = false): string {
    const pats = inverse ? INVERSE_SENTENCES[f.relation] ?? FACT_SENTENCES[f.relation] : FACT_SENTENCES[f.relation];
    return fill(rng.pick(pats), { s: this.world.entity(f.subject).name, o: this.world.objectName(f) });
  }

  private target(query: string, question: string | undefined): { entity: Entity | null; relation: Relation | null } {
    const inQuery = this.entitiesIn(query);
    const entity = inQuery[0] ?? this.entitiesIn(question ?? '')[0] ?? null;
    const relation = guessRelation(query) ?? (question ? guessRelation(question) : null);
    if (entity) return { entity, relation };
    const top = this.engine.retrieve(query, 1)[0];
    return { entity: top ? this.world.entity(top.entity) : null, relation };
  }

  private factsOf(e: Entity): { fact: Fact; inverse: boolean }[] {
    return [...this.world.factsAbout(e.id).map((fact) => ({ fact, inverse: false })), ...this.world.factsPointingAt(e.id).map((fact) => ({ fact, inverse: true }))];
  }

  private mentionsAnswer(text: string, answers: readonly string[]): boolean {
    return answers.length > 0 && coverExactMatch(text, answers) === 1;
  }

  private useful(query: string, question: string | undefined, answers: readonly string[], rng: Rng): string[] {
    const { entity, relation } = this.target(query, question);
    if (!entity) return this.engine.retrieve(query).map((d) => d.text);
    const facts = this.factsOf(entity);
    // The needed fact: the one whose sentence carries the gold answer, else the asked relation.
    const needed =
      facts.find((f) => this.mentionsAnswer(this.sentence(f.fact, new Rng(0), f.inverse), answers)) ??
      facts.find((f) => f.fact.relation === relation) ??
      facts[0];
    const out: string[] = [];
    // The needed fact in a varied phrasing, nothing else: all of it can be copied from the prompt
    // (the entity from the query, the answer from the question line), so a tiny simulator learns to
    // copy instead of recalling other facts it memorised.
    for (let i = 0; i < 5; i++) out.push(padText([this.sentence(needed.fact, rng, needed.inverse)], entity.name, this.docWords, rng));
    return out;
  }

  private noisy(query: string, question: string | undefined, answers: readonly string[], rng: Rng): string[] {
    const { entity, relation } = this.target(query, question);
    const out: string[] = [];
    const safe = (t: string) => !this.mentionsAnswer(t, answers);
    // Facts of other relations than the asked one, none carrying the answer: no slot the answer could fill.
    const offTopic = (e: Entity) => this.factsOf(e).filter((f) => f.fact.relation !== relation && safe(this.sentence(f.fact, new Rng(0), f.inverse)));
    if (entity) {
      // The right entity, but no fact at all: two filler sentences that name it.
      for (const f of rng.shuffle(FILLERS).slice(0, 2)) {
        const text = padText([fill(f, { s: entity.name })], entity.name, this.docWords, rng);
        if (safe(text)) out.push(text);
      }
      // Related entities of the same kind, off-topic facts only.
      for (const p of rng.shuffle(this.world.ofKind(entity.kind).filter((e) => e.id !== entity.id))) {
        if (out.length >= 5) break;
        const pf = offTopic(p);
        if (!pf.length) continue;
        const f = rng.pick(pf);
        const text = padText([this.sentence(f.fact, rng, f.inverse)], p.name, this.docWords, rng);
        if (safe(text)) out.push(text);
      }
      // A small world may have too few peers: a second off-topic fact of each, while it lasts.
      for (const p of out.length < 5 ? rng.shuffle(this.world.ofKind(entity.kind).filter((e) => e.id !== entity.id)) : []) {
        if (out.length >= 5) break;
        const text = rng.shuffle(offTopic(p)).map((f) => this.sentence(f.fact, rng, f.inverse)).find((x) => safe(x) && !out.includes(x));
        if (text) out.push(text);
      }
    }
    // Last resort: the first sentence of other entities' corpus documents.
    for (const d of out.length < 5 ? rng.shuffle(this.engine.docs) : []) {
      if (out.length >= 5) break;
      const first = d.text.split(/(?<=\.)\s+/)[0];
      if (safe(first) && (!entity || d.entity !== entity.id) && !out.includes(first)) out.push(first);
    }
    return out.slice(0, 5);
  }
}
