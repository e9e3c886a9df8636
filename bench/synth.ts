/**
 * Whole-process `cdk8s synth` time: the example against a minimal cdk8s app with one Deployment,
 * alternated in one run (median of several), and a generated 1,000-agent system. Prints figures.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeSyntheticSystem } from './synthetic.ts';

const root = join(import.meta.dirname, '..');
const cdk8s = join(root, 'node_modules', '.bin', 'cdk8s');

function synth(cwd: string, env: NodeJS.ProcessEnv): number {
  const out = mkdtempSync(join(tmpdir(), 'synth-bench-'));
  const t0 = performance.now();
  const r = spawnSync(cdk8s, ['synth', '--check-upgrade=false', '--output', join(out, '.cdk8s')], {
    cwd,
    env: { ...process.env, AGENT_INFRA_OUT: out, ...env },
    encoding: 'utf8',
  });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`cdk8s synth failed in ${cwd}: ${r.stderr}`);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const runs = Number(process.env['BENCH_RUNS'] ?? 5);
const example: number[] = [];
const minimal: number[] = [];
synth(root, {}); // warm the file cache
for (let i = 0; i < runs; i++) {
  minimal.push(synth(join(root, 'bench', 'minimal-app'), {}));
  example.push(synth(root, {}));
}
const big = synth(root, { AGENT_INFRA_SPEC: writeSyntheticSystem(1000) });
console.log(`cdk8s synth, whole process, median of ${runs}:`);
console.log(`  minimal app (1 Deployment)   ${median(minimal).toFixed(0).padStart(6)} ms`);
console.log(`  example (82 agents, all out) ${median(example).toFixed(0).padStart(6)} ms`);
console.log(`  ratio example/minimal        ${(median(example) / median(minimal)).toFixed(2)} (target at most 1.3)`);
console.log(`  1,000-agent system           ${big.toFixed(0).padStart(6)} ms (target under 10000 ms)`);
