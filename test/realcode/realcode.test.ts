/**
 * The real agents' code, run as the generated single-host compose files say. The slice of the real
 * repository (../shared/upstream/src-9ff5bdfb) is laid out as the repository is, with the 20250814
 * configs at their own paths; agent-infra synthesizes it without --strict, builds its images (Debian's
 * python3 packages standing in for the PyPI ones, as RUNTIME.md lists them), and the two projects come up
 * with real Redis and NATS in one network namespace of their own that has only a loopback interface.
 *
 * What must hold: every deployed agent turns healthy by its generated probe; every agent `check` says
 * cannot start, started the same way (python3 <script_path> from /app, PYTHONPATH=/app), dies of the
 * problem `check` names (its file, line and kind, read from the agent's own output).
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { cli, HAS_UPSTREAM, STACK, UPSTREAM } from '../helpers.ts';
import { BASE_MAP, HAS_ENGINE } from '../docker-helpers.ts';
import { inHolder, loopbackHolder, sh, untilHealthy } from '../loopback-stack.ts';
import { HAS_DOCKER_COMPOSE } from '../compose-helpers.ts';
import { labelArgs, runLabels } from '../docker-run.ts';

/** Debian's packages that stand in for the agents' PyPI dependencies (RUNTIME.md). */
const DEBIAN = [
  'python3-zmq',
  'python3-redis',
  'python3-pydantic',
  'python3-prometheus-client',
  'python3-psutil',
  'python3-yaml',
  'python3-aiohttp',
  'python3-numpy',
];

const SLICE = join(UPSTREAM, 'src-9ff5bdfb');
const CONFIGS = { mainpc: '20250814_9ff5bdfb_mainpc.yaml', pc2: '20250814_9ff5bdfb_pc2.yaml' } as const;
const WHERE = { mainpc: 'main_pc_code/config/startup_config.yaml', pc2: 'pc2_code/config/startup_config.yaml' };

const why = !HAS_UPSTREAM
  ? '../shared/upstream is absent'
  : !existsSync(SLICE)
    ? `${SLICE} is absent`
    : !HAS_ENGINE
      ? 'no Docker engine (scripts/docker-engine.sh starts one)'
      : !HAS_DOCKER_COMPOSE
        ? 'no docker-compose (scripts/docker-engine.sh installs it)'
        : undefined;
if (why) console.warn(`real-code suite skipped: ${why}`);

interface LeftOut {
  name: string;
  machine: string;
  script: string | null;
  reason: string;
  code: string;
  message: string;
  file: string;
  line: number;
  chain: string[];
}

