/** What the whole-process benchmarks share: a timed child process, the median, and a bare yaml parse to compare with. */
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/** Runs `node <args>` in `cwd`; its wall time in ms. Throws when it fails. */
export function timeNode(args: readonly string[], cwd: string): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-500)}`);
  return ms;
}

export const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Node arguments for a process that only imports the yaml package (resolved from `cwd`) and parses `files` as YAML 1.1. */
export const bareYamlParse = (files: readonly string[]) => [
  '--input-type=module',
  '-e',
  `import { parse } from 'yaml'; import { readFileSync } from 'node:fs'; for (const f of ${JSON.stringify(files)}) parse(readFileSync(f, 'utf8'), { version: '1.1' });`,
];
