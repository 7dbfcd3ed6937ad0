// What the simulator writes for the first hop of a two-hop question when, as in RL, the request names the
// question's final answer, beside what it writes when given the hop's own answer (as its tuning pairs do).
// Usage: npx tsx scripts/sim-first-hop.ts [MODEL_DIR] [train|eval]   (local.yaml's world; prints one JSON line)
import { loadSimData } from '../cli/src/commands/zerosearch-common.js';
import { LocalModelGenerator, SimulatorSearchEngine, coverExactMatch } from '@cohort/zerosearch';
const dir = process.argv[2] ?? 'models/zerosearch-local/simulator';
const split = process.argv[3] ?? 'train';
const data = await loadSimData({ config: 'configs/zerosearch/local.yaml' });
type P = (typeof data.pairs)[number];
const byQ = new Map<string, P[]>();
for (const p of data.pairs) if (p.mode === 'useful') (byQ.get(p.question) ?? byQ.set(p.question, []).get(p.question)!).push(p);
const cases: { hop: P; final: readonly string[] }[] = [];
for (const ps of byQ.values()) if (ps.length >= 2 && ps[0].split === split && ps[0].goldenAnswers.join() !== ps.at(-1)!.goldenAnswers.join()) cases.push({ hop: ps[0], final: ps.at(-1)!.goldenAnswers });
const gen = LocalModelGenerator.load(dir, {});
const sim = new SimulatorSearchEngine({ generator: gen, maxTokens: 160, temperature: 0 });
let hopHit = 0, finalHit = 0, hopHitOwn = 0, finalHitOwn = 0;
for (let i = 0; i < cases.length; i += 16) {
  const chunk = cases.slice(i, i + 16);
  const rl = await sim.search(chunk.map((c) => ({ query: c.hop.query, question: c.hop.question, goldenAnswers: c.final, mode: 'useful' as const })));
  const own = await sim.search(chunk.map((c) => ({ query: c.hop.query, question: c.hop.question, goldenAnswers: c.hop.goldenAnswers, mode: 'useful' as const })));
  chunk.forEach((c, j) => {
    const t = rl[j].docs.join('\n'), o = own[j].docs.join('\n');
    hopHit += coverExactMatch(t, c.hop.goldenAnswers); finalHit += coverExactMatch(t, c.final);
    hopHitOwn += coverExactMatch(o, c.hop.goldenAnswers); finalHitOwn += coverExactMatch(o, c.final);
  });
}
process.stdout.write(JSON.stringify({ split, first_hop_queries: cases.length, given_final_answer: { docs_hold_hop_answer: hopHit / cases.length, docs_hold_final_answer: finalHit / cases.length }, given_hop_answer: { docs_hold_hop_answer: hopHitOwn / cases.length, docs_hold_final_answer: finalHitOwn / cases.length } }) + '\n');
await gen.close?.();
