/**
 * Load + plan time for the example and for generated systems of 1,000 and 10,000 agents, measured
 * side by side in one run (median of several runs each). Prints figures; asserts nothing.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runPipeline } from '../lib/pipeline.ts';
import { writeSyntheticSystem } from './synthetic.ts';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(spec: string, runs: number): { ms: number; agents: number; ok: boolean } {
  const times: number[] = [];
  let agents = 0;
  let ok = false;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = runPipeline({ spec });
    times.push(performance.now() - t0);
    agents = r.plan.agents.length;
    ok = r.ok;
  }
  return { ms: median(times), agents, ok };
}

const example = join(import.meta.dirname, '..', 'examples', 'two-pc', 'agent-infra.yaml');
time(example, 2); // warm up the module cache and the JIT
const rows = [
  ['example', time(example, 7)],
  ['1k', time(writeSyntheticSystem(1000), 7)],
  ['10k', time(writeSyntheticSystem(10000), 5)],
] as const;
console.log('system    agents   load+plan (median)');
for (const [name, r] of rows) console.log(`${name.padEnd(9)} ${String(r.agents).padStart(6)}   ${r.ms.toFixed(1).padStart(8)} ms${r.ok ? '' : '  (has errors)'}`);
const ratio = rows[2][1].ms / rows[1][1].ms;
console.log(`t(10k)/t(1k) = ${ratio.toFixed(2)} (linear would be 10)`);
console.log(`10k under 2 s: ${rows[2][1].ms < 2000 ? 'yes' : 'no'}`);
