/**
 * Reading the agents' code, whole process, side by side in one run (median of several, alternated):
 * `check` of the real 20250814 configs without a source tree, with the real slice of code and an
 * empty cache (cold), and with the cache of the run before (unchanged files). Prints figures;
 * asserts nothing. Needs ../shared/upstream.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { cacheDir } from '../lib/source/cache.ts';

const root = join(import.meta.dirname, '..');
const source = join(root, '..', 'shared', 'upstream', 'src-9ff5bdfb');
if (!existsSync(source)) {
  console.log(`skipped: ${source} is absent`);
  process.exit(0);
}
const spec = join(root, 'test', 'fixtures', 'upstream-20250814', 'agent-infra.yaml');
const cache = cacheDir(root);

function run(args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(root, 'bin', 'agent-infra.mjs'), 'check', '--spec', spec, '--format', 'json', ...args], { cwd: root, encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0 && r.status !== 1) throw new Error(`check failed (${r.status}): ${r.stderr.slice(-500)}`);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const runs = Number(process.env['BENCH_RUNS'] ?? 5);
const t = { without: [] as number[], cold: [] as number[], warm: [] as number[] };
run([]);
for (let i = 0; i < runs; i++) {
  t.without.push(run([]));
  rmSync(cache, { recursive: true, force: true });
  t.cold.push(run(['--source', source]));
  t.warm.push(run(['--source', source]));
}
const m = { without: median(t.without), cold: median(t.cold), warm: median(t.warm) };
console.log(`agent-infra check of the real configs, whole process, median of ${runs}:`);
console.log(`  without the source tree                    ${m.without.toFixed(0).padStart(6)} ms`);
console.log(`  with the slice of code, empty cache        ${m.cold.toFixed(0).padStart(6)} ms  (+${(m.cold - m.without).toFixed(0)} ms; target under 2000 ms)`);
console.log(`  with the slice of code, unchanged files    ${m.warm.toFixed(0).padStart(6)} ms  (+${(m.warm - m.without).toFixed(0)} ms; target under 300 ms)`);
