/**
 * The whole example system on one Docker engine: single-host compose files, the mini monorepo's
 * stand-in BaseAgents in one image, Redis and NATS in the images named by the generated files (local
 * stand-ins, scripts/base-images.sh), both machines' projects up at once. Used by the end-to-end test
 * and the startup benchmark.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parse } from 'yaml';
import { runPipeline } from '../../lib/pipeline.ts';
import type { SystemPlan } from '../../lib/plan/types.ts';
import { toYaml } from '../../lib/contract/yaml.ts';
import { cli, exampleSpecCopy, ROOT, withStandInPackages } from '../helpers.ts';
import { BASE_MAP, demux, docker, execIn, explain, hasImage } from '../docker-helpers.ts';
import { labelArgs, portFree, RUN_LABEL, runLabels, type TestRun } from '../docker-run.ts';

export interface StackOptions {
  /** Docker health-check interval for every agent (the example's configs say 5 s). */
  readonly healthIntervalSeconds: number;
  /** Keep the example's GPU families (and so its GPU reservations), each built from the mini monorepo. @default false */
  readonly keepGpuFamilies?: boolean;
  /** Docker health-check timeout. @default 2 */
  readonly healthTimeoutSeconds?: number;
  readonly timeoutSeconds: number;
  readonly log: (line: string) => void;
  /** The test run whose labels the containers, volumes and images carry. */
  readonly run: TestRun;
  /** Runs once every agent is healthy, before teardown (for tests that need the system up). */
  readonly whileUp?: (up: UpSystem) => Promise<unknown>;
}

/** The running system, for `whileUp`. */
export interface UpSystem {
  readonly plan: SystemPlan;
  /** The folder of the single-host compose files (and their prometheus.yml). */
  readonly composeDir: string;
  /** The compose projects, in the order of the plan's machines. */
  readonly projects: readonly string[];
  /** Container id by compose service name. */
  readonly containers: ReadonlyMap<string, string>;
  /** docker-compose with the run's project, files and environment, for one machine. */
  readonly compose: (machine: string, args: string[]) => Promise<{ code: number; output: string }>;
  /** The image's probe program in an agent's container, on its own readiness target (AGENT_HEALTH). */
  readonly probe: (service: string) => Promise<{ exitCode: number; output: string }>;
}

export interface AgentState {
  readonly service: string;
  readonly project: string;
  readonly health: string;
  readonly restarts: number;
  readonly exitCode: number;
  readonly memoryLimit: number;
  readonly memoryUsage: number;
  readonly logs: string;
}

export interface StackRun {
  readonly plan: SystemPlan;
  readonly projects: readonly string[];
  readonly composeFiles: Readonly<Record<string, string>>;
  /** Seconds from `up` to every agent healthy (Infinity when the timeout struck first). */
  readonly seconds: number;
  readonly agents: readonly AgentState[];
  readonly upOutput: string;
  /** The PORT_OFFSET the run chose: every single-host port was free when it was chosen. */
  readonly portOffset: number;
  /** What `whileUp` returned. */
  readonly whileUp?: unknown;
}

function compose(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const p = spawn('docker-compose', args, { env: { ...process.env, ...env } });
    let output = '';
    p.stdout.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (output += d.toString()));
    p.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

/** Builds (or reuses, from the engine's cache) the stand-in agents' images: each family of the e2e spec (the CPU one alone unless GPU families are kept), from the mini monorepo. */
export async function prepareImages(spec: string, plan: SystemPlan, o: StackOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'e2e-img-'));
  const r = cli(
    [
      'images',
      '--spec',
      spec,
      '--context',
      join(ROOT, 'test', 'fixtures', 'mini-monorepo'),
      ...BASE_MAP,
      ...labelArgs(o.run),
      // Every family of the plan: only the CPU one unless the caller kept the GPU families.
      ...plan.images.flatMap((i) => ['--family', i.family]),
      '--json',
      join(dir, 'r.json'),
    ],
    dir,
  );
  rmSync(dir, { recursive: true, force: true });
  if (r.code !== 0) throw new Error(`building the stub image failed:\n${r.stderr.slice(-2000)}`);
  o.log(`stand-in agent images ${plan.images.map((i) => i.image).join(', ')} ready`);
  for (const svc of plan.services)
    if (!(await hasImage(svc.image)))
      throw new Error(
        `image ${svc.image} is missing: run scripts/base-images.sh, which builds a local stand-in under that tag`,
      );
}

