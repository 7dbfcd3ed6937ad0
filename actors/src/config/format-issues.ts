import type { z } from 'zod';
import type { ConfigProblem } from './config-error.js';

/** Dotted path of a zod issue path (`a.b[2].c`). */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

/** A short, readable rendering of a found value. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing (the key is missing)';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (typeof v === 'object') return `a mapping with keys ${Object.keys(v as object).join(', ') || '(none)'}`;
  return typeof v;
}

function getAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let cur: unknown = root;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

/** Levenshtein distance, for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}

/** The closest candidate within a small edit distance, if any. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/**
 * Turns zod issues into problems that name the key path, the expected value and the found one.
 * `knownKeys(path)` lists the keys allowed at an object path (for unknown-key hints).
 */
export function issuesToProblems(
  issues: ReadonlyArray<z.core.$ZodIssue>,
  raw: unknown,
  knownKeys: (path: ReadonlyArray<PropertyKey>) => string[],
): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const issue of issues) {
    const found = getAt(raw, issue.path);
    switch (issue.code) {
      case 'unrecognized_keys': {
        const allowed = knownKeys(issue.path);
        for (const key of issue.keys) {
          const hint = closest(key, allowed);
          out.push({
            path: formatPath([...issue.path, key]),
            message:
              `unknown key "${key}"` +
              (hint ? `; did you mean "${hint}"?` : '') +
              (allowed.length ? ` (allowed here: ${allowed.join(', ')})` : ''),
          });
        }
        break;
      }
      case 'invalid_union': {
        const disc = (issue as { discriminator?: string; options?: unknown[] }).discriminator;
        const options = (issue as { options?: unknown[] }).options;
        if (disc && options) {
          const value = getAt(raw, issue.path);
          out.push({
            path: formatPath(issue.path),
            message: `expected one of ${options.map((o) => JSON.stringify(o)).join(' | ')}, found ${describeValue(value)}`,
          });
        } else {
          // Report the branch that got furthest (fewest issues) rather than every branch.
          const branches = issue.errors.filter((e) => e.length > 0).sort((a, b) => a.length - b.length);
          if (branches.length) {
            out.push(
              ...issuesToProblems(
                branches[0].map((i) => ({ ...i, path: [...issue.path, ...i.path] })),
                raw,
                knownKeys,
              ),
            );
          } else {
            out.push({ path: formatPath(issue.path), message: `${issue.message}, found ${describeValue(found)}` });
          }
        }
        break;
      }
      case 'invalid_type':
        out.push({
          path: formatPath(issue.path),
          message:
            found === undefined
              ? `required key is missing (expected ${issue.expected})`
              : `expected ${issue.expected}, found ${describeValue(found)}`,
        });
        break;
      case 'invalid_value':
        out.push({
          path: formatPath(issue.path),
          message: `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(' | ')}, found ${describeValue(found)}`,
        });
        break;
      case 'too_small':
      case 'too_big': {
        const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
        const op = issue.code === 'too_small' ? (issue.inclusive ? '>=' : '>') : issue.inclusive ? '<=' : '<';
        const what = issue.origin === 'array' ? 'a list with length' : issue.origin === 'string' ? 'text with length' : 'a value';
        out.push({ path: formatPath(issue.path), message: `expected ${what} ${op} ${String(bound)}, found ${describeValue(found)}` });
        break;
      }
      default:
        out.push({
          path: formatPath(issue.path),
          message: issue.code === 'custom' ? issue.message : `${issue.message}, found ${describeValue(found)}`,
        });
    }
  }
  return out;
}
