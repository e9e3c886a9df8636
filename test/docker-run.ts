/**
 * One run of the Docker-based suites: the labels on everything it creates, the removal of what it (or an
 * earlier run that died) left on the engine, and ports chosen at run time.
 *
 * Every container, volume, network and image a suite creates carries `agent-infra.test-run=<id>` and
 * `agent-infra.test-owner=<pid>:<start time>` of the vitest process that owns the run. What an owner that
 * no longer exists left behind is removed by the next run's global setup; a live owner's is left alone,
 * so two runs on one engine do not remove each other's containers.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type Docker from 'dockerode';

export const RUN_LABEL = 'agent-infra.test-run';
export const OWNER_LABEL = 'agent-infra.test-owner';

export interface TestRun {
  readonly id: string;
  /** `<pid>:<start time in clock ticks since boot>`: a pid alone may be reused after its process is gone. */
  readonly owner: string;
}

/** The owner token of a live process, or undefined when there is none with that pid. */
export function ownerOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return `${pid}:${fields[19]}`;
  } catch {
    return undefined;
  }
}

/** Whether the process an owner token names still runs. */
export function ownerAlive(owner: string): boolean {
  const pid = Number(owner.split(':')[0]);
  return Number.isInteger(pid) && pid > 0 && ownerOf(pid) === owner;
}

export function newRun(pid = process.pid): TestRun {
  return { id: `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`, owner: ownerOf(pid) ?? `${pid}:0` };
}

export function runLabels(run: TestRun): Record<string, string> {
  return { [RUN_LABEL]: run.id, [OWNER_LABEL]: run.owner };
}

/** `--label` arguments for `agent-infra images`. */
export function labelArgs(run: TestRun): string[] {
  return Object.entries(runLabels(run)).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
}

type Labelled = { readonly labels: Readonly<Record<string, string>> };

/**
 * Removes containers, then volumes, networks and images whose labels `select` picks; returns what it
 * removed ("container <name>", ...). Only objects that carry the run label are ever considered.
 */
export async function removeLabelled(docker: Docker, select: (o: Labelled) => boolean): Promise<string[]> {
  const removed: string[] = [];
  const filters = { label: [RUN_LABEL] };
  for (const c of await docker.listContainers({ all: true, filters })) {
    if (!select({ labels: c.Labels })) continue;
    await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(ignoreGone);
    removed.push(`container ${c.Names[0]?.replace(/^\//, '') ?? c.Id}`);
  }
  for (const v of (await docker.listVolumes({ filters })).Volumes ?? []) {
    if (!select({ labels: v.Labels ?? {} })) continue;
    await docker.getVolume(v.Name).remove().catch(ignoreGone);
    removed.push(`volume ${v.Name}`);
  }
  for (const n of await docker.listNetworks({ filters })) {
    if (!select({ labels: n.Labels ?? {} })) continue;
    await docker.getNetwork(n.Id).remove().catch(ignoreGone);
    removed.push(`network ${n.Name}`);
  }
  for (const i of await docker.listImages({ all: true, filters })) {
    if (!select({ labels: i.Labels ?? {} })) continue;
    await docker.getImage(i.Id).remove({ force: true }).catch(ignoreGone);
    removed.push(`image ${i.RepoTags?.[0] ?? i.Id.slice(7, 19)}`);
  }
  return removed;
}

function ignoreGone(e: { statusCode?: number }): void {
  // 404: removed meanwhile (an image goes with its tagged child); 409: still in use by one removed later.
  if (e.statusCode !== 404 && e.statusCode !== 409) throw e;
}

/** What runs whose owner is gone left behind. */
export const isStale = (o: Labelled) => !ownerAlive(o.labels[OWNER_LABEL] ?? '');
export const isOfRun = (run: TestRun) => (o: Labelled) => o.labels[RUN_LABEL] === run.id;

/**
 * The same removal for this run through the docker CLI, synchronously: for a signal handler, where the
 * process exits before a promise could settle. A creator that outlives the test process (a
 * `docker-compose up` still starting containers) may add more after a pass: it repeats until two passes
 * a second apart find nothing, for at most `maxSeconds`.
 */
export function removeRunSync(run: TestRun, maxSeconds = 60): void {
  const filter = `label=${RUN_LABEL}=${run.id}`;
  const list = (args: string[]) =>
    (spawnSync('docker', args, { encoding: 'utf8', timeout: 20_000 }).stdout ?? '').split('\n').filter(Boolean);
  const rm = (args: string[], ids: string[]) =>
    ids.length && spawnSync('docker', [...args, ...ids], { stdio: 'ignore', timeout: 60_000 });
  const deadline = Date.now() + maxSeconds * 1000;
  let quiet = 0;
  while (quiet < 2 && Date.now() < deadline) {
    const containers = list(['ps', '-aq', '--filter', filter]);
    rm(['rm', '-f', '-v'], containers);
    const volumes = list(['volume', 'ls', '-q', '--filter', filter]);
    rm(['volume', 'rm', '-f'], volumes);
    const networks = list(['network', 'ls', '-q', '--filter', filter]);
    rm(['network', 'rm'], networks);
    const images = list(['images', '-aq', '--filter', filter]);
    rm(['rmi', '-f'], images);
    quiet = containers.length + volumes.length + networks.length + images.length === 0 ? quiet + 1 : 0;
    if (quiet < 2) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
  }
}

/** Whether a TCP port on 127.0.0.1 can be bound right now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/**
 * `count` distinct ports that are free on 127.0.0.1 at this moment, each with `span - 1` free ports after
 * it (a service port and its health port, say), below the kernel's ephemeral range so that outgoing
 * connections do not take them meanwhile.
 */
export async function freePorts(count: number, span = 1, from = 20_000 + (process.pid % 500) * 20): Promise<number[]> {
  const found: number[] = [];
  for (let p = from; found.length < count && p + span < 32_768; p += span) {
    let ok = true;
    for (let k = 0; k < span && ok; k++) ok = await portFree(p + k);
    if (ok) found.push(p);
  }
  if (found.length < count)
    throw new Error(`only ${found.length} of ${count} free port blocks of ${span} found from ${from}`);
  return found;
}

/**
 * Starts a run on `docker`'s engine: removes what runs that died left, removes this run's on SIGINT or
 * SIGTERM (then `exitOnSignal` decides whether this process exits, as a script must; vitest exits itself).
 * The returned `end` removes this run's objects and the signal handlers.
 */
export async function startRun(
  docker: Docker,
  exitOnSignal = false,
): Promise<{ run: TestRun; end: () => Promise<void> }> {
  const run = newRun();
  const engineUp = await docker.ping().then(
    () => true,
    () => false,
  );
  if (engineUp) {
    const stale = await removeLabelled(docker, isStale);
    if (stale.length) console.warn(`removed what earlier test runs left on the engine: ${stale.join(', ')}`);
  }
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: removing the containers, volumes and images of test run ${run.id}`);
    removeRunSync(run);
    if (exitOnSignal) process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const end = async () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (engineUp) await removeLabelled(docker, isOfRun(run));
  };
  return { run, end };
}
