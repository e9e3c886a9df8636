/**
 * The whole example on a real Docker engine, single-host mode, against stand-in agents that behave as
 * the real BaseAgent does (test/fixtures/mini-monorepo/common/core/base_agent.py) and real Redis and
 * NATS servers: every agent healthy through the generated ZMQ probes and `ok` by its own account,
 * registered with SystemDigitalTwin, cross-machine edges reached through the address variables,
 * readiness lost and regained with Redis, no restart, memory within limits, nothing left behind.
 * Needs scripts/docker-engine.sh and scripts/base-images.sh.
 */
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePorts } from '../docker-run.ts';
import { docker, execIn, HAS_ENGINE } from '../docker-helpers.ts';
import { composeDoc, leftovers, runStack, type StackRun, type UpSystem } from './stack.ts';

let run: StackRun;
const testRun = inject('dockerRun');

interface RedisOutage {
  readonly before: { exitCode: number; output: string };
  readonly down: { exitCode: number; output: string };
  readonly recoveredAfterSeconds: number;
  readonly after: { exitCode: number; output: string };
  readonly keysBefore: string;
  readonly keysAfter: string;
}

/** Stops Redis (as `docker stop` does: no restart policy applies), probes an agent, starts Redis again and probes until it recovers. */
async function redisOutage(up: UpSystem): Promise<RedisOutage> {
  const agent = 'nlu-agent';
  const redis = up.plan.services.find((s) => s.kind === 'redis')!;
  const keys = async () =>
    (
      await up.compose(redis.machine, [
        'exec',
        '-T',
        'redis',
        'redis-cli',
        '-h',
        '127.0.0.1',
        '-p',
        String(redis.port),
        'keys',
        'agent:ready:*',
      ])
    ).output
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('agent:ready:'))
      .sort()
      .join(',');
  const before = await up.probe(agent);
  const keysBefore = await keys();
  await up.compose(redis.machine, ['stop', '-t', '5', 'redis']);
  const down = await up.probe(agent);
  await up.compose(redis.machine, ['start', 'redis']);
  const t0 = performance.now();
  let after = await up.probe(agent);
  while (after.exitCode !== 0 && performance.now() - t0 < 60_000) {
    await new Promise((r) => setTimeout(r, 250));
    after = await up.probe(agent);
  }
  return {
    before,
    down,
    recoveredAfterSeconds: (performance.now() - t0) / 1000,
    after,
    keysBefore,
    keysAfter: await keys(),
  };
}

interface Persistence {
  readonly written: string;
  readonly afterKill: string;
  readonly restartCount: number;
  readonly afterDownUp: string;
  readonly cacheSeenByOther: string;
  readonly cacheAfterDownUp: string;
  readonly volumes: readonly string[];
}

const STATEFUL = 'memory-cache-pc2';
const [GPU_A, GPU_B] = ['vision-processing-agent', 'dream-world-agent'];
/** Writes a file and a SQLite row in the data folder, then reads both back (as one line). */
const WRITE = `import sqlite3; open('/app/data/marker.txt', 'w').write('kept'); c = sqlite3.connect('/app/data/state.db'); c.execute('create table if not exists t (v text)'); c.execute("insert into t values ('row-1')"); c.commit()`;
const READ = `import sqlite3; print(open('/app/data/marker.txt').read(), sqlite3.connect('/app/data/state.db').execute('select group_concat(v) from t').fetchone()[0])`;

