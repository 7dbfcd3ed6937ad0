import { z } from 'zod';
import { Rng } from '@cohort/engine/rng';

/**
 * Which evaluation protocol split an entity (and the facts and questions
 * about it) belongs to. Train entities feed every warm-start and tuning
 * artefact; dev entities are for choosing settings; test entities are
 * reported once, at the end.
 */
export type Split = 'train' | 'dev' | 'test';

const SPLIT_ORDER: Record<Split, number> = { train: 0, dev: 1, test: 2 };

/** The most held-out of some splits (test over dev over train): a fact or question touching a test entity is test. */
export function mostHeldOut(splits: Iterable<Split>): Split {
  let out: Split = 'train';
  for (const s of splits) if (SPLIT_ORDER[s] > SPLIT_ORDER[out]) out = s;
  return out;
}

/** The kinds of entity a world holds. */
export type EntityKind = 'person' | 'company' | 'city' | 'country';

/** One entity of the made world. */
export interface Entity {
  readonly id: string;
  readonly kind: EntityKind;
  readonly name: string;
  /** Other accepted spellings of the name (for golden answers). */
  readonly aliases: readonly string[];
  /** True when the entity's facts are kept out of every warm-start artefact (split dev or test). */
  readonly heldout: boolean;
  /** Its protocol split: persons held out alternate between dev and test; a company follows its founder. */
  readonly split: Split;
}

/** Relation names. Objects are entity ids, except for the attribute relations. */
export type Relation =
  | 'born_in' // person -> city
  | 'birth_year' // person -> year (attribute)
  | 'profession' // person -> profession (attribute)
  | 'founder' // company -> person
  | 'headquarters' // company -> city
  | 'industry' // company -> industry (attribute)
  | 'located_in' // city -> country
  | 'capital' // country -> city
  | 'language'; // country -> language (attribute)

/** Relations whose object is a plain value rather than an entity. */
export const ATTRIBUTE_RELATIONS: ReadonlySet<Relation> = new Set(['birth_year', 'profession', 'industry', 'language']);

/** One (subject, relation, object) triple. */
export interface Fact {
  readonly id: string;
  readonly subject: string;
  readonly relation: Relation;
  /** An entity id, or the attribute value for attribute relations. */
  readonly object: string;
  /** True when the subject or the object entity is held out. */
  readonly heldout: boolean;
  /** The most held-out split of its subject and object entity. */
  readonly split: Split;
}

/** World sizes and seed. */
export const WorldConfigFields = z
  .object({
    seed: z.number().int().nonnegative().default(7),
    countries: z.number().int().min(2).max(200).default(8),
    cities: z.number().int().min(2).max(2000).default(32),
    persons: z.number().int().min(4).max(20000).default(120),
    /** At most one company per person; must not exceed `persons`. */
    companies: z.number().int().min(2).max(20000).default(60),
    /** Share of persons (with the companies they founded) held out of warm-start data. */
    heldoutFraction: z.number().min(0.05).max(0.9).default(0.25),
  })
  .strict();
/**
 * Overrides of a size preset: the same fields, each optional and without a
 * default (a default here would silently replace the preset's value).
 */
export const WorldOverridesSchema = z
  .object({
    seed: z.number().int().nonnegative().optional(),
    countries: z.number().int().min(2).max(200).optional(),
    cities: z.number().int().min(2).max(2000).optional(),
    persons: z.number().int().min(4).max(20000).optional(),
    companies: z.number().int().min(2).max(20000).optional(),
    heldoutFraction: z.number().min(0.05).max(0.9).optional(),
  })
  .strict();

/** World config with cross-field checks. */
export const WorldConfigSchema = WorldConfigFields.refine((c) => c.companies <= c.persons, { message: 'companies must be <= persons (each company has its own founder); lower companies or raise persons' })
  .refine((c) => c.cities >= c.countries, { message: 'cities must be >= countries (every country has a capital city); raise cities' });
export type WorldConfig = z.infer<typeof WorldConfigSchema>;

/** Named size presets for `cohort data make --size`. */
export const WORLD_SIZES: Record<string, Partial<WorldConfig>> = {
  tiny: { countries: 3, cities: 8, persons: 24, companies: 12 },
  small: { countries: 6, cities: 20, persons: 60, companies: 30 },
  default: { countries: 8, cities: 32, persons: 120, companies: 60 },
  large: { countries: 20, cities: 120, persons: 600, companies: 300 },
};

/** A generated world: entities, facts and lookup helpers. */
export class World {
  readonly entities: readonly Entity[];
  readonly facts: readonly Fact[];
  private readonly byId = new Map<string, Entity>();
  private readonly bySubject = new Map<string, Fact[]>();
  private readonly byObject = new Map<string, Fact[]>();