/** Every port the plan has an agent or a service bind on the single host. */
const singleHostPorts = (plan: SystemPlan) => [
  ...plan.agents.flatMap((a) => a.ports.map((p) => p.singleHostPort ?? p.port)),
  ...plan.services.flatMap((s) => [s.port, ...(s.monitorPort !== undefined ? [s.monitorPort] : [])]),
];

/**
 * Writes the e2e spec (the example with every agent on the stub image of this run, probes every
 * `healthIntervalSeconds`, ports shifted by `offset`) and plans it.
 */
export function writeStackSpec(dir: string, o: StackOptions, offset: number): { spec: string; plan: SystemPlan } {
  const spec = exampleSpecCopy(dir, (t) => {
    const families = o.keepGpuFamilies
      ? t
      : t.replace(/family: gpu-(torch|audio)/g, 'family: cpu').replace(/gpuFamily: gpu-torch/, 'gpuFamily: cpu');
    const text = families
      .replace(/PORT_OFFSET: 0/, `PORT_OFFSET: ${offset}`)
      // The reassignment range moves with the ports it serves.
      .replace(
        /range: \{start: (\d+), end: (\d+)\}/,
        (_m, a: string, b: string) => `range: {start: ${Number(a) + offset}, end: ${Number(b) + offset}}`,
      );
    if ((!o.keepGpuFamilies && /family: gpu-/.test(text)) || !text.includes(`PORT_OFFSET: ${offset}`))
      throw new Error('the e2e spec could not be derived from the example');
    // Redis and NATS move with the agents' ports; Debian's pyzmq and redis stand in for the agents' PyPI packages.
    const services = `services: {redis: {port: ${6379 + offset}}, nats: {port: ${4222 + offset}, monitorPort: ${8222 + offset}}}\n`;
    return `${withStandInPackages(text)}tag: e2e-${o.run.id}\nhealthChecks: {intervalSeconds: ${o.healthIntervalSeconds}, timeoutSeconds: ${o.healthTimeoutSeconds ?? 2}, retries: 3}\n${services}`;
  });
  // The example's lock holds the ports of offset 0; this run's are planned afresh.
  rmSync(join(dir, 'agent-infra.lock.yaml'));
  return { spec, plan: runPipeline({ spec, cwd: dir }).plan };
}

/**
 * Chooses a PORT_OFFSET at which every single-host port of the plan is free on 127.0.0.1 right now
 * (below the kernel's ephemeral range), writes that spec and synthesizes its compose files.
 */
export async function synthesizeStack(
  dir: string,
  o: StackOptions,
): Promise<{ plan: SystemPlan; composeDir: string; offset: number }> {
  const base = singleHostPorts(writeStackSpec(dir, o, 0).plan);
  const span = Math.max(...base) - Math.min(...base);
  const candidates: number[] = [];
  for (let offset = 10_000; Math.max(...base) + offset < 32_768; offset += 1_000) candidates.push(offset);
  // Two runs on one machine start their search in different places.
  const start = o.run.owner.length ? Number(o.run.owner.split(':')[0]) % candidates.length : 0;
  for (const offset of [...candidates.slice(start), ...candidates.slice(0, start)]) {
    const { spec, plan } = writeStackSpec(dir, o, offset);
    // Listeners the config writes as literals (`tcp://*:5561`) stay where they are: they must be free too.
    const ports = singleHostPorts(plan);
    const fixed = ports.filter((p, i) => p === base[i]);
    const free = await Promise.all(ports.map(portFree));
    if (!free.every(Boolean)) continue;
    const r = cli(['synth', '--spec', spec, '--out', join(dir, 'dist'), '--only', 'compose'], dir);
    if (r.code !== 0) throw new Error(`synth failed: ${r.stderr}`);
    o.log(
      `${ports.length} ports ${Math.min(...ports.filter((p) => !fixed.includes(p)))}-${Math.max(...ports)} (PORT_OFFSET ${offset}, a span of ${span}) are free, ${fixed.length} literal ones (${fixed.join(', ')}) too`,
    );
    return { plan, composeDir: join(dir, 'dist', 'compose', 'single-host'), offset };
  }
  throw new Error(
    `no PORT_OFFSET from ${candidates[0]} to ${candidates.at(-1)} leaves every single-host port of the example free`,
  );
}

