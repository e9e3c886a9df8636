/**
 * The example as a user deploys it on two PCs: each machine's compose file (`docker-compose.mainpc.yml`,
 * `docker-compose.pc2.yml`, unmodified but for the run's labels) on a host of its own, a network namespace
 * with a Docker engine of its own, the two on a LAN the test makes (198.18.0.0/24, no default route
 * anywhere), `MAIN_PC_IP` and `PC2_IP` in each `.env` the other host's address, each host behind its
 * generated nftables ruleset, and Debian's Prometheus on a third host scraping both from the generated
 * prometheus.yml. The stand-in BaseAgents (RUNTIME.md's contract) log every dependency they reach.
 * Needs root, iproute2, nftables, Prometheus and the engine of scripts/docker-engine.sh
 * (`npm run test:two-host`; .ci/run installs them).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parse } from 'yaml';
import type { SystemPlan } from '../../lib/plan/types.ts';
import { cli } from '../helpers.ts';
import { demux, HAS_ENGINE } from '../docker-helpers.ts';
import { labelOverride, prepareImages, writeStackSpec, type StackOptions } from '../e2e/stack.ts';
import {
  CAN_NETNS,
  connections,
  inHost,
  makeLan,
  NXDOMAIN_DNS,
  PYTHON,
  type TestHost,
  type TestLan,
} from '../netns.ts';
import { copyImages, removeStaleEngines, startEngine, type HostEngine } from './engines.ts';

const has = (cmd: string, arg = '--version') => spawnSync(cmd, [arg]).status === 0;
const READY = HAS_ENGINE && CAN_NETNS && has('nft') && has('prometheus') && has('docker-compose');
if (!READY)
  console.warn(
    'skipping the two-host suite: it needs root, ip netns, nft, prometheus, docker-compose and the engine of scripts/docker-engine.sh',
  );

const run = inject('dockerRun');
/**
 * Each of Docker's health checks is an exec in the container (runc, then the probe): 84 of them every
 * 10 s kept this 2-core machine saturated, probes timed out and healthy agents turned unhealthy. Every
 * 20 s, with time to answer under load; "all healthy" is seen up to one interval after readiness.
 */
const HEALTH_INTERVAL = 20;
const HEALTH_TIMEOUT = 10;
const ADDRESS: Record<string, string> = { mainpc: '198.18.0.1', pc2: '198.18.0.2', prometheus: '198.18.0.3' };
const POOL: Record<string, string> = { mainpc: '198.18.64.0/20', pc2: '198.18.80.0/20' };
const PC2_CONFIG = 'pc2_code/config/startup_config.yaml';

const log = (line: string) => console.log(line);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let plan: SystemPlan;
let lan: TestLan;
const engines: Record<string, HostEngine> = {};
let prometheus: ChildProcess | undefined;
let dns: ChildProcess | undefined;
let upSeconds = Infinity;
const figures: string[] = [];

const hostOf = (name: string): TestHost => lan.hosts.find((h) => h.name === name)!;
const project = (m: string) => `agent-infra-th-${run.id}-${m}`;

function compose(m: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const p = spawn(
      'docker-compose',
      [
        '--env-file',
        join(dir, `${m}.env`),
        '-p',
        project(m),
        '-f',
        join(dir, 'dist', 'compose', `docker-compose.${m}.yml`),
        '-f',
        join(dir, `labels.${m}.yml`),
        ...args,
      ],
      { env: { ...process.env, DOCKER_HOST: `unix://${engines[m]!.socket}`, COMPOSE_PARALLEL_LIMIT: '64' } },
    );
    let output = '';
    p.stdout.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (output += d.toString()));
    p.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

/** Every container of a machine's project: service name -> id and status. */
async function containers(m: string): Promise<Map<string, { id: string; status: string }>> {
  const list = await engines[m]!.docker.listContainers({
    all: true,
    filters: { label: [`com.docker.compose.project=${project(m)}`] },
  });
  return new Map(list.map((c) => [c.Labels['com.docker.compose.service']!, { id: c.Id, status: c.Status }]));
}

