/** Shared test helpers: paths, the real upstream configs, and running the CLI as a user would. */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const UPSTREAM = resolve(ROOT, '..', 'shared', 'upstream');
export const HAS_UPSTREAM = existsSync(UPSTREAM);
export const EXAMPLE_SPEC = join(ROOT, 'examples', 'two-pc', 'agent-infra.yaml');

if (!HAS_UPSTREAM) {
  console.warn(
    `skipping tests on the real configs: ${UPSTREAM} is absent (it sits beside a checkout as ../shared/upstream)`,
  );
}

/** `--machine` arguments for one snapshot of the real configs. */
export function upstreamMachines(snapshot: string): { name: string; file: string }[] {
  const out = [{ name: 'mainpc', file: join(UPSTREAM, `${snapshot}_mainpc.yaml`) }];
  const pc2 = join(UPSTREAM, `${snapshot}_pc2.yaml`);
  if (existsSync(pc2)) out.push({ name: 'pc2', file: pc2 });
  return out;
}

/** Runs `agent-infra` in a child process, as `npx agent-infra` would. */
export function cli(args: readonly string[], cwd = ROOT, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'agent-infra.mjs'), ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  // No input may reach an internal error: a run that does fails whichever test made it.
  if (r.status === 70) throw new Error(`agent-infra ${args.join(' ')} exited 70 (internal error):\n${r.stderr}`);
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Writes the example spec into `dir` with its startup configs beside it at their own relative paths
 * (where the agents' code reads them) and its lock, changed by `edit`, and returns the copy's path:
 * for suites that must not touch the example or each other's images.
 */
export function exampleSpecCopy(dir: string, edit: (text: string) => string = (t) => t): string {
  const example = dirname(EXAMPLE_SPEC);
  for (const d of ['main_pc_code', 'pc2_code']) cpSync(join(example, d), join(dir, d), { recursive: true });
  const spec = join(dir, 'agent-infra.yaml');
  writeFileSync(spec, edit(readFileSync(EXAMPLE_SPEC, 'utf8')));
  copyFileSync(join(example, 'agent-infra.lock.yaml'), join(dir, 'agent-infra.lock.yaml'));
  return spec;
}

/** A hash of every file below `dir` (a link to a folder is followed), paths relative to it: to show a run changed nothing, or which tree a folder holds. */
export function treeHash(dir: string): string {
  const h = createHash('sha256');
  const walk = (rel: string) => {
    for (const n of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      if (statSync(join(dir, r)).isDirectory()) walk(r);
      else
        h.update(`${r}\0`)
          .update(readFileSync(join(dir, r)))
          .update('\0');
    }
  };
  walk('');
  return h.digest('hex');
}

/** A stack trace's frame lines in CLI output: never shown to a user. */
export const STACK = /\n\s+at .+:\d+:\d+\)?\n/;

/** The example in a temporary folder, with a synthesized dist/ to compare against after a rejected run. */
export function exampleWithOutput(): { dir: string; spec: string; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'hostile-'));
  cpSync(join(ROOT, 'examples', 'two-pc'), dir, { recursive: true });
  const spec = join(dir, 'agent-infra.yaml');
  const out = join(dir, 'dist');
  if (cli(['synth', '--spec', spec, '--out', out, '--only', 'compose'], dir).code !== 0)
    throw new Error('the example did not synthesize');
  return { dir, spec, out };
}

/** Debian's packages that stand in for the agents' PyPI dependencies where no package index is reachable (pyzmq and redis for the mini monorepo's BaseAgent). */
export const STAND_IN_PACKAGES = ['python3-zmq', 'python3-redis', 'python3-yaml'] as const;

/**
 * The example spec's image families made to run the mini monorepo's stand-in agents here: Debian's
 * pyzmq and redis in the runtime stage, visible to the virtual environment.
 */
export function withStandInPackages(specText: string): string {
  const out = specText.replace(
    /^( +)runtimePackages: \[([^\]]*)\]$/gm,
    (_m, indent: string, list: string) =>
      `${indent}runtimePackages: [${[
        ...list
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
        ...STAND_IN_PACKAGES,
      ].join(', ')}]\n${indent}systemSitePackages: true`,
  );
  if (!out.includes('systemSitePackages: true'))
    throw new Error('the spec has no runtimePackages line to add the stand-in packages to');
  return out;
}

/** Whether a python3 of 3.10 or later runs here: the tests that ask CPython itself need it. */
export const HAS_PYTHON =
  spawnSync('python3', ['-c', 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)']).status === 0;

/** The messy fixture system laid out as a repository: its configs and scripts, and the mini monorepo's `common/` (the stand-in BaseAgent). */
export function messyRepo(dir: string): string {
  cpSync(join(ROOT, 'test', 'fixtures', 'messy-system'), dir, { recursive: true });
  cpSync(join(ROOT, 'test', 'fixtures', 'mini-monorepo', 'common'), join(dir, 'common'), { recursive: true });
  return dir;
}