describe.skipIf(why !== undefined)('the real agents’ code, as the generated single-host compose runs it', () => {
  const run = inject('dockerRun');
  const dir = mkdtempSync(join(tmpdir(), 'realcode-'));
  const repo = join(dir, 'repo');
  const env = { AGENT_MODELS_DIR: join(dir, 'models'), AGENT_IMAGE_TAG: `realcode-${run.id}` };
  const projects = { mainpc: `agent-infra-rc-${run.id}-mainpc`, pc2: `agent-infra-rc-${run.id}-pc2` };
  let holder = '';
  let check: { plan: { agents: { name: string; machine: string; id: string }[]; leftOut: LeftOut[] } };
  const files: Record<string, string[]> = {};
  const figures: string[] = [];

  beforeAll(() => {
    // The repository as it is laid out: the code, and each machine's startup config at its own path.
    cpSync(SLICE, repo, { recursive: true });
    for (const [m, f] of Object.entries(CONFIGS)) cpSync(join(UPSTREAM, f), join(repo, WHERE[m as keyof typeof WHERE]));
    mkdirSync(env.AGENT_MODELS_DIR);
    const family = (gpu: boolean) =>
      `{gpu: ${gpu}, builderBase: python:3.11-slim-bookworm, runtimeBase: python:3.11-slim-bookworm, runtimePackages: [${DEBIAN.join(', ')}], systemSitePackages: true}`;
    writeFileSync(
      join(repo, 'agent-infra.yaml'),
      [
        'name: voice-assistant',
        'namespace: voice-assistant',
        'source: ./',
        'machines:',
        `  mainpc: {config: ${WHERE.mainpc}, addressEnv: MAIN_PC_IP, gpus: [{model: NVIDIA GeForce RTX 4090, vramGiB: 24, device: 0}]}`,
        `  pc2: {config: ${WHERE.pc2}, addressEnv: PC2_IP, gpus: [{model: NVIDIA GeForce RTX 3060, vramGiB: 12, device: 0}], ports: {onConflict: reassign, range: {start: 17000, end: 17999}}}`,
        'defaults: {vramGiB: 1}',
        'agents: {ModelOpsCoordinator: {vramGiB: 6}}',
        `images: {cpu: ${family(false)}, gpu: ${family(true)}}`,
        `tag: realcode-${run.id}`,
        // Probed every 3 s; BaseAgent's constructor waits about 21 s for SystemDigitalTwin (RUNTIME.md).
        'healthChecks: {intervalSeconds: 3, timeoutSeconds: 3, retries: 3, startPeriodSeconds: 90}',
        '',
      ].join('\n'),
    );
    const c = cli(['check', '--format', 'json'], repo);
    expect(c.stderr).not.toMatch(STACK);
    check = JSON.parse(c.stdout);
    const s = cli(['synth', '--only', 'compose', '--out', 'dist'], repo);
    expect(s.stderr).not.toMatch(STACK);
    expect(s.code, s.stderr).toBe(0);
    // The families of the deployed agents, built from the generated Dockerfiles.
    const r = cli(['images', '--context', '.', ...BASE_MAP, ...labelArgs(run)], repo);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
  }, 1_800_000);

  afterAll(() => {
    for (const [m, p] of Object.entries(projects))
      if (files[m])
        sh('docker-compose', ['-p', p, ...files[m]!, 'down', '-v', '--remove-orphans', '--timeout', '5'], { env });
    if (holder) sh('docker', ['rm', '-f', holder]);
    rmSync(dir, { recursive: true, force: true });
    console.log(`real-code suite:\n  ${figures.join('\n  ')}`);
  });

  it('brings up every deployed agent healthy by its generated probe, on loopback only', () => {
    // One network namespace for both projects, with a loopback interface and nothing else: no route out.
    const h = loopbackHolder(run);
    holder = h.id;
    expect([h.routes, h.interfaces]).toEqual([[], []]);
    for (const m of Object.keys(projects) as (keyof typeof projects)[])
      files[m] = inHolder(
        join(repo, 'dist', 'compose', 'single-host', `docker-compose.${m}.yml`),
        dir,
        m,
        holder,
        run,
      ).files;
    for (const [m, p] of Object.entries(projects)) {
      const up = sh('docker-compose', ['-p', p, ...files[m]!, 'up', '-d', '--no-build'], { env });
      expect(up.code, up.out).toBe(0);
    }
    const deployed = check.plan.agents;
    const {
      state: s,
      seconds,
      unhealthy: ids,
    } = untilHealthy(
      run,
      deployed.map((a) => a.id),
      240_000,
    );
    const unhealthy = deployed.filter((a) => ids.includes(a.id));
    const logs = unhealthy
      .map(
        (a) =>
          `${a.id} (${s.get(a.id)}):\n${sh('docker-compose', ['-p', projects[a.machine as keyof typeof projects], ...files[a.machine]!, 'logs', '--tail', '30', a.id], { env }).out}`,
      )
      .join('\n');
    expect(
      unhealthy.map((a) => a.name),
      logs,
    ).toEqual([]);
    figures.push(
      `${deployed.length} agents deployed (${deployed.map((a) => a.name).join(', ')}), all healthy after ${seconds.toFixed(0)} s`,
    );
  }, 600_000);

  it('every agent check says cannot start dies of the problem check names, at that file and line', () => {
    const cannot = check.plan.leftOut.filter((l) => l.reason === 'cannot-start');
    expect(cannot.length).toBeGreaterThan(0);
    const image = `agent-infra/cpu:realcode-${run.id}`;
    const byCode = new Map<string, number>();
    for (const l of cannot) {
      const path = scriptOf(repo, l);
      expect(l.script, `${l.name}: the script check names`).toBe(path);
      // As the image starts an agent: python3 <script_path> from /app with /app on the path.
      const r = sh(
        'docker',
        [
          'run',
          '--rm',
          '--network',
          `container:${holder}`,
          '--user',
          '10001:10001',
          '--read-only',
          ...Object.entries(runLabels(run)).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
          '-v',
          `${repo}:/app:ro`,
          '-w',
          '/app',
          '-e',
          'PYTHONPATH=/app',
          '--entrypoint',
          'python3',
          image,
          path,
        ],
        { timeout: 120_000 },
      );
      const said = `${l.name}: check says ${l.code} at ${l.file}:${l.line} (${l.message})`;
      expect(r.code, `${said}, but it did not stop:\n${r.out}`).not.toBe(0);
      if (l.code === 'missing-script') {
        expect(r.out, said).toContain(`can't open file '/app/${path}': [Errno 2] No such file or directory`);
      } else {
        // The last frame of the traceback is where it died; the exception says what of.
        const frames = [...r.out.matchAll(/File "\/app\/([^"]+)", line (\d+)/g)].map((m) => `${m[1]}:${m[2]}`);
        expect(frames.at(-1), `${said}; its output:\n${r.out}`).toBe(`${l.file}:${l.line}`);
        const kind =
          l.code === 'script-syntax-error'
            ? /^(SyntaxError|IndentationError): /m
            : new RegExp(
                `^ModuleNotFoundError: No module named '${escape(/No module named '([^']+)'/.exec(l.message)![1]!)}'$`,
                'm',
              );
        expect(r.out, `${said}; its output:\n${r.out}`).toMatch(kind);
      }
      byCode.set(l.code, (byCode.get(l.code) ?? 0) + 1);
    }
    figures.push(
      `${cannot.length} agents check says cannot start, each dead of that problem at that line: ${[...byCode].map(([c, n]) => `${n} ${c}`).join(', ')}`,
    );
  }, 900_000);
});

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The agent's script_path, from the plan's startup config of its machine. */
function scriptOf(repo: string, l: LeftOut): string {
  const text = readFileSync(join(repo, WHERE[l.machine as keyof typeof WHERE]), 'utf8');
  const doc = parse(text, { version: '1.1' }) as unknown;
  const found: string[] = [];
  const walk = (v: unknown, key?: string) => {
    if (Array.isArray(v)) v.forEach((x) => walk(x));
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if ((o['name'] === l.name || key === l.name) && typeof o['script_path'] === 'string')
        found.push(o['script_path']);
      for (const [k, x] of Object.entries(o)) walk(x, k);
    }
  };
  walk(doc);
  if (!found[0]) throw new Error(`no script_path for ${l.name}`);
  return found[0];
}
