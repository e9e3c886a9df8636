/** Shared test helpers: paths, the real upstream configs, and running the CLI as a user would. */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const UPSTREAM = resolve(ROOT, '..', 'shared', 'upstream');
export const HAS_UPSTREAM = existsSync(UPSTREAM);
export const EXAMPLE_SPEC = join(ROOT, 'examples', 'two-pc', 'agent-infra.yaml');

if (!HAS_UPSTREAM) {
  console.warn(`skipping tests on the real configs: ${UPSTREAM} is absent (it sits beside a checkout as ../shared/upstream)`);
}

/** `--machine` arguments for one snapshot of the real configs. */
export function upstreamMachines(snapshot: string): string[] {
  const out = [`mainpc=${join(UPSTREAM, `${snapshot}_mainpc.yaml`)}`];
  if (existsSync(join(UPSTREAM, `${snapshot}_pc2.yaml`))) out.push(`pc2=${join(UPSTREAM, `${snapshot}_pc2.yaml`)}`);
  return out;
}

/** Runs `agent-infra` in a child process, as `npx agent-infra` would. */
export function cli(args: readonly string[], cwd = ROOT, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'agent-infra.mjs'), ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Writes the example spec into `dir` (its configs by absolute path, its lock beside it), changed by
 * `edit`, and returns the copy's path: for suites that must not touch the example or each other's images.
 */
export function exampleSpecCopy(dir: string, edit: (text: string) => string = (t) => t): string {
  const example = dirname(EXAMPLE_SPEC);
  const text = readFileSync(EXAMPLE_SPEC, 'utf8')
    .replace(/config: main_pc_code\//, `config: ${example}/main_pc_code/`)
    .replace(/config: pc2_code\//, `config: ${example}/pc2_code/`);
  const spec = join(dir, 'agent-infra.yaml');
  writeFileSync(spec, edit(text));
  copyFileSync(join(example, 'agent-infra.lock.yaml'), join(dir, 'agent-infra.lock.yaml'));
  return spec;
}