/** The `.env` of a machine: the generated .env.example with the other hosts' addresses, as a user fills it in. */
function envFile(m: string): string {
  const example = readFileSync(join(dir, 'dist', 'compose', '.env.example'), 'utf8');
  const set: Record<string, string> = {
    MAIN_PC_IP: ADDRESS['mainpc']!,
    PC2_IP: ADDRESS['pc2']!,
    PROMETHEUS_IP: ADDRESS['prometheus']!,
    AGENT_MODELS_DIR: join(dir, 'models'),
  };
  const text = example.replace(/^([A-Z_]+)=.*$/gm, (line, k: string) => (k in set ? `${k}=${set[k]}` : line));
  for (const k of Object.keys(set))
    if (!new RegExp(`^${k}=`, 'm').test(text)) throw new Error(`.env.example lacks ${k}`);
  writeFileSync(join(dir, `${m}.env`), text);
  return text;
}

/** `nft -f` of a machine's generated ruleset on its host, with the addresses its header asks for. */
function applyFirewall(m: string) {
  const file = join(dir, 'dist', 'compose', 'firewall', `${m}.nft`);
  const defines = [...readFileSync(file, 'utf8').matchAll(/-D (\w+)=<address>/g)].map((x) => x[1]!);
  return inHost(hostOf(m), [
    'nft',
    ...defines.flatMap((v) => [
      '-D',
      `${v}=${v === 'PROMETHEUS_IP' ? ADDRESS['prometheus'] : v === 'MAIN_PC_IP' ? ADDRESS['mainpc'] : ADDRESS['pc2']}`,
    ]),
    '-f',
    file,
  ]);
}

/** Prometheus's targets, asked through its HTTP API on the Prometheus host's loopback. */
function targets(): { health: string; job: string; lastError: string }[] {
  const r = inHost(hostOf('prometheus'), [
    PYTHON,
    '-c',
    'import json, urllib.request; print(json.dumps([{"health": t["health"], "job": t["labels"]["job"], "lastError": t["lastError"]} for t in json.load(urllib.request.urlopen("http://127.0.0.1:9090/api/v1/targets", timeout=5))["data"]["activeTargets"]]))',
  ]);
  return r.code === 0 ? (JSON.parse(r.stdout) as { health: string; job: string; lastError: string }[]) : [];
}

