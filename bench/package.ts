/**
 * `agent-infra check` of the example from the installed package (npm pack, installed into an empty
 * folder), side by side with a Node process that only imports the installed yaml package and parses
 * the same three files, and with check from this checkout. Median of several runs, alternated.
 * Prints figures; asserts nothing.
 */
import { join } from 'node:path';
import { packAndInstall } from '../test/package-install.ts';
import { bareYamlParse, median, timeNode } from './timing.ts';

const runs = Number(process.env['BENCH_RUNS'] ?? 7);
const t0 = Date.now();
const installed = packAndInstall();
const installSeconds = (Date.now() - t0) / 1000;
const example = join(installed.pkg, 'examples', 'two-pc');
const files = [
  join(example, 'agent-infra.yaml'),
  join(example, 'main_pc_code', 'config', 'startup_config.yaml'),
  join(example, 'pc2_code', 'config', 'startup_config.yaml'),
];
const root = join(import.meta.dirname, '..');
const args = {
  bare: bareYamlParse(files),
  installed: [installed.bin, 'check', '--spec', files[0]!],
  checkout: [
    join(root, 'bin', 'agent-infra.mjs'),
    'check',
    '--spec',
    join(root, 'examples', 'two-pc', 'agent-infra.yaml'),
  ],
};
const t = { bare: [] as number[], installed: [] as number[], checkout: [] as number[] };
for (const k of Object.keys(args) as (keyof typeof args)[]) timeNode(args[k], installed.dir); // warm the file cache
for (let i = 0; i < runs; i++)
  for (const k of Object.keys(args) as (keyof typeof args)[]) t[k].push(timeNode(args[k], installed.dir));
const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)])) as Record<keyof typeof t, number>;
console.log(
  `agent-infra from its npm package (packed and installed in ${installSeconds.toFixed(1)} s), whole process, median of ${runs}:`,
);
console.log(`  node + the installed yaml parsing the example's 3 files ${m.bare.toFixed(0).padStart(6)} ms`);
console.log(
  `  installed agent-infra check of the example             ${m.installed.toFixed(0).padStart(6)} ms  (ratio ${(m.installed / m.bare).toFixed(2)}, target at most 1.5)`,
);
console.log(
  `  the same check from this checkout                      ${m.checkout.toFixed(0).padStart(6)} ms  (ratio ${(m.checkout / m.bare).toFixed(2)})`,
);
