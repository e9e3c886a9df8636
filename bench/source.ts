/**
 * Reading the agents' code, whole process, side by side in one run (median of several, alternated):
 * `check` of the real 20250814 configs without a source tree, with the real slice of code and an
 * empty cache (cold), and with the cache of the run before (unchanged files). The slice holds 13 of
 * the system's 68 scripts: a tree of the whole system's size is built from it in a temporary folder
 * (the slice six times over, each copy's top-level packages renamed and its imports with them: 78
 * scripts and their closures), and timed the same way. Prints figures; asserts nothing. Needs
 * ../shared/upstream.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
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

function run(args: string[], specFile = spec): number {
  const t0 = performance.now();
  const r = spawnSync(
    process.execPath,
    [join(root, 'bin', 'agent-infra.mjs'), 'check', '--spec', specFile, '--format', 'json', ...args],
    { cwd: root, encoding: 'utf8', maxBuffer: 1 << 30 },
  );
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
console.log(
  `  with the slice of code, empty cache        ${m.cold.toFixed(0).padStart(6)} ms  (+${(m.cold - m.without).toFixed(0)} ms; target under 2000 ms)`,
);
console.log(
  `  with the slice of code, unchanged files    ${m.warm.toFixed(0).padStart(6)} ms  (+${(m.warm - m.without).toFixed(0)} ms; target under 300 ms)`,
);

/** Every .py file below `dir`, relative to it. */
function pythonFiles(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? pythonFiles(dir, join(prefix, e.name)) : e.name.endsWith('.py') ? [join(prefix, e.name)] : [],
  );
}

const COPIES = 6;
const TOP = /^(\s*)(from|import)\s+(common_utils|common|main_pc_code|pc2_code|services)\b/gm;
const scaled = mkdtempSync(join(tmpdir(), 'agent-infra-scaled-'));
const scripts: string[] = [];
for (let k = 0; k < COPIES; k++) {
  const rename = (top: string) => (k === 0 ? top : `${top}_c${k}`);
  for (const f of pythonFiles(source)) {
    const [top, ...rest] = f.split('/');
    const text = readFileSync(join(source, f), 'utf8');
    const to = join(scaled, 'src', rename(top!), ...rest);
    mkdirSync(dirname(to), { recursive: true });
    writeFileSync(
      to,
      k === 0 ? text : text.replace(TOP, (_m, sp: string, kw: string, t: string) => `${sp}${kw} ${rename(t)}`),
    );
    if (
      /__name__ == ["']__main__["']/.test(text) &&
      /^(main_pc_code\/(agents|FORMAINPC)|pc2_code\/agents|services)\//.test(f)
    )
      scripts.push(relative(join(scaled, 'src'), to));
  }
}
const config = [
  'agent_groups:',
  '  scaled:',
  ...scripts
    .sort()
    .flatMap((sp, i) => [
      `    Agent${i}:`,
      `      script_path: ${sp}`,
      `      port: ${20000 + i * 2}`,
      `      health_check_port: ${30000 + i * 2}`,
    ]),
].join('\n');
writeFileSync(join(scaled, 'startup_config.yaml'), `${config}\n`);
const scaledSpec = join(scaled, 'agent-infra.yaml');
writeFileSync(
  scaledSpec,
  [
    'name: scaled',
    'namespace: scaled',
    'source: src',
    'machines:',
    '  one:',
    '    config: startup_config.yaml',
    '    addressEnv: ONE_IP',
    '',
  ].join('\n'),
);
const files = pythonFiles(join(scaled, 'src')).length;
const facts = JSON.parse(
  spawnSync(
    process.execPath,
    [join(root, 'bin', 'agent-infra.mjs'), 'check', '--spec', scaledSpec, '--format', 'json', '--strict'],
    { cwd: root, encoding: 'utf8', maxBuffer: 1 << 30 },
  ).stdout,
) as { plan: { agents: { code: { closure: string[] } | null }[] } };
const closure = new Set(facts.plan.agents.flatMap((a) => a.code?.closure ?? [])).size;
const s = { without: [] as number[], cold: [] as number[], warm: [] as number[] };
for (let i = 0; i < runs; i++) {
  rmSync(cache, { recursive: true, force: true });
  s.cold.push(run([], scaledSpec));
  s.warm.push(run([], scaledSpec));
}
const ms = { cold: median(s.cold), warm: median(s.warm) };
console.log(
  `a tree of the whole system's size built from the slice (${scripts.length} scripts, a closure of ${closure} files, ${files} Python files in all), median of ${runs}:`,
);
console.log(
  `  empty cache                                ${ms.cold.toFixed(0).padStart(6)} ms  (+${(ms.cold - m.without).toFixed(0)} ms over check without code; target under 2000 ms)`,
);
console.log(
  `  unchanged files                            ${ms.warm.toFixed(0).padStart(6)} ms  (+${(ms.warm - m.without).toFixed(0)} ms; target under 300 ms)`,
);
rmSync(scaled, { recursive: true, force: true });
