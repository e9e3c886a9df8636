/**
 * The messy fixture system (test/fixtures/messy-system/README.md) brought up as a user would after a
 * first run: `init`, then the image families told what to install (Debian's python3-zmq, -redis and
 * -yaml standing in for the stand-in BaseAgent's PyPI packages), `synth` without `--strict`, the images
 * built from the generated Dockerfiles, and both single-host projects up with real Redis and NATS in a
 * network namespace that has only a loopback interface. Every deployed agent must turn healthy by its
 * generated probe, and no left-out agent may have a container.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cli, messyRepo, STACK, STAND_IN_PACKAGES } from '../helpers.ts';
import { BASE_MAP, HAS_ENGINE } from '../docker-helpers.ts';
import { HAS_DOCKER_COMPOSE } from '../compose-helpers.ts';
import { labelArgs } from '../docker-run.ts';
import { inHolder, loopbackHolder, runContainers, sh, untilHealthy } from '../loopback-stack.ts';

/** What the fixture's README says is deployed and left out, by service name. */
const DEPLOYED = [
  'chitchat-agent',
  'legacy-timer',
  'memory-agent',
  'nested-worker',
  'service-registry',
  'system-digital-twin',
];
const LEFT_OUT = ['report-agent', 'scratch-pad', 'summary-agent', 'translator', 'tutoring-agent', 'vision-bridge'];

const why = !HAS_ENGINE
  ? 'no Docker engine (scripts/docker-engine.sh starts one)'
  : !HAS_DOCKER_COMPOSE
    ? 'no docker-compose (scripts/docker-engine.sh installs it)'
    : undefined;
if (why) console.warn(`messy-system end-to-end suite skipped: ${why}`);

describe.skipIf(why !== undefined)('the messy system, partly deployed, on the engine', () => {
  const run = inject('dockerRun');
  const dir = mkdtempSync(join(tmpdir(), 'messy-e2e-'));
  const repo = join(dir, 'repo');
  const env = { AGENT_MODELS_DIR: join(dir, 'models'), AGENT_IMAGE_TAG: `messy-${run.id}` };
  const projects: Record<string, { name: string; files: string[] }> = {};
  let holder = '';
  let plan: { agents: { id: string }[]; leftOut: { name: string }[] };
  const figures: string[] = [];

  beforeAll(() => {
    mkdirSync(repo);
    messyRepo(repo);
    mkdirSync(env.AGENT_MODELS_DIR);
    const init = cli(['init'], repo);
    expect(init.code, init.stderr).toBe(0);
    // What a user adds next: what the images install, and (here) a tag of the run and quick probes.
    const family = (gpu: boolean) =>
      `{gpu: ${gpu}, builderBase: python:3.11-slim-bookworm, runtimeBase: python:3.11-slim-bookworm, runtimePackages: [${STAND_IN_PACKAGES.join(', ')}], systemSitePackages: true}`;
    const spec = join(repo, 'agent-infra.yaml');
    writeFileSync(
      spec,
      `${readFileSync(spec, 'utf8')}images: {cpu: ${family(false)}, gpu: ${family(true)}}\ntag: messy-${run.id}\nhealthChecks: {intervalSeconds: 2, timeoutSeconds: 3, retries: 3, startPeriodSeconds: 60}\n`,
    );
    const check = cli(['check', '--format', 'json'], repo);
    expect(check.stderr).not.toMatch(STACK);
    plan = (JSON.parse(check.stdout) as { plan: typeof plan }).plan;
    const s = cli(['synth', '--only', 'compose', '--out', 'dist'], repo);
    expect(s.code, s.stderr).toBe(0);
    const images = cli(['images', '--context', '.', ...BASE_MAP, ...labelArgs(run)], repo);
    expect(images.code, images.stderr.slice(-3000)).toBe(0);
  }, 1_800_000);

  afterAll(() => {
    for (const p of Object.values(projects))
      sh('docker-compose', ['-p', p.name, ...p.files, 'down', '-v', '--remove-orphans', '--timeout', '5'], { env });
    if (holder) sh('docker', ['rm', '-f', holder]);
    rmSync(dir, { recursive: true, force: true });
    if (figures.length) console.log(`messy-system end-to-end:\n  ${figures.join('\n  ')}`);
  });

  it('plans exactly the agents the fixture says can run', () => {
    expect(plan.agents.map((a) => a.id).sort()).toEqual(DEPLOYED);
    expect(plan.leftOut.map((l) => l.name).sort()).toEqual([
      'ReportAgent',
      'ScratchPad',
      'SummaryAgent',
      'Translator',
      'TutoringAgent',
      'VisionBridge',
    ]);
  });

  it('brings every deployed agent up healthy, and starts no left-out agent', () => {
    const h = loopbackHolder(run);
    holder = h.id;
    expect([h.routes, h.interfaces]).toEqual([[], []]);
    const services: string[] = [];
    for (const m of ['mainpc', 'pc2']) {
      const file = join(repo, 'dist', 'compose', 'single-host', `docker-compose.${m}.yml`);
      expect(existsSync(file)).toBe(true);
      const attached = inHolder(file, dir, m, holder, run);
      projects[m] = { name: `agent-infra-messy-${run.id}-${m}`, files: attached.files };
      services.push(...attached.services);
    }
    // Nothing of a left-out agent is in what is deployed.
    expect(services.filter((s) => LEFT_OUT.includes(s))).toEqual([]);
    for (const p of Object.values(projects)) {
      const up = sh('docker-compose', ['-p', p.name, ...p.files, 'up', '-d', '--no-build'], { env });
      expect(up.code, up.out).toBe(0);
    }
    const { state, seconds, unhealthy } = untilHealthy(run, DEPLOYED, 240_000);
    const logs = unhealthy
      .map((id) => {
        const p = Object.values(projects).find((x) => x.files.some((f) => readFileSync(f, 'utf8').includes(`${id}:`)));
        return `${id} (${state.get(id)}):\n${p ? sh('docker-compose', ['-p', p.name, ...p.files, 'logs', '--tail', '30', id], { env }).out : ''}`;
      })
      .join('\n');
    expect(unhealthy, logs).toEqual([]);
    const started = [...runContainers(run).keys()];
    expect(started.filter((s) => LEFT_OUT.includes(s))).toEqual([]);
    figures.push(
      `${DEPLOYED.length} agents deployed, all healthy after ${seconds.toFixed(0)} s; ${LEFT_OUT.length} left out, none started (${started.length} containers: the agents, Redis, NATS)`,
    );
  }, 600_000);
});
