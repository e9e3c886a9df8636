/**
 * Whole-process `agent-infra check`, side by side in one run (median of several, alternated): the
 * example against a Node process that only imports the yaml library and parses the same three files,
 * and generated systems of 100 and 1,000 agents. Prints figures; asserts nothing.
 */
import { join } from 'node:path';
import { writeSyntheticSystem } from './synthetic.ts';
import { bareYamlParse, median, timeNode } from './timing.ts';

const root = join(import.meta.dirname, '..');
const bin = join(root, 'bin', 'agent-infra.mjs');
const example = join(root, 'examples', 'two-pc');
const files = [
  join(example, 'agent-infra.yaml'),
  join(example, 'main_pc_code', 'config', 'startup_config.yaml'),
  join(example, 'pc2_code', 'config', 'startup_config.yaml'),
];
const run = (args: string[]) => timeNode(args, root);
const bare = bareYamlParse(files);
const check = (spec: string) => [bin, 'check', '--spec', spec];
const runs = Number(process.env['BENCH_RUNS'] ?? 7);
const small = writeSyntheticSystem(100);
const big = writeSyntheticSystem(1000);
const t = { bare: [] as number[], example: [] as number[], small: [] as number[], big: [] as number[] };
run(bare);
run(check(files[0]!)); // warm the file cache
for (let i = 0; i < runs; i++) {
  t.bare.push(run(bare));
  t.example.push(run(check(files[0]!)));
  t.small.push(run(check(small)));
  t.big.push(run(check(big)));
}
const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)])) as Record<keyof typeof t, number>;
console.log(`agent-infra check, whole process, median of ${runs}:`);
console.log(`  node + yaml parse of the example's 3 files ${m.bare.toFixed(0).padStart(6)} ms`);
console.log(
  `  check of the example (82 agents)           ${m.example.toFixed(0).padStart(6)} ms  (ratio ${(m.example / m.bare).toFixed(2)}, target at most 1.5)`,
);
console.log(`  check of 100 agents                        ${m.small.toFixed(0).padStart(6)} ms`);
console.log(
  `  check of 1,000 agents                      ${m.big.toFixed(0).padStart(6)} ms  (target under 1500 ms; t(1000)/t(100) ${(m.big / m.small).toFixed(2)}, at most 12)`,
);