  constructor(readonly config: WorldConfig, entities: Entity[], facts: Fact[]) {
    this.entities = entities;
    this.facts = facts;
    for (const e of entities) this.byId.set(e.id, e);
    for (const f of facts) {
      (this.bySubject.get(f.subject) ?? this.bySubject.set(f.subject, []).get(f.subject)!).push(f);
      if (!ATTRIBUTE_RELATIONS.has(f.relation)) (this.byObject.get(f.object) ?? this.byObject.set(f.object, []).get(f.object)!).push(f);
    }
  }

  /** The same world without its held-out (dev and test) entities and the facts that touch them: what training artefacts may see. */
  trainView(): World {
    return new World(
      this.config,
      this.entities.filter((e) => !e.heldout),
      this.facts.filter((f) => !f.heldout),
    );
  }

  /** The entity with this id (throws on an unknown id). */
  entity(id: string): Entity {
    const e = this.byId.get(id);
    if (!e) throw new Error(`unknown entity id "${id}"`);
    return e;
  }

  /** All entities of one kind. */
  ofKind(kind: EntityKind): Entity[] {
    return this.entities.filter((e) => e.kind === kind);
  }

  /** Facts whose subject is this entity. */
  factsAbout(id: string): Fact[] {
    return this.bySubject.get(id) ?? [];
  }

  /** Facts whose object is this entity. */
  factsPointingAt(id: string): Fact[] {
    return this.byObject.get(id) ?? [];
  }

  /** The object of (subject, relation); throws when missing. */
  object(subject: string, relation: Relation): string {
    const f = this.factsAbout(subject).find((x) => x.relation === relation);
    if (!f) throw new Error(`entity "${subject}" has no "${relation}" fact`);
    return f.object;
  }

  /** The fact (subject, relation); throws when missing. */
  fact(subject: string, relation: Relation): Fact {
    const f = this.factsAbout(subject).find((x) => x.relation === relation);
    if (!f) throw new Error(`entity "${subject}" has no "${relation}" fact`);
    return f;
  }

  /** Display value of a fact's object: an entity name or the attribute value. */
  objectName(f: Fact): string {
    return ATTRIBUTE_RELATIONS.has(f.relation) ? f.object : this.entity(f.object).name;
  }
}

