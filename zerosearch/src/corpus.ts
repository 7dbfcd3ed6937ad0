import { Rng } from '@cohort/engine/rng';
import { FACT_SENTENCES, FILLERS, INVERSE_SENTENCES, fill } from './phrasing.js';
import type { Fact, World } from './world.js';

/** One short document of the world's "web". */
export interface Doc {
  readonly id: string;
  /** The entity the document is about. */
  readonly entity: string;
  readonly title: string;
  readonly text: string;
  /** Ids of the facts stated in the text. */
  readonly facts: readonly string[];
  /** True when any stated fact is held out (such documents never enter warm-start data). */
  readonly heldout: boolean;
}

/** Corpus options. */
export interface CorpusOptions {
  /** Documents per entity (the first states every fact; the rest a varied subset). */
  readonly docsPerEntity?: number;
  /** Pad each document with filler sentences up to this many words. */
  readonly targetWords?: number;
  readonly seed?: number;
}

interface Statement {
  readonly fact: Fact;
  readonly patterns: readonly string[];
  readonly vars: Record<string, string>;
}

function statementsFor(world: World, entityId: string): Statement[] {
  const out: Statement[] = [];
  for (const f of world.factsAbout(entityId)) {
    out.push({ fact: f, patterns: FACT_SENTENCES[f.relation], vars: { s: world.entity(f.subject).name, o: world.objectName(f) } });
  }
  for (const f of world.factsPointingAt(entityId)) {
    const inv = INVERSE_SENTENCES[f.relation];
    if (inv) out.push({ fact: f, patterns: inv, vars: { s: world.entity(f.subject).name, o: world.objectName(f) } });
  }
  return out;
}

/** Renders one fact as a sentence (random paraphrase). */
export function factSentence(world: World, f: Fact, rng: Rng): string {
  return fill(rng.pick(FACT_SENTENCES[f.relation]), { s: world.entity(f.subject).name, o: world.objectName(f) });
}

/** Pads a text with filler sentences about `name` until it has `targetWords` words. */
export function padText(sentences: string[], name: string, targetWords: number, rng: Rng): string {
  const out = sentences.slice();
  const fillers = rng.shuffle(FILLERS);
  let i = 0;
  const words = () => out.join(' ').split(/\s+/).length;
  while (words() < targetWords && i < fillers.length) out.push(fill(fillers[i++], { s: name }));
  return out.join(' ');
}

/**
 * Renders the world into short documents: several per entity, each stating a
 * few of its facts in varied phrasing and padded to about thirty words.
 */
export function makeCorpus(world: World, opts: CorpusOptions = {}): Doc[] {
  const perEntity = opts.docsPerEntity ?? 3;
  const target = opts.targetWords ?? 28;
  const rng = new Rng(opts.seed ?? world.config.seed).fork('corpus');
  const docs: Doc[] = [];
  for (const e of world.entities) {
    const st = statementsFor(world, e.id);
    if (st.length === 0) continue;
    for (let k = 0; k < perEntity; k++) {
      const chosen = k === 0 ? st : rng.shuffle(st).slice(0, Math.min(st.length, 2));
      const sentences = chosen.map((s) => fill(rng.pick(s.patterns), s.vars));
      const text = padText(sentences, e.name, target, rng);
      docs.push({
        id: `d${docs.length}`,
        entity: e.id,
        title: e.name,
        text,
        facts: chosen.map((s) => s.fact.id),
        heldout: chosen.some((s) => s.fact.heldout),
      });
    }
  }
  return docs;
}
