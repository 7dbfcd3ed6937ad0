import type { Relation } from './world.js';

/**
 * Sentence patterns per relation, subject first (`{s}`, `{o}`). A few
 * paraphrases each: regular enough for a tiny policy to learn, varied enough
 * that retrieval is not a string match.
 */
export const FACT_SENTENCES: Record<Relation, readonly string[]> = {
  born_in: ['{s} was born in {o}.', '{s} is a native of {o}.', 'The birthplace of {s} is {o}.'],
  birth_year: ['{s} was born in the year {o}.', 'The birth year of {s} is {o}.'],
  profession: ['{s} works as a {o}.', '{s} is a well known {o}.', 'By profession {s} is a {o}.'],
  founder: ['{s} was founded by {o}.', 'The founder of {s} is {o}.'],
  headquarters: ['{s} is headquartered in {o}.', 'The headquarters of {s} are in {o}.', '{s} has its main office in {o}.'],
  industry: ['{s} is a {o} company.', '{s} works in the {o} industry.'],
  located_in: ['{s} is a city in {o}.', '{s} is located in {o}.', '{s} lies in the country of {o}.'],
  capital: ['The capital of {s} is {o}.', '{s} has {o} as its capital.'],
  language: ['People in {s} speak {o}.', 'The main language of {s} is {o}.'],
};

/** Object-first phrasings used in the object's own documents (e.g. a founder's page). */
export const INVERSE_SENTENCES: Partial<Record<Relation, readonly string[]>> = {
  founder: ['{o} founded {s}.', '{o} is the founder of {s}.'],
  capital: ['{o} is the capital city of {s}.'],
};

/** Neutral filler sentences that pad a document to about thirty words. */
export const FILLERS: readonly string[] = [
  '{s} appears in many regional archives.',
  'Local guides often mention {s}.',
  'Historians still write about {s} today.',
  '{s} is listed in the national registry.',
  'Visitors often ask about {s}.',
  'Several books discuss {s} in detail.',
];

/** Single-hop question templates per relation (`{x}` is the subject). */
export const SINGLE_HOP_QUESTIONS: Record<Relation, readonly string[]> = {
  born_in: ['Where was {x} born?', 'In which city was {x} born?'],
  birth_year: ['In what year was {x} born?', 'When was {x} born?'],
  profession: ['What is the profession of {x}?', 'What does {x} do for a living?'],
  founder: ['Who founded {x}?', 'Who is the founder of {x}?'],
  headquarters: ['Where is {x} headquartered?', 'In which city is {x} based?'],
  industry: ['What industry is {x} in?'],
  located_in: ['In which country is {x}?', 'Which country is {x} located in?'],
  capital: ['What is the capital of {x}?'],
  language: ['What language is spoken in {x}?'],
};

/** Short search-query patterns per relation, the shape demonstrations use. */
export const QUERY_PATTERNS: Record<Relation, string> = {
  born_in: '{x} birthplace',
  birth_year: '{x} birth year',
  profession: '{x} profession',
  founder: '{x} founder',
  headquarters: '{x} headquarters',
  industry: '{x} industry',
  located_in: '{x} country',
  capital: '{x} capital',
  language: '{x} language',
};

/** Two-hop question shapes: first relation from the subject, second from its object. */
export interface TwoHopShape {
  readonly id: string;
  readonly subjectKind: 'person' | 'company';
  readonly first: Relation;
  readonly second: Relation;
  readonly templates: readonly string[];
}

/** The two-hop shapes the world asks about. */
export const TWO_HOP_SHAPES: readonly TwoHopShape[] = [
  { id: 'born_country', subjectKind: 'person', first: 'born_in', second: 'located_in', templates: ['In which country was {x} born?'] },
  { id: 'founder_birthplace', subjectKind: 'company', first: 'founder', second: 'born_in', templates: ['Where was the founder of {x} born?'] },
  { id: 'founder_profession', subjectKind: 'company', first: 'founder', second: 'profession', templates: ['What is the profession of the founder of {x}?'] },
  { id: 'hq_country', subjectKind: 'company', first: 'headquarters', second: 'located_in', templates: ['In which country is {x} headquartered?'] },
];

/** Fills `{s}`/`{o}`/`{x}` placeholders. */
export function fill(pattern: string, vars: Record<string, string>): string {
  return pattern.replace(/\{(\w)\}/g, (m, k: string) => vars[k] ?? m).replace(/\b([Aa]) ([aeiouAEIOU])/g, '$1n $2');
}