describe.skipIf(!READY)('the example on two hosts, each running its own compose file behind its firewall', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'two-host-'));
    mkdirSync(join(dir, 'models'));
    const o: StackOptions = {
      healthIntervalSeconds: HEALTH_INTERVAL,
      healthTimeoutSeconds: HEALTH_TIMEOUT,
      keepGpuFamilies: true,
      timeoutSeconds: 600,
      log,
      run,
    };
    const written = writeStackSpec(dir, o, 0);
    plan = written.plan;
    const r = cli(['synth', '--spec', written.spec, '--out', join(dir, 'dist'), '--only', 'compose'], dir);
    if (r.code !== 0) throw new Error(`synth failed: ${r.stderr}`);
    await prepareImages(written.spec, plan, o);
    const stale = await removeStaleEngines();
    if (stale.length) log(`removed the engines of runs that are gone: ${stale.join(', ')}`);
    lan = makeLan(
      'th',
      [
        { name: 'mainpc', octet: 1 },
        { name: 'pc2', octet: 2 },
        { name: 'prometheus', octet: 3 },
      ],
      ADDRESS['prometheus'],
    );
    // The LAN's DNS server, on the Prometheus host: it knows no name (each host's /etc/hosts names the hosts).
    dns = spawn('ip', ['netns', 'exec', hostOf('prometheus').ns, PYTHON, '-c', NXDOMAIN_DNS], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      dns!.stdout!.once('data', () => resolve());
      dns!.once('exit', (code) => reject(new Error(`the LAN's DNS server exited with ${code}`)));
    });
  }, 900_000);

  afterAll(async () => {
    if (engines['mainpc'] && engines['pc2'])
      await Promise.all(
        ['mainpc', 'pc2'].map((m) => compose(m, ['--profile', 'optional', 'down', '-v', '--timeout', '5'])),
      );
    if (prometheus?.pid) prometheus.kill();
    if (dns?.pid) dns.kill();
    await Promise.all(Object.values(engines).map((e) => e.stop()));
    lan?.remove();
    console.log(['two-host suite:', ...figures.map((f) => `  ${f}`)].join('\n'));
  }, 300_000);

  it('starts with no default route on any host, before anything runs there', () => {
    for (const h of lan.hosts) {
      expect([h.name, lan.routes[h.name]!.filter((r) => r.startsWith('default'))]).toEqual([h.name, []]);
      expect([h.name, lan.routes[h.name]]).toEqual([
        h.name,
        [`198.18.0.0/24 dev eth0 proto kernel scope link src ${h.address}`],
      ]);
    }
  });

  it('brings every agent up healthy on its own host, behind its firewall, with Redis and NATS where the plan puts them', async () => {
    const machines = plan.machines.map((m) => m.name);
    expect(machines).toEqual(['mainpc', 'pc2']);
    await Promise.all(
      machines.map(async (m) => (engines[m] = await startEngine(hostOf(m), POOL[m]!, ADDRESS['prometheus']!))),
    );
    await Promise.all(
      machines.map(async (m) => {
        const images = [
          ...new Set(plan.agents.filter((a) => a.machine === m).map((a) => a.image)),
          ...plan.services.filter((s) => s.machine === m).map((s) => s.image),
        ];
        await copyImages(images, engines[m]!);
        writeFileSync(
          join(dir, `labels.${m}.yml`),
          labelOverride(join(dir, 'dist', 'compose', `docker-compose.${m}.yml`), run),
        );
        envFile(m);
      }),
    );
    for (const m of machines) expect([m, applyFirewall(m)]).toEqual([m, { code: 0, out: '', stdout: '' }]);
    prometheus = spawn(
      'ip',
      [
        'netns',
        'exec',
        hostOf('prometheus').ns,
        'prometheus',
        `--config.file=${join(dir, 'dist', 'compose', 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'prometheus')}`,
        '--web.listen-address=127.0.0.1:9090',
        '--log.level=warn',
      ],
      { stdio: 'ignore' },
    );

    const t0 = performance.now();
    const ups = Promise.all(machines.map((m) => compose(m, ['--profile', 'optional', 'up', '-d', '--no-build'])));
    const expected = new Map(
      machines.map((m) => [
        m,
        [
          ...plan.agents.filter((a) => a.machine === m).map((a) => a.id),
          ...plan.services.filter((s) => s.machine === m).map((s) => s.id),
        ],
      ]),
    );
    let lastReport = 0;
    const total = [...expected.values()].flat().length;
    while ((performance.now() - t0) / 1000 < 600) {
      const states = await Promise.all(machines.map((m) => containers(m)));
      const healthy = machines.reduce(
        (n, m, i) => n + expected.get(m)!.filter((id) => /\(healthy\)/.test(states[i]!.get(id)?.status ?? '')).length,
        0,
      );
      if (healthy === total) {
        upSeconds = (performance.now() - t0) / 1000;
        break;
      }
      if (performance.now() - lastReport > 15_000) {
        log(`  ${((performance.now() - t0) / 1000).toFixed(0)} s: ${healthy} of ${total} containers healthy`);
        lastReport = performance.now();
      }
      await sleep(1000);
    }
    const up = await ups;
    for (const [i, m] of machines.entries())
      expect([m, up[i]!.code, up[i]!.code === 0 ? '' : up[i]!.output.slice(-2000)]).toEqual([m, 0, '']);
    if (!Number.isFinite(upSeconds)) {
      const states = await Promise.all(machines.map((m) => containers(m)));
      const bad = machines.flatMap((m, i) =>
        expected
          .get(m)!
          .filter((id) => !/\(healthy\)/.test(states[i]!.get(id)?.status ?? ''))
          .map((id) => `${m}/${id}: ${states[i]!.get(id)?.status ?? 'no container'}`),
      );
      expect(bad).toEqual([]);
    }
    const { criticalPath, sequentialSeconds } = plan;
    figures.push(
      `${plan.agents.length} agents and ${plan.services.length} services on 2 hosts, all healthy ${upSeconds.toFixed(1)} s after up, as Docker's health checks (every ${HEALTH_INTERVAL} s) see it; critical path ${criticalPath.seconds} s (ratio ${(upSeconds / criticalPath.seconds).toFixed(2)}), sequential ${sequentialSeconds} s (ratio ${(upSeconds / sequentialSeconds).toFixed(2)})`,
    );
    // Nothing that ran added a way out.
    for (const h of lan.hosts)
      expect([h.name, inHost(h, ['ip', 'route', 'show', 'default']).out]).toEqual([h.name, '']);
  });

  it('uses every cross-machine edge through the other host’s address, as MAIN_PC_IP and PC2_IP say', async () => {
    expect(Number.isFinite(upSeconds)).toBe(true);
    const byId = new Map(plan.agents.map((a) => [a.id, a]));
    const edges = plan.agents.flatMap((a) =>
      a.dependencies.filter((d) => d.crossMachine).map((d) => ({ from: a, to: byId.get(d.id)!, port: d.port })),
    );
    expect(edges.length).toBeGreaterThan(0);
    const missing: string[] = [];
    for (const m of ['mainpc', 'pc2']) {
      const cs = await containers(m);
      for (const e of edges.filter((x) => x.from.machine === m)) {
        const logs = demux(
          (await engines[m]!.docker.getContainer(cs.get(e.from.id)!.id).logs({
            stdout: true,
            stderr: true,
          })) as unknown as Buffer,
        );
        const at = `${ADDRESS[e.to.machine]}:${e.port}`;
        if (!new RegExp(`reached dependency \\w+ at ${at.replace(/\./g, '\\.')} `).test(logs))
          missing.push(`${e.from.id} -> ${e.to.id} at ${at}`);
      }
    }
    expect(missing).toEqual([]);
    const count = (from: string) => edges.filter((e) => e.from.machine === from).length;
    figures.push(
      `cross-machine edges used: ${edges.length} of ${edges.length} (pc2 -> mainpc ${count('pc2')}, mainpc -> pc2 ${count('mainpc')}), each logged by its agent as reached at the other host's address`,
    );
  });

  it('gives each GPU agent its planned device through the engine’s GPU reservation', async () => {
    const gpu = plan.agents.filter((a) => a.gpu);
    expect(gpu.length).toBeGreaterThan(0);
    const wrong: string[] = [];
    for (const a of gpu) {
      const c = (await containers(a.machine)).get(a.id)!;
      const exec = await engines[a.machine]!.docker.getContainer(c.id).exec({
        Cmd: ['cat', '/proc/1/environ'],
        AttachStdout: true,
        AttachStderr: true,
      });
      const stream = await exec.start({});
      const chunks: Buffer[] = [];
      await new Promise<void>((resolve) => {
        stream.on('data', (d: Buffer) => chunks.push(d));
        stream.on('end', () => resolve());
      });
      const env = demux(Buffer.concat(chunks)).split('\0');
      if (!env.includes(`NVIDIA_VISIBLE_DEVICES=${a.gpu!.device}`))
        wrong.push(`${a.id}: ${env.filter((v) => v.startsWith('NVIDIA')).join(' ') || 'no NVIDIA_VISIBLE_DEVICES'}`);
    }
    expect(wrong).toEqual([]);
    figures.push(`GPU agents: ${gpu.length}, each given its planned device by the engine (NVIDIA_VISIBLE_DEVICES)`);
  });

  it('has Prometheus scrape every agent on both hosts from the generated prometheus.yml', async () => {
    expect(Number.isFinite(upSeconds)).toBe(true);
    const jobs = (
      parse(readFileSync(join(dir, 'dist', 'compose', 'prometheus.yml'), 'utf8')) as {
        scrape_configs: { job_name: string }[];
      }
    ).scrape_configs.map((j) => j.job_name);
    expect(jobs.sort()).toEqual(
      plan.agents
        .filter((a) => a.metricsPort)
        .map((a) => a.id)
        .sort(),
    );
    const t0 = performance.now();
    let seen = targets();
    // The generated interval is 30 s: every target is scraped once within it.
    while (performance.now() - t0 < 120_000 && !(seen.length === jobs.length && seen.every((t) => t.health === 'up'))) {
      await sleep(2000);
      seen = targets();
    }
    expect(seen.filter((t) => t.health !== 'up').map((t) => `${t.job}: ${t.health} ${t.lastError}`)).toEqual([]);
    expect(seen.length).toBe(jobs.length);
    figures.push(
      `Prometheus: ${seen.length} of ${jobs.length} targets up on both hosts (${((performance.now() - t0) / 1000).toFixed(0)} s after all healthy), through the firewall's metrics admissions`,
    );
  });

  it('admits through each firewall only what the other host and Prometheus need', () => {
    const rules = plan.firewall.filter((r) => r.to === 'mainpc');
    const fromPc2 = rules.find((r) => r.from === 'pc2')!.port;
    const metrics = rules.find(
      (r) => r.from === 'prometheus' && !rules.some((x) => x.from === 'pc2' && x.port === r.port),
    )!.port;
    // A port of mainpc no rule lists: an agent's service port that only mainpc's own agents reach.
    const listed = new Set(rules.map((r) => r.port));
    const unlisted = plan.agents.find((a) => a.machine === 'mainpc' && !listed.has(a.servicePort.port))!.servicePort
      .port;
    const mainpc = ADDRESS['mainpc']!;
    const pc2 = hostOf('pc2');
    expect(connections(pc2, [['', mainpc, fromPc2]])).toEqual(['open']);
    expect(connections(hostOf('prometheus'), [['', mainpc, metrics]])).toEqual(['open']);
    // Published on every interface for Prometheus, yet closed to pc2; published on loopback only: closed too.
    expect(
      connections(
        pc2,
        [
          ['', mainpc, metrics],
          ['', mainpc, unlisted],
        ],
        2,
      ),
    ).toEqual(['timeout', 'timeout']);
    // The firewall is what closes the metrics port to pc2: without its table the port answers pc2.
    expect(inHost(hostOf('mainpc'), ['nft', 'delete', 'table', 'inet', 'agent_infra_mainpc']).code).toBe(0);
    expect(connections(pc2, [['', mainpc, metrics]])).toEqual(['open']);
    expect(applyFirewall('mainpc').code).toBe(0);
    expect(connections(pc2, [['', mainpc, metrics]], 2)).toEqual(['timeout']);
    const admitted = (m: string) =>
      new Set(plan.firewall.filter((r) => r.to === m).map((r) => `${r.from}:${r.port}`)).size;
    figures.push(
      `firewall: mainpc admits ${admitted('mainpc')} (source, port) pairs, pc2 ${admitted('pc2')}; from pc2, mainpc's metrics port ${metrics} (Prometheus only) and unlisted port ${unlisted} time out, port ${fromPc2} opens; without the table, ${metrics} opens to pc2`,
    );
  });

  it('recreates exactly the services whose inputs a one-port change of pc2’s config changes', async () => {
    expect(Number.isFinite(upSeconds)).toBe(true);
    const before = { mainpc: await containers('mainpc'), pc2: await containers('pc2') };
    const text = readFileSync(join(dir, PC2_CONFIG), 'utf8');
    // TutorAgent: on pc2, no agent depends on it, and it is no discovery target (test/unit/rollout.test.ts).
    const moved = text.replace(
      /(- name: TutorAgent\n(?: {2}.*\n)*? {2}port: (?:\$\{PORT_OFFSET\}\+)?)7109\n/,
      (_m, head: string) => `${head}7190\n`,
    );
    expect(moved).not.toBe(text);
    writeFileSync(join(dir, PC2_CONFIG), moved);
    const r = cli(
      ['synth', '--spec', join(dir, 'agent-infra.yaml'), '--out', join(dir, 'dist'), '--only', 'compose'],
      dir,
    );
    expect(r.code).toBe(0);
    // `up --no-start` takes the decisions `up -d` takes (compose's convergence plan: recreate a service whose
    // definition changed, keep the others) without starting what it recreates: starting pc2 again, gated
    // level by level on health checks, would add minutes and prove nothing more about what is recreated.
    const ups = await Promise.all(
      ['mainpc', 'pc2'].map((m) => compose(m, ['--profile', 'optional', 'up', '--no-start', '--no-build'])),
    );
    for (const u of ups) expect(u.code).toBe(0);
    const after = { mainpc: await containers('mainpc'), pc2: await containers('pc2') };
    const recreated = (m: 'mainpc' | 'pc2') =>
      [...before[m]]
        .filter(([s, c]) => after[m].get(s)?.id !== c.id)
        .map(([s]) => s)
        .sort();
    const pc2Agents = plan.agents
      .filter((a) => a.machine === 'pc2')
      .map((a) => a.id)
      .sort();
    expect(recreated('pc2')).toEqual(pc2Agents);
    expect(recreated('mainpc')).toEqual([]);
    figures.push(
      `rollout: moving TutorAgent's port recreated ${recreated('pc2').length} of ${before.pc2.size} pc2 containers (every pc2 agent mounts that config; Redis and NATS kept) and 0 of ${before.mainpc.size} on mainpc`,
    );
  });
});
