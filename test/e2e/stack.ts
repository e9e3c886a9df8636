/**
 * The whole example system on one Docker engine: single-host compose files, the stub image from the
 * mini monorepo, both machines' projects up at once. Used by the end-to-end test and the startup benchmark.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parse } from 'yaml';
import { runPipeline } from '../../lib/pipeline.ts';
import type { SystemPlan } from '../../lib/plan/types.ts';
import { cli, EXAMPLE_SPEC, ROOT } from '../helpers.ts';
import { BASE_MAP, docker } from '../docker-helpers.ts';

export interface StackOptions {
  /** Docker health-check interval for every agent (the example's configs say 5 s). */
  readonly healthIntervalSeconds: number;
  readonly timeoutSeconds: number;
  readonly log: (line: string) => void;
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
}

const PROJECT_PREFIX = 'agent-infra-e2e';

function compose(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const p = spawn('docker-compose', args, { env: { ...process.env, ...env } });
    let output = '';
    p.stdout.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (output += d.toString()));
    p.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

/** Builds (or reuses, from the engine's cache) the stub image: the CPU family of the e2e spec, from the mini monorepo. */
export async function prepareImages(spec: string, plan: SystemPlan, log: (l: string) => void): Promise<void> {
  const r = cli(['images', '--spec', spec, '--context', join(ROOT, 'test', 'fixtures', 'mini-monorepo'), ...BASE_MAP, '--family', 'cpu', '--json', join(mkdtempSync(join(tmpdir(), 'e2e-img-')), 'r.json')]);
  if (r.code !== 0) throw new Error(`building the stub image failed:\n${r.stderr.slice(-2000)}`);
  log(`stub image ${plan.images[0]!.image} ready`);
}

/** Writes the e2e spec (the example, probes every `healthIntervalSeconds`) and synthesizes its compose files. */
export function synthesizeStack(dir: string, o: StackOptions): { plan: SystemPlan; composeDir: string } {
  const example = join(ROOT, 'examples', 'two-pc');
  // Every agent runs the stub image of the CPU family, which then carries every agent's sources.
  const text = readFileSync(EXAMPLE_SPEC, 'utf8')
    .replace(/config: main_pc_code\//, `config: ${example}/main_pc_code/`)
    .replace(/config: pc2_code\//, `config: ${example}/pc2_code/`)
    .replace(/family: gpu-(torch|audio)/g, 'family: cpu')
    .replace(/gpuFamily: gpu-torch/, 'gpuFamily: cpu');
  if (/family: gpu-/.test(text)) throw new Error('the e2e spec still names a GPU family');
  writeFileSync(join(dir, 'agent-infra.yaml'), `${text}healthChecks: {intervalSeconds: ${o.healthIntervalSeconds}, timeoutSeconds: 2, retries: 3}\n`);
  copyFileSync(join(example, 'agent-infra.lock.yaml'), join(dir, 'agent-infra.lock.yaml'));
  const r = cli(['synth', '--spec', join(dir, 'agent-infra.yaml'), '--out', join(dir, 'dist'), '--only', 'compose']);
  if (r.code !== 0) throw new Error(`synth failed: ${r.stderr}`);
  const plan = runPipeline({ spec: join(dir, 'agent-infra.yaml'), cwd: dir }).plan;
  return { plan, composeDir: join(dir, 'dist', 'compose', 'single-host') };
}

async function projectContainers(projects: readonly string[]) {
  const all = await docker.listContainers({ all: true, filters: { label: ['com.docker.compose.project'] } });
  return all.filter((c) => projects.includes(c.Labels['com.docker.compose.project']!));
}

/** Brings both machines up on one host, waits until every agent is healthy, collects the facts, tears down. */
export async function runStack(o: StackOptions): Promise<StackRun> {
  const dir = mkdtempSync(join(tmpdir(), 'e2e-'));
  const { plan, composeDir } = synthesizeStack(dir, o);
  if (plan.images.length !== 1) throw new Error(`the e2e system should use one image, got ${plan.images.map((i) => i.family).join(', ')}`);
  await prepareImages(join(dir, 'agent-infra.yaml'), plan, o.log);
  mkdirSync(join(dir, 'models'));
  const env = { MAIN_PC_IP: 'localhost', PC2_IP: 'localhost', AGENT_MODELS_DIR: join(dir, 'models'), COMPOSE_PARALLEL_LIMIT: '128' };
  const projects = plan.machines.map((m) => `${PROJECT_PREFIX}-${m.name}`);
  const files = Object.fromEntries(plan.machines.map((m) => [m.name, join(composeDir, `docker-compose.${m.name}.yml`)]));
  const down = () => Promise.all(plan.machines.map((m, i) => compose(['-p', projects[i]!, '-f', files[m.name]!, '--profile', 'optional', 'down', '-v', '--remove-orphans', '--timeout', '5'], env)));
  await down();
  let seconds = Infinity;
  let upOutput = '';
  try {
    o.log(`bringing up ${plan.agents.length} agents in ${projects.join(' and ')}`);
    const t0 = performance.now();
    const ups = Promise.all(plan.machines.map((m, i) => compose(['-p', projects[i]!, '-f', files[m.name]!, '--profile', 'optional', 'up', '-d', '--no-build'], env)));
    // Readiness as the agents report it: every /health answering 200, polled from this host.
    const endpoints = plan.agents.map((a) => `http://127.0.0.1:${a.healthPort.singleHostPort}/health`);
    const ok = async (url: string) => {
      try {
        return (await fetch(url, { signal: AbortSignal.timeout(1000) })).status === 200;
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
      await new Promise((r) => setTimeout(r, 250));
    }
    o.log(`every agent answered /health 200 after ${seconds.toFixed(1)} s; waiting for Docker's health checks to agree`);
    const dockerDeadline = performance.now() + 180_000;
    while (performance.now() < dockerDeadline) {
      const cs = await projectContainers(projects);
      if (cs.length === plan.agents.length && cs.every((c) => /\(healthy\)/.test(c.Status))) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const results = await ups;
    upOutput = results.map((r) => r.output).join('\n');
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
          // Docker multiplexes stdout and stderr with 8-byte frame headers; strip them.
          logs: logs.toString('latin1').replace(/[\x00-\x08][\x00]{3}[\s\S]{4}/g, ''),
        };
      }),
    );
    return { plan, projects, composeFiles: Object.fromEntries(Object.entries(files).map(([k, f]) => [k, readFileSync(f, 'utf8')])), seconds, agents, upOutput };
  } finally {
    await down();
  }
}

/** What remains of the projects after teardown: containers, networks and volumes. */
export async function leftovers(projects: readonly string[]): Promise<string[]> {
  const containers = (await projectContainers(projects)).map((c) => `container ${c.Names[0]}`);
  const networks = (await docker.listNetworks()).filter((n) => projects.includes(n.Labels?.['com.docker.compose.project'] ?? '')).map((n) => `network ${n.Name}`);
  const volumes = ((await docker.listVolumes()).Volumes ?? []).filter((v) => projects.includes(v.Labels?.['com.docker.compose.project'] ?? '')).map((v) => `volume ${v.Name}`);
  return [...containers, ...networks, ...volumes];
}

export const composeDoc = (text: string) => parse(text) as { services: Record<string, { environment: Record<string, string> }> };
