/**
 * Generated single-host compose projects brought up on the engine inside one network namespace of their
 * own that has only a loopback interface (a `--network none` holder container): no route out, nothing
 * reachable but what the projects serve each other. Shared by the suites that run real or stand-in code.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parse } from 'yaml';
import { toYaml } from '../lib/contract/yaml.ts';
import { LOCAL_BASE } from './docker-helpers.ts';
import { runLabels, type TestRun } from './docker-run.ts';

/** Runs a command; its exit code and output (stdout then stderr). */
export function sh(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeout?: number } = {}) {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
    timeout: opts.timeout ?? 600_000,
    maxBuffer: 64 << 20,
  });
  return { code: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

const labelFlags = (run: TestRun) => Object.entries(runLabels(run)).flatMap(([k, v]) => ['--label', `${k}=${v}`]);

/**
 * Starts the holder of the namespace and returns its id, or throws with why; `routes` and `interfaces`
 * are what the namespace has besides loopback (both must be empty for the suites to go on).
 */
export function loopbackHolder(run: TestRun): { id: string; routes: string[]; interfaces: string[] } {
  const h = sh('docker', ['run', '-d', '--network', 'none', ...labelFlags(run), LOCAL_BASE, 'sleep', 'infinity']);
  if (h.code !== 0) throw new Error(`the holder container did not start: ${h.out}`);
  const id = h.out.trim();
  const seen = sh('docker', ['exec', id, 'cat', '/proc/net/route', '/proc/net/dev']).out;
  return {
    id,
    routes: seen.split('\n').filter((l) => /^\S+\t/.test(l) && !l.startsWith('Iface')),
    interfaces: [...seen.matchAll(/^\s*(eth|ens|veth)\w*:/gm)].map((m) => m[0].trim()),
  };
}

/**
 * `-f` arguments for a machine's single-host compose file joined to the holder's namespace: an override
 * (written to `dir`) that labels every service and volume with the run and sets `network_mode`.
 * Returns them with the file's service names.
 */
export function inHolder(
  composeFile: string,
  dir: string,
  machine: string,
  holder: string,
  run: TestRun,
): { files: string[]; services: string[] } {
  const doc = parse(readFileSync(composeFile, 'utf8')) as {
    services: Record<string, unknown>;
    volumes?: Record<string, unknown>;
  };
  const labels = runLabels(run);
  const override = join(dir, `override.${machine}.yml`);
  writeFileSync(
    override,
    toYaml({
      services: Object.fromEntries(
        Object.keys(doc.services).map((s) => [s, { labels, network_mode: `container:${holder}` }]),
      ),
      volumes: Object.fromEntries(Object.keys(doc.volumes ?? {}).map((v) => [v, { labels }])),
    }),
  );
  return { files: ['-f', composeFile, '-f', override], services: Object.keys(doc.services) };
}

/** Every container of the run: its compose service and status (`Up 3 seconds (healthy)`). */
export function runContainers(run: TestRun): Map<string, string> {
  const ps = sh('docker', [
    'ps',
    '-a',
    '--filter',
    `label=agent-infra.test-run=${run.id}`,
    '--format',
    '{{.Label "com.docker.compose.service"}}\t{{.Status}}',
  ]);
  return new Map(
    ps.out
      .trim()
      .split('\n')
      .filter((l) => l.includes('\t'))
      .map((l) => l.split('\t') as [string, string]),
  );
}

/** Waits until every service in `ids` is healthy or `timeoutMs` passes; the last state and the seconds taken. */
export function untilHealthy(
  run: TestRun,
  ids: readonly string[],
  timeoutMs: number,
): { state: Map<string, string>; seconds: number; unhealthy: string[] } {
  const t0 = performance.now();
  let state = runContainers(run);
  while (performance.now() - t0 < timeoutMs) {
    state = runContainers(run);
    if (ids.every((id) => /\(healthy\)/.test(state.get(id) ?? ''))) break;
    spawnSync('sleep', ['2']);
  }
  return {
    state,
    seconds: (performance.now() - t0) / 1000,
    unhealthy: ids.filter((id) => !/\(healthy\)/.test(state.get(id) ?? '')),
  };
}
