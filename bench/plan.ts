/**
 * Load + plan time for the example and for generated systems of 100 and 1,000 agents (twelve times
 * the real system), measured side by side in one run (median of several runs each), and the cost of
 * keeping positions over a bare yaml parse. Prints figures; asserts nothing.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadSystem } from '../lib/config/load.ts';
import { plan } from '../lib/plan/plan.ts';
import { parseDocument } from 'yaml';
import { parseYamlSource } from '../lib/io/yaml-source.ts';
import { writeSyntheticSystem } from './synthetic.ts';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(spec: string, runs: number): { ms: number; loadMs: number; planMs: number; agents: number; ok: boolean } {
  const total: number[] = [];
  const loads: number[] = [];
  const plans: number[] = [];
  let agents = 0;
  let ok = false;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const loaded = loadSystem({ spec });
    const t1 = performance.now();
    const p = plan(loaded.spec, loaded.configs, loaded.lock);
    const t2 = performance.now();
    total.push(t2 - t0);
    loads.push(t1 - t0);
    plans.push(t2 - t1);
    agents = p.agents.length;
    ok = !loaded.unusable && ![...loaded.diagnostics, ...p.diagnostics].some((d) => d.severity === 'error');
  }
  return { ms: median(total), loadMs: median(loads), planMs: median(plans), agents, ok };
}

const example = join(import.meta.dirname, '..', 'examples', 'two-pc', 'agent-infra.yaml');
time(example, 2); // warm up the module cache and the JIT
const bigSpec = writeSyntheticSystem(1000);
const rows = [
  ['example', time(example, 7)],
  ['100', time(writeSyntheticSystem(100), 7)],
  ['1k', time(bigSpec, 7)],
] as const;
console.log('system    agents   load+plan (median)   load    plan');
for (const [name, r] of rows) {
  console.log(
    `${name.padEnd(9)} ${String(r.agents).padStart(6)}   ${r.ms.toFixed(1).padStart(8)} ms   ${r.loadMs.toFixed(0).padStart(8)} ms ${r.planMs.toFixed(0).padStart(5)} ms${r.ok ? '' : '  (has errors)'}`,
  );
}
const ratio = rows[2][1].ms / rows[1][1].ms;
console.log(`t(1k)/t(100) = ${ratio.toFixed(2)} (linear would be 10; at most 12 asked)`);

// The reader side by side with a bare parse of the same text: what positions and YAML 1.1 data cost.
const bigConfig = readFileSync(join(dirname(bigSpec), 'mainpc.yaml'), 'utf8');
const readTimes = (read: () => unknown) => {
  const ts: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    read();
    ts.push(performance.now() - t0);
  }
  return median(ts);
};
const bare = readTimes(() => parseDocument(bigConfig, { version: '1.1' }).toJS());
const withPositions = readTimes(() => parseYamlSource('mainpc.yaml', bigConfig));
console.log(
  `1k system's mainpc config (${(bigConfig.length / 1024).toFixed(0)} KiB): yaml parseDocument + toJS ${bare.toFixed(0)} ms, parseYamlSource ${withPositions.toFixed(0)} ms (${(withPositions / bare).toFixed(2)}x)`,
);