const ONSETS = ['b', 'd', 'f', 'g', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z'];
const VOWELS = ['a', 'e', 'i', 'o', 'u'];
const CITY_SUFFIX = ['port', 'ford', 'holm', 'dale', 'ton', 'burg', 'field', 'mouth'];
const COUNTRY_SUFFIX = ['ia', 'land', 'ora', 'stan', 'ria'];
const COMPANY_SUFFIX = ['Works', 'Labs', 'Systems', 'Motors', 'Foods', 'Media', 'Energy', 'Textiles'];
/** Professions a person may have. */
export const PROFESSIONS = ['painter', 'engineer', 'chemist', 'poet', 'architect', 'physician', 'composer', 'pilot', 'historian', 'sculptor', 'lawyer', 'astronomer'];
/** Industries a company may be in. */
export const INDUSTRIES = ['shipping', 'software', 'mining', 'textile', 'publishing', 'aviation', 'farming', 'banking', 'brewing', 'railway'];

function syllable(rng: Rng): string {
  return rng.pick(ONSETS) + rng.pick(VOWELS);
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Words a reshaped name keeps: company suffixes and the alias words "Republic", "of", "City". */
const KEPT_WORDS: ReadonlySet<string> = new Set([...COMPANY_SUFFIX, 'Republic', 'of', 'City']);

/**
 * A word shaped like a name-word this module makes (the same syllables; a city or country keeps
 * its suffix, a year its century) but drawn afresh from `rng`, so no world need hold it. Null for
 * the words names keep (company suffixes, "Republic", "of", "City") and for lowercase words.
 */
export function lookalikeWord(word: string, rng: Rng): string | null {
  if (/^\d+$/.test(word)) {
    const keep = Math.max(0, word.length - 2);
    return word.slice(0, keep) + Array.from({ length: word.length - keep }, () => String(rng.int(10))).join('');
  }
  if (KEPT_WORDS.has(word) || !/^\p{Lu}/u.test(word)) return null;
  const lower = word.toLowerCase();
  const suffix = [...CITY_SUFFIX, ...COUNTRY_SUFFIX].filter((x) => lower.endsWith(x) && lower.length - x.length >= 2).sort((a, b) => b.length - a.length)[0] ?? '';
  const stem = lower.slice(0, lower.length - suffix.length);
  let out = '';
  for (let i = 0; i < Math.max(1, Math.floor(stem.length / 2)); i++) out += syllable(rng);
  if (stem.length % 2 === 1) out += stem.at(-1); // the world's odd-length stems end in a consonant
  return cap(out) + suffix;
}

function uniqueName(rng: Rng, used: Set<string>, make: () => string): string {
  for (let i = 0; i < 10000; i++) {
    const n = make();
    const key = n.toLowerCase();
    if (!used.has(key)) {
      used.add(key);
      return n;
    }
  }
  throw new Error('could not generate a unique entity name; lower the world size');
}

/**
 * Generates a world deterministically from its config: countries with capitals
 * and languages, cities in countries, persons born in cities, companies founded
 * by persons and headquartered in cities. Held-out persons are chosen first and
 * the companies they founded are held out with them, so a held-out entity's facts
 * never mention a non-held-out person or company.
 */
export function makeWorld(config: Partial<WorldConfig> = {}): World {
  const cfg = WorldConfigSchema.parse(config);
  const rng = new Rng(cfg.seed);
  const used = new Set<string>();
  const usedWords = new Set<string>();
  const entities: Entity[] = [];
  const facts: Fact[] = [];

  const countries: Entity[] = [];
  for (let i = 0; i < cfg.countries; i++) {
    const name = uniqueName(rng, used, () => cap(syllable(rng) + syllable(rng).replace(/[aeiou]$/, '')) + rng.pick(COUNTRY_SUFFIX));
    countries.push({ id: `country:${i}`, kind: 'country', name, aliases: [`Republic of ${name}`], heldout: false, split: 'train' });
  }
  const cities: Entity[] = [];
  for (let i = 0; i < cfg.cities; i++) {
    const name = uniqueName(rng, used, () => cap(syllable(rng) + syllable(rng).replace(/[aeiou]$/, '')) + rng.pick(CITY_SUFFIX));
    cities.push({ id: `city:${i}`, kind: 'city', name, aliases: [`${name} City`], heldout: false, split: 'train' });
  }
  // Held-out persons alternate test, dev in the shuffled order (test gets the odd one out).
  const personSplit = new Map<number, Split>();
  const personOrder = rng.shuffle([...Array(cfg.persons).keys()]);
  const nHeld = Math.max(1, Math.round(cfg.persons * cfg.heldoutFraction));
  personOrder.slice(0, nHeld).forEach((p, k) => personSplit.set(p, k % 2 === 0 ? 'test' : 'dev'));
  const splitOf = (p: number): Split => personSplit.get(p) ?? 'train';
  const persons: Entity[] = [];
  for (let i = 0; i < cfg.persons; i++) {
    let first = '';
    let last = '';
    const name = uniqueName(rng, used, () => {
      first = cap(syllable(rng) + syllable(rng));
      last = cap(syllable(rng) + syllable(rng) + rng.pick(['n', 'r', 's', 'l', '']));
      return `${first} ${last}`;
    });
    // A surname alias only when no other person shares it.
    const aliases = usedWords.has(last) ? [] : [last];
    usedWords.add(last);
    persons.push({ id: `person:${i}`, kind: 'person', name, aliases, heldout: personSplit.has(i), split: splitOf(i) });
  }
  // Founders: distinct persons, one per company.
  const founders = rng.shuffle([...Array(cfg.persons).keys()]).slice(0, cfg.companies);
  const companies: Entity[] = [];
  for (let i = 0; i < cfg.companies; i++) {
    let stem = '';
    const name = uniqueName(rng, used, () => {
      stem = cap(syllable(rng) + syllable(rng) + syllable(rng).replace(/[aeiou]$/, ''));
      return `${stem} ${rng.pick(COMPANY_SUFFIX)}`;
    });
    companies.push({ id: `company:${i}`, kind: 'company', name, aliases: [stem], heldout: personSplit.has(founders[i]), split: splitOf(founders[i]) });
  }
  entities.push(...countries, ...cities, ...persons, ...companies);
  const entitySplit = new Map(entities.map((e) => [e.id, e.split]));
  const add = (subject: string, relation: Relation, object: string) => {
    const split = mostHeldOut([entitySplit.get(subject) ?? 'train', ATTRIBUTE_RELATIONS.has(relation) ? 'train' : (entitySplit.get(object) ?? 'train')]);
    facts.push({ id: `f${facts.length}`, subject, relation, object, heldout: split !== 'train', split });
  };

  // Every country gets a capital among its own cities: the first cities go one per country.
  const cityCountry = cities.map((_, i) => (i < countries.length ? i : rng.int(countries.length)));
  countries.forEach((c, i) => {
    add(c.id, 'capital', cities[i].id);
    add(c.id, 'language', `${c.name.replace(/(ia|land|ora|stan|ria)$/, '')}ese`);
  });
  cities.forEach((c, i) => add(c.id, 'located_in', countries[cityCountry[i]].id));
  persons.forEach((p) => {
    add(p.id, 'born_in', rng.pick(cities).id);
    add(p.id, 'birth_year', String(1900 + rng.int(100)));
    add(p.id, 'profession', rng.pick(PROFESSIONS));
  });
  companies.forEach((c, i) => {
    add(c.id, 'founder', persons[founders[i]].id);
    add(c.id, 'headquarters', rng.pick(cities).id);
    add(c.id, 'industry', rng.pick(INDUSTRIES));
  });
  return new World(cfg, entities, facts);
}