/** A compose override that puts the run's labels on every service and volume of a generated file. */
export function labelOverride(file: string, run: TestRun): string {
  const doc = parse(readFileSync(file, 'utf8')) as {
    services: Record<string, unknown>;
    volumes?: Record<string, unknown>;
  };
  const labels = runLabels(run);
  const services = Object.fromEntries(Object.keys(doc.services).map((s) => [s, { labels }]));
  const volumes = Object.fromEntries(Object.keys(doc.volumes ?? {}).map((v) => [v, { labels }]));
  return toYaml({ services, ...(Object.keys(volumes).length ? { volumes } : {}) });
}

async function projectContainers(projects: readonly string[]) {
  const all = await docker.listContainers({ all: true, filters: { label: ['com.docker.compose.project'] } });
  return all.filter((c) => projects.includes(c.Labels['com.docker.compose.project']!));
}

/** Brings both machines up on one host, waits until every agent is healthy, collects the facts, tears down. */
export async function runStack(o: StackOptions): Promise<StackRun> {
  const dir = mkdtempSync(join(tmpdir(), 'e2e-'));
  const { plan, composeDir, offset } = await synthesizeStack(dir, o);
  if (plan.images.length !== 1)
    throw new Error(`the e2e system should use one image, got ${plan.images.map((i) => i.family).join(', ')}`);
  await prepareImages(join(dir, 'agent-infra.yaml'), plan, o);
  mkdirSync(join(dir, 'models'));
  const env = {
    MAIN_PC_IP: 'localhost',
    PC2_IP: 'localhost',
    AGENT_MODELS_DIR: join(dir, 'models'),
    COMPOSE_PARALLEL_LIMIT: '128',
  };
  // Project names of this run: a second run on the same engine cannot take them down.
  const projects = plan.machines.map((m) => `agent-infra-e2e-${o.run.id}-${m.name}`);
  const files = Object.fromEntries(
    plan.machines.map((m) => [m.name, join(composeDir, `docker-compose.${m.name}.yml`)]),
  );
  const overrides = Object.fromEntries(
    plan.machines.map((m) => {
      const f = join(dir, `labels.${m.name}.yml`);
      writeFileSync(f, labelOverride(files[m.name]!, o.run));
      return [m.name, f];
    }),
  );
  const fileArgs = (m: string) => ['-f', files[m]!, '-f', overrides[m]!];
  const down = () =>
    Promise.all(
      plan.machines.map((m, i) =>
        compose(
          [
            '-p',
            projects[i]!,
            ...fileArgs(m.name),
            '--profile',
            'optional',
            'down',
            '-v',
            '--remove-orphans',
            '--timeout',
            '5',
          ],
          env,
        ),
      ),
    );
  let seconds = Infinity;
  let upOutput: string;
  try {
    o.log(`bringing up ${plan.agents.length} agents in ${projects.join(' and ')}`);
    const t0 = performance.now();
    const ups = Promise.all(
      plan.machines.map((m, i) =>
        compose(['-p', projects[i]!, ...fileArgs(m.name), '--profile', 'optional', 'up', '-d', '--no-build'], env),
      ),
    );
    // Readiness as the agents report it: the status in the body of each BaseAgent's HTTP /health (at
    // health + 1), polled from this host; `ok` only once the agent's ready key is in Redis.
    const endpoints = plan.agents.map((a) => `http://127.0.0.1:${a.healthPort.singleHostPort! + 1}/health`);
    const ok = async (url: string) => {
      try {
        const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
        return r.status === 200 && ((await r.json()) as { status?: string }).status === 'ok';
      } catch {
        return false;
      }
    };
    let lastReport = 0;
    const readySet = new Set<string>();
    while ((performance.now() - t0) / 1000 < o.timeoutSeconds) {
      // Once ready an agent stays ready (Docker's health checks confirm it below): poll only the rest.
      const pending = endpoints.filter((e) => !readySet.has(e));
      const states = await Promise.all(pending.map(ok));
      pending.forEach((e, i) => states[i] && readySet.add(e));
      const ready = readySet.size;
      if (ready === endpoints.length) {
        seconds = (performance.now() - t0) / 1000;
        break;
      }
      if (performance.now() - lastReport > 10_000) {
        o.log(`  ${((performance.now() - t0) / 1000).toFixed(0)} s: ${ready} of ${endpoints.length} agents ready`);
        lastReport = performance.now();
      }
      // Each poll of a pending agent costs it a Redis lookup: twice a second is enough.
      await new Promise((r) => setTimeout(r, 500));
    }
    const results = await ups;
    upOutput = results.map((r) => r.output).join('\n');
    if (Number.isFinite(seconds)) {
      o.log(
        `every agent reported status ok after ${seconds.toFixed(1)} s; waiting for Docker's health checks (the ZMQ probes) to agree`,
      );
      const dockerDeadline = performance.now() + 180_000;
      const expected = plan.agents.length + plan.services.length;
      while (performance.now() < dockerDeadline) {
        const cs = await projectContainers(projects);
        if (cs.length === expected && cs.every((c) => /\(healthy\)/.test(c.Status))) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
    } else {
      // The wait explains itself: what the first agents that never got ready did.
      const pending = plan.agents.filter((a) => !readySet.has(endpoints[plan.agents.indexOf(a)]!));
      o.log(
        `${pending.length} of ${plan.agents.length} agents not ready after ${o.timeoutSeconds} s: ${pending.map((a) => a.id).join(', ')}\n${upOutput.slice(-2000)}`,
      );
      const byService = new Map(
        (await projectContainers(projects)).map((c) => [c.Labels['com.docker.compose.service']!, c.Id]),
      );
      for (const a of pending.slice(0, 5))
        o.log(byService.has(a.id) ? await explain(byService.get(a.id)!) : `${a.id}: no container`);
    }
    // In parallel: the stats call samples for about a second per container.
    const agents: AgentState[] = await Promise.all(
      (await projectContainers(projects)).map(async (c) => {
        const ct = docker.getContainer(c.Id);
        const [info, stats, logs] = await Promise.all([
          ct.inspect(),
          ct.stats({ stream: false }) as Promise<{ memory_stats?: { usage?: number; stats?: { cache?: number } } }>,
          ct.logs({ stdout: true, stderr: true, follow: false }) as unknown as Promise<Buffer>,
        ]);
        return {
          service: c.Labels['com.docker.compose.service']!,
          project: c.Labels['com.docker.compose.project']!,
          health: info.State.Health?.Status ?? 'none',
          restarts: info.RestartCount,
          exitCode: info.State.ExitCode,
          memoryLimit: info.HostConfig.Memory ?? 0,
          memoryUsage: (stats.memory_stats?.usage ?? 0) - (stats.memory_stats?.stats?.cache ?? 0),
          logs: demux(logs),
        };
      }),
    );
    let whileUp: unknown;
    if (o.whileUp && Number.isFinite(seconds)) {
      const containers = new Map(
        (await projectContainers(projects)).map((c) => [c.Labels['com.docker.compose.service']!, c.Id]),
      );
      whileUp = await o.whileUp({
        plan,
        composeDir,
        projects,
        containers,
        compose: (machine, args) =>
          compose(
            ['-p', projects[plan.machines.findIndex((m) => m.name === machine)]!, ...fileArgs(machine), ...args],
            env,
          ),
        probe: (service) => execIn(containers.get(service)!, ['python3', '-S', '/usr/local/bin/agent-infra-health']),
      });
    }
    return {
      plan,
      projects,
      composeFiles: Object.fromEntries(Object.entries(files).map(([k, f]) => [k, readFileSync(f, 'utf8')])),
      seconds,
      agents,
      upOutput,
      portOffset: offset,
      ...(whileUp !== undefined ? { whileUp } : {}),
    };
  } finally {
    await down();
  }
}

/** What remains of the projects after teardown: containers, networks and volumes of the projects or labelled with the run. */
export async function leftovers(projects: readonly string[], run: TestRun): Promise<string[]> {
  const ofRun = { label: [`${RUN_LABEL}=${run.id}`] };
  const containers = [
    ...(await projectContainers(projects)),
    ...(await docker.listContainers({ all: true, filters: ofRun })),
  ].map((c) => `container ${c.Names[0]}`);
  const networks = [
    ...(await docker.listNetworks()).filter((n) => projects.includes(n.Labels?.['com.docker.compose.project'] ?? '')),
    ...(await docker.listNetworks({ filters: ofRun })),
  ].map((n) => `network ${n.Name}`);
  const volumes = [
    ...((await docker.listVolumes()).Volumes ?? []).filter((v) =>
      projects.includes(v.Labels?.['com.docker.compose.project'] ?? ''),
    ),
    ...((await docker.listVolumes({ filters: ofRun })).Volumes ?? []),
  ].map((v) => `volume ${v.Name}`);
  return [...new Set([...containers, ...networks, ...volumes])];
}

export const composeDoc = (text: string) =>
  parse(text) as { services: Record<string, { environment: Record<string, string> }> };