/** SIGKILLs the stateful agent (compose restarts it), then takes PC2's project down without -v and up again: what its data folder and the machine's model cache hold each time. */
async function persistence(up: UpSystem): Promise<Persistence> {
  const py = async (service: string, code: string) => {
    const id = (
      await docker.listContainers({
        filters: { label: [`com.docker.compose.service=${service}`, `com.docker.compose.project=${up.projects[1]}`] },
      })
    )[0]!.Id;
    return (await execIn(id, ['python3', '-c', code])).output.trim();
  };
  const running = async (service: string, minRestarts = 0) => {
    for (let i = 0; i < 600; i++) {
      const cs = await docker.listContainers({
        filters: { label: [`com.docker.compose.service=${service}`, `com.docker.compose.project=${up.projects[1]}`] },
      });
      if (cs.length === 1) {
        const info = await docker.getContainer(cs[0]!.Id).inspect();
        if (info.State.Running && !info.State.Restarting && info.RestartCount >= minRestarts) return info;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${service} did not come back`);
  };
  await py(STATEFUL, WRITE);
  const written = await py(STATEFUL, READ);
  await py(GPU_A, `open('/app/.cache/shared-model.bin', 'w').write('weights')`);
  const cacheSeenByOther = await py(GPU_B, `print(open('/app/.cache/shared-model.bin').read())`);
  // SIGKILL the agent's process (the container's), as the kernel's OOM killer or a crash would end it.
  const before = await running(STATEFUL);
  process.kill(before.State.Pid, 'SIGKILL');
  const after = await running(STATEFUL, before.RestartCount + 1);
  const afterKill = await py(STATEFUL, READ);
  const machine = up.plan.machines[1]!.name;
  await up.compose(machine, ['down', '--timeout', '5']);
  await up.compose(machine, ['--profile', 'optional', 'up', '-d', '--no-build']);
  await running(STATEFUL);
  await running(GPU_B);
  const afterDownUp = await py(STATEFUL, READ);
  const cacheAfterDownUp = await py(GPU_B, `print(open('/app/.cache/shared-model.bin').read())`);
  const volumes = ((await docker.listVolumes()).Volumes ?? [])
    .map((v) => v.Name)
    .filter((n) => n.startsWith(`${up.projects[1]!}_`))
    .sort();
  return {
    written,
    afterKill,
    restartCount: after.RestartCount,
    afterDownUp,
    cacheSeenByOther,
    cacheAfterDownUp,
    volumes,
  };
}

const HAS_PROMETHEUS = spawnSync('prometheus', ['--version']).status === 0;
if (!HAS_PROMETHEUS)
  console.warn('skipping the Prometheus check of the e2e suite: no prometheus on PATH (Debian package)');

/**
 * Debian's Prometheus from the generated single-host prometheus.yml (and the alert rules it names), on a
 * free loopback port: the targets as its HTTP API reports them once every one was scraped, or after 120 s.
 */
async function scrape(up: UpSystem) {
  if (!HAS_PROMETHEUS) return undefined;
  const [port] = await freePorts(1, 1, 30_000 + (process.pid % 200) * 10);
  const storage = mkdtempSync(join(tmpdir(), 'e2e-prometheus-'));
  const p = spawn(
    'prometheus',
    [
      `--config.file=${join(up.composeDir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${storage}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const t0 = performance.now();
  type Target = { health: string; labels: { job: string }; lastError: string };
  let targets: Target[] = [];
  try {
    while (performance.now() - t0 < 120_000) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/api/v1/targets`, { signal: AbortSignal.timeout(2000) });
        targets = ((await r.json()) as { data: { activeTargets: Target[] } }).data.activeTargets;
        if (targets.length === up.plan.agents.length && targets.every((t) => t.health === 'up')) break;
      } catch {
        // Not listening yet.
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    const rules = await fetch(`http://127.0.0.1:${port}/api/v1/rules`).then(
      (r) => r.json() as Promise<{ data: { groups: { rules: { name: string }[] }[] } }>,
    );
    return {
      seconds: (performance.now() - t0) / 1000,
      targets: targets.map((t) => ({ job: t.labels.job, health: t.health, lastError: t.lastError })),
      rules: rules.data.groups.flatMap((g) => g.rules.map((x) => x.name)),
      stderr,
    };
  } finally {
    p.kill();
  }
}

describe.skipIf(!HAS_ENGINE)('the example system on one Docker engine', () => {
  const agentStates = () => run.agents.filter((a) => run.plan.agents.some((p) => p.id === a.service));
  const logsOf = (id: string) => run.agents.find((a) => a.service === id)!.logs;

  beforeAll(async () => {
    run = await runStack({
      healthIntervalSeconds: 30,
      timeoutSeconds: 300,
      log: (l) => console.log(l),
      run: testRun,
      whileUp: async (up) => ({
        prometheus: await scrape(up),
        redis: await redisOutage(up),
        persistence: await persistence(up),
      }),
    });
    const { criticalPath, sequentialSeconds } = run.plan;
    console.log(
      `up -> all ok ${run.seconds.toFixed(1)} s; critical path ${criticalPath.seconds} s (ratio ${(run.seconds / criticalPath.seconds).toFixed(2)}); sequential ${sequentialSeconds} s (ratio ${(run.seconds / sequentialSeconds).toFixed(2)})`,
    );
  });

  it('runs on ports chosen at run time: every single-host port shifted by the offset it found free', () => {
    expect(run.portOffset).toBeGreaterThanOrEqual(10_000);
    const registry = run.plan.agents.find((a) => a.name === 'ServiceRegistry')!;
    // The example's config declares ServiceRegistry on ${PORT_OFFSET}+7200, health ${PORT_OFFSET}+8200.
    expect([registry.servicePort.singleHostPort, registry.healthPort.singleHostPort]).toEqual([
      7200 + run.portOffset,
      8200 + run.portOffset,
    ]);
  });

  it('brings every agent of both machines up, ok by its own account and healthy through the generated ZMQ probes, with Redis and NATS', () => {
    expect(run.plan.agents.length).toBe(82);
    expect(agentStates().length).toBe(82);
    expect(Number.isFinite(run.seconds)).toBe(true);
    expect(run.agents.filter((a) => a.health !== 'healthy').map((a) => `${a.service}: ${a.health}`)).toEqual([]);
    expect(
      run.agents
        .map((a) => a.service)
        .filter((s) => s === 'redis' || s === 'nats')
        .sort(),
    ).toEqual(['nats', 'redis']);
    // Docker's health check is the agent's readiness probe: a ZMQ request to its health socket.
    const test = composeDoc(run.composeFiles['mainpc']!).services['nlu-agent']! as unknown as {
      healthcheck: { test: string[] };
    };
    expect(test.healthcheck.test.at(-1)).toMatch(/^zmq:\/\/127\.0\.0\.1:\d+$/);
  });

  it.skipIf(!HAS_PROMETHEUS)(
    'has Prometheus scrape every agent from the generated single-host prometheus.yml, with its alert rules loaded',
    () => {
      const p = (run.whileUp as { prometheus: Awaited<ReturnType<typeof scrape>> }).prometheus!;
      expect(p.targets.filter((t) => t.health !== 'up').map((t) => `${t.job}: ${t.health} ${t.lastError}`)).toEqual([]);
      expect(p.targets.map((t) => t.job).sort()).toEqual(run.plan.agents.map((a) => a.id).sort());
      expect(p.rules).toEqual(['AgentDown', 'AgentNotHealthy', 'AgentRestarting']);
      console.log(
        `Prometheus: ${p.targets.length} of ${run.plan.agents.length} targets up ${p.seconds.toFixed(0)} s after it started`,
      );
    },
  );

  it('restarts nothing, and no agent failed to bind a port or missed a variable it needs', () => {
    expect(run.agents.filter((a) => a.restarts > 0).map((a) => a.service)).toEqual([]);
    const bad = agentStates().filter((a) => /cannot bind|Traceback|gave up on| needs /.test(a.logs));
    expect(
      bad.map(
        (a) =>
          `${a.service}: ${a.logs.split('\n').find((l) => /cannot bind|Traceback|gave up on| needs |Error/.test(l))}`,
      ),
    ).toEqual([]);
    for (const a of agentStates())
      expect([a.service, /base_agent \w+: ready after/.test(a.logs)]).toEqual([a.service, true]);
  });

  it('binds where the plan says: health at port + 1 for the agents that pass no health_check_port, HTTP at health + 1 for all', () => {
    for (const a of run.plan.agents) {
      const line = `bound service ${a.servicePort.singleHostPort}, health ${a.healthPort.singleHostPort}, http ${a.healthPort.singleHostPort! + 1}`;
      expect([a.id, logsOf(a.id).includes(line)]).toEqual([a.id, true]);
    }
    // Worked out from the example: CodeGenerator's port is 5650, its config's health port 6650, but it
    // passes no health_check_port, so it binds 5651; the plan (healthPort: service+1) probes 5651.
    const cg = run.plan.agents.find((a) => a.name === 'CodeGenerator')!;
    expect([cg.servicePort.singleHostPort, cg.healthPort.singleHostPort]).toEqual([
      5650 + run.portOffset,
      5651 + run.portOffset,
    ]);
    expect(run.agents.find((a) => a.service === 'code-generator')!.health).toBe('healthy');
  });

  it('registers every agent with SystemDigitalTwin at the discovery variables, and reaches NATS', () => {
    const twin = logsOf('system-digital-twin');
    for (const a of run.plan.agents) {
      expect([a.id, twin.includes(`registered ${a.name} (`)]).toEqual([a.id, true]);
      expect([a.id, /registered with SystemDigitalTwin at \S+: success/.test(logsOf(a.id))]).toEqual([a.id, true]);
      expect([a.id, /reached NATS at /.test(logsOf(a.id))]).toEqual([a.id, true]);
    }
    // PC2's agents find the twin (on MainPC) through MAIN_PC_IP, which the run sets to localhost.
    const twinPort = run.plan.agents.find((a) => a.name === 'SystemDigitalTwin')!.servicePort.singleHostPort;
    expect(logsOf('central-error-bus')).toContain(
      `registered with SystemDigitalTwin at localhost:${twinPort}: success`,
    );
  });

  it('reaches every cross-machine dependency through MAIN_PC_IP / PC2_IP, and same-machine ones on loopback', () => {
    let cross = 0;
    let same = 0;
    for (const a of run.plan.agents) {
      const logs = logsOf(a.id);
      const env = composeDoc(run.composeFiles[a.machine]!).services[a.id]!.environment;
      for (const d of a.dependencies) {
        if (d.crossMachine) {
          const variable = run.plan.machines.find((m) => m.name === d.machine)!.addressEnv;
          expect(env[`${d.envPrefix}_HOST`]).toBe(`\${${variable}:-127.0.0.1}`);
          // The run sets the variables to `localhost`: the address in the log can only have come from them.
          expect(logs).toContain(`reached dependency ${d.envPrefix} at localhost:${d.singleHostPort} (${d.name})`);
          cross++;
        } else {
          expect(logs).toContain(`reached dependency ${d.envPrefix} at 127.0.0.1:${d.singleHostPort} (${d.name})`);
          same++;
        }
      }
    }
    expect(cross).toBe(1);
    expect(same).toBe(run.plan.agents.reduce((n, a) => n + a.dependencies.filter((d) => !d.crossMachine).length, 0));
    expect(same).toBeGreaterThan(100);
  });

  it('loses readiness when Redis stops and regains it when Redis is back, with the ready keys kept (append-only file)', () => {
    const o = (run.whileUp as { redis: RedisOutage }).redis;
    expect([o.before.exitCode, o.before.output]).toEqual([0, '']);
    expect(o.down.exitCode).toBe(1);
    expect(o.down.output).toMatch(/status 'degraded' \(healthy: ok or healthy\)/);
    expect(o.after.exitCode).toBe(0);
    console.log(`readiness back ${o.recoveredAfterSeconds.toFixed(1)} s after Redis started again`);
    expect(o.keysBefore.split(',')).toHaveLength(82);
    expect(o.keysAfter).toBe(o.keysBefore);
  });

  it("keeps an agent's file and SQLite row across a SIGKILL and across down (without -v) and up; one model cache for the machine's GPU agents", () => {
    const p = (run.whileUp as { persistence: Persistence }).persistence;
    expect(p.written).toBe('kept row-1');
    expect(p.restartCount).toBeGreaterThanOrEqual(1);
    expect(p.afterKill).toBe('kept row-1');
    expect(p.afterDownUp).toBe('kept row-1');
    expect(p.cacheSeenByOther).toBe('weights');
    expect(p.cacheAfterDownUp).toBe('weights');
    // Its own volume and the machine's cache, by the names the compose file gives them.
    expect(p.volumes).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`_${STATEFUL}-data$`)),
        expect.stringMatching(/_model-cache$/),
      ]),
    );
  });

  it('keeps every agent within its generated memory limit', () => {
    for (const a of agentStates()) {
      const planned = run.plan.agents.find((p) => p.id === a.service)!;
      expect([a.service, a.memoryLimit]).toEqual([a.service, planned.resources.memoryMiB * 2 ** 20]);
      expect(a.memoryUsage).toBeGreaterThan(0);
      expect(a.memoryUsage).toBeLessThan(a.memoryLimit);
    }
  });

  it('starts the agents in parallel: all ok sooner than their startup times one after the other', () => {
    // The ratio to the critical path is a figure for the benchmark (npm run bench:startup), not a test:
    // on a shared machine it moves with the load.
    expect(run.seconds).toBeLessThan(run.plan.sequentialSeconds);
  });

  it('leaves no container, network or volume behind', async () => {
    expect(await leftovers(run.projects, testRun)).toEqual([]);
  });
});
