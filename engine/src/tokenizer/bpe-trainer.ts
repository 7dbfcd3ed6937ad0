/**
 * Byte-level BPE training (GPT-2 / Qwen2 family), producing the `model` section of a
 * Hugging Face `tokenizer.json`.
 *
 * Why byte-level BPE: every string (any Unicode, any whitespace) round-trips exactly with no
 * unknown token, the vocabulary adapts to the corpus (the world data's entity names become
 * single tokens), and it is the scheme Qwen2 itself uses, so `@huggingface/tokenizers` loads
 * the result with its stock ByteLevel pre-tokenizer / BPE model / ByteLevel decoder.
 */

/** GPT-2's reversible byte → printable-character table. */
export const BYTE_TO_UNICODE: readonly string[] = (() => {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const table = new Array<string>(256);
  bs.forEach((b, i) => (table[b] = String.fromCodePoint(cs[i])));
  return table;
})();

/** The pre-tokenization regex of the ByteLevel pre-tokenizer (`use_regex: true`). */
export const BYTE_LEVEL_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Splits text into byte-level pre-tokens exactly as the ByteLevel pre-tokenizer does. */
export function byteLevelPreTokenize(text: string): string[] {
  const enc = new TextEncoder();
  const pieces = text.match(BYTE_LEVEL_PATTERN) ?? [];
  return pieces.map((p) => Array.from(enc.encode(p), (b) => BYTE_TO_UNICODE[b]).join(''));
}

/** Result of BPE training: vocab (token → id) and ordered merges ("a b"). */
export interface BpeModel {
  readonly vocab: Record<string, number>;
  readonly merges: string[];
}

// A max-heap of [count, pairKey] with lazy invalidation.
class PairHeap {
  private readonly a: Array<[number, string]> = [];
  get size(): number {
    return this.a.length;
  }
  private better(i: number, j: number): boolean {
    const x = this.a[i];
    const y = this.a[j];
    return x[0] > y[0] || (x[0] === y[0] && x[1] < y[1]);
  }
  push(item: [number, string]): void {
    const a = this.a;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.better(i, p)) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  pop(): [number, string] | undefined {
    const a = this.a;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.better(l, m)) m = l;
        if (r < a.length && this.better(r, m)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

const SEP = '\u0000';

/**
 * Trains byte-level BPE merges on texts until the vocabulary (reserved ids + 256 bytes + merges)
 * reaches `vocabSize`, or no pair occurs at least `minFrequency` times.
 * `reserved` tokens take ids 0..reserved.length-1. Deterministic: ties break by pair order.
 */
export function trainByteLevelBpe(texts: Iterable<string>, vocabSize: number, reserved: readonly string[] = [], minFrequency = 2): BpeModel {
  const vocab: Record<string, number> = {};
  let next = 0;
  for (const t of reserved) vocab[t] = next++;
  for (const ch of [...BYTE_TO_UNICODE].sort()) if (!(ch in vocab)) vocab[ch] = next++;

  const wordCounts = new Map<string, number>();
  for (const text of texts) for (const w of byteLevelPreTokenize(text)) wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
  const words: string[][] = [];
  const freq: number[] = [];
  for (const [w, c] of wordCounts) {
    words.push(Array.from(w));
    freq.push(c);
  }
  const pairCount = new Map<string, number>();
  const pairWords = new Map<string, Set<number>>();
  const addPairs = (wi: number, sign: number): void => {
    const sym = words[wi];
    for (let i = 0; i + 1 < sym.length; i++) {
      const k = sym[i] + SEP + sym[i + 1];
      pairCount.set(k, (pairCount.get(k) ?? 0) + sign * freq[wi]);
      if (sign > 0) {
        let s = pairWords.get(k);
        if (!s) pairWords.set(k, (s = new Set()));
        s.add(wi);
      }
    }
  };
  for (let wi = 0; wi < words.length; wi++) addPairs(wi, 1);
  const heap = new PairHeap();
  for (const [k, c] of pairCount) heap.push([c, k]);

  const merges: string[] = [];
  while (next < vocabSize) {
    let best: [number, string] | undefined;
    while ((best = heap.pop())) {
      if (pairCount.get(best[1]) === best[0]) break;
    }
    if (!best || best[0] < minFrequency) break;
    const key = best[1];
    const [a, b] = key.split(SEP);
    const merged = a + b;
    merges.push(`${a} ${b}`);
    if (!(merged in vocab)) vocab[merged] = next++;
    const touched = new Set<string>();
    for (const wi of pairWords.get(key) ?? []) {
      const sym = words[wi];
      for (let i = 0; i + 1 < sym.length; i++) touched.add(sym[i] + SEP + sym[i + 1]);
      addPairs(wi, -1);
      const out: string[] = [];
      for (let i = 0; i < sym.length; i++) {
        if (i + 1 < sym.length && sym[i] === a && sym[i + 1] === b) {
          out.push(merged);
          i++;
        } else out.push(sym[i]);
      }
      words[wi] = out;
      addPairs(wi, 1);
      for (let i = 0; i + 1 < out.length; i++) touched.add(out[i] + SEP + out[i + 1]);
    }
    pairWords.delete(key);
    pairCount.delete(key);
    for (const k of touched) {
      const c = pairCount.get(k);
      if (c !== undefined && c > 0) heap.push([c, k]);
    }
  }
  return { vocab, merges };
}
