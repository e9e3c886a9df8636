/**
 * The images suite: builds the example's image families from the mini monorepo on a real engine,
 * against the naive single-stage twin of the CPU family, and runs every image. Needs scripts/docker-engine.sh and
 * scripts/base-images.sh (`npm run test:images`; .ci/run does all three).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { appendFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { cli, exampleSpecCopy, ROOT, withStandInPackages } from '../helpers.ts';
import { startInfraServers, type InfraServers } from '../infra-servers.ts';
import { BASE_MAP, demux, docker, execIn, HAS_ENGINE, hasImage, LOCAL_BASE, waitHealthy } from '../docker-helpers.ts';
import { freePorts, labelArgs, RUN_LABEL, runLabels } from '../docker-run.ts';

type Report = {
  ok: boolean;
  families: {
    family: string;
    image: string;
    sizeBytes: number;
    wastedRatio: number;
    buildSeconds: number;
    user: string;
    ratioToNaive: number;
    naive?: { image: string; sizeBytes: number };
  }[];
  sharing: { ratio: number; uniqueBytes: number; sumBytes: number };
};

const run = inject('dockerRun');
const dir = mkdtempSync(join(tmpdir(), 'images-'));
const context = join(dir, 'src');
// This run's own tag, so that it neither replaces nor removes an image a user built from the example.
// Debian's pyzmq and redis stand in for the agents' PyPI packages (no package index is reachable here).
const SPEC = exampleSpecCopy(dir, (t) => `${withStandInPackages(t)}tag: test-${run.id}\n`);
let infra: InfraServers;
let report: Report;
let clean: { code: number; stdout: string; stderr: string };
const containers: string[] = [];

/**
 * Starts a family's image as an agent on host networking, read-only and without capabilities, labelled
 * with the run: the stand-in Executor (a BaseAgent) with Redis and NATS on loopback, the discovery
 * variables it needs, and its readiness probe in AGENT_HEALTH, as the compose and Kubernetes outputs give it.
 */
async function startAgent(image: string, name: string, port: number, env: readonly string[] = []) {
  const c = await docker.createContainer({
    Image: image,
    name: `agent-infra-test-${name}-${run.id}`,
    Labels: runLabels(run),
    Cmd: ['python3', 'main_pc_code/agents/executor.py'],
    Env: [
      `AGENT_PORT=${port}`,
      `HEALTH_CHECK_PORT=${port + 1}`,
      `AGENT_HEALTH=zmq://127.0.0.1:${port + 1}`,
      'STARTUP_SECONDS=1',
      // Nothing answers there: the agent keeps trying to register in the background, as the real one tries.
      'DIGITAL_TWIN_HOST=127.0.0.1',
      `DIGITAL_TWIN_PORT=${port + 3}`,
      'SERVICE_REGISTRY_HOST=127.0.0.1',
      `SERVICE_REGISTRY_PORT=${port + 3}`,
      ...infra.env,
      ...env,
    ],
    HostConfig: {
      NetworkMode: 'host',
      ReadonlyRootfs: true,
      Tmpfs: { '/tmp': '' },
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges:true'],
    },
    Healthcheck: { Interval: 1e9, Timeout: 3e9, StartPeriod: 5e9, Retries: 3 },
  });
  containers.push(c.id);
  await c.start();
  return c;
}

describe.skipIf(!HAS_ENGINE)('image families built on a real engine', () => {
  beforeAll(async () => {
    if (!(await hasImage(LOCAL_BASE)))
      throw new Error(`base image ${LOCAL_BASE} is missing: run scripts/base-images.sh`);
    const [redisPort, natsPort] = await freePorts(2, 1, 30_000 + (process.pid % 100) * 10);
    infra = await startInfraServers(redisPort!, natsPort!);
    cpSync(join(ROOT, 'test', 'fixtures', 'mini-monorepo'), context, { recursive: true });
    clean = cli(
      [
        'images',
        '--spec',
        SPEC,
        '--context',
        context,
        ...BASE_MAP,
        ...labelArgs(run),
        // One naive twin: each is a whole single-stage build with the build tools, and the ratio is the CPU family's.
        '--naive-family',
        'cpu',
        // With the engine's cache: the GPU families share the CPU family's builder steps, as on a user's machine.
        '--json',
        join(dir, 'report.json'),
        '--markdown',
        join(dir, 'report.md'),
      ],
      dir,
    );
    if (clean.code !== 0) console.error(clean.stderr.slice(-3000));
    report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    console.log(readFileSync(join(dir, 'report.md'), 'utf8'));
  });

  afterAll(async () => {
    infra?.stop();
    for (const id of containers)
      await docker
        .getContainer(id)
        .remove({ force: true })
        .catch(() => undefined);
  });

  it('builds every family within its budget and prints the report', () => {
    expect(clean.code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.families.map((f) => f.family)).toEqual(['cpu', 'gpu-audio', 'gpu-torch']);
    // What the family installs (the example's requirements/base.txt, and Debian's stand-ins it sees), then sizes.
    expect(clean.stdout).toMatch(
      /^\| cpu \| 1 requirement file; Debian python3-redis, python3-yaml, python3-zmq \| [\d.]+ MiB \| [\d.]+ MiB \| 0\.\d\d \|/m,
    );
    expect(clean.stderr).toMatch(/^\[cpu\] Step 1\/\d+ : ARG BUILDER_BASE=python:3\.11-slim-bookworm$/m);
  });

  it('labels every image it builds with the test run, so that teardown finds them', async () => {
    const images = report.families.flatMap((f) => [f.image, ...(f.naive ? [f.naive.image] : [])]);
    expect(images).toEqual([
      `agent-infra/cpu:test-${run.id}`,
      `agent-infra/cpu:test-${run.id}-naive`,
      `agent-infra/gpu-audio:test-${run.id}`,
      `agent-infra/gpu-torch:test-${run.id}`,
    ]);
    for (const image of images)
      expect([image, (await docker.getImage(image).inspect()).Config.Labels?.[RUN_LABEL]]).toEqual([image, run.id]);
  });

  it('makes the CPU family at most 0.6 of its naive single-stage build on the same base', async () => {
    const cpu = report.families.find((f) => f.family === 'cpu')!;
    // The sizes as the engine reports them, not as the report computed them.
    const engineRatio =
      (await docker.getImage(cpu.image).inspect()).Size / (await docker.getImage(cpu.naive!.image).inspect()).Size;
    expect(cpu.ratioToNaive).toBeCloseTo(engineRatio, 6);
    expect(engineRatio).toBeLessThanOrEqual(0.6);
  });

  it('wastes at most 2% of every image on files that later layers overwrite or delete', () => {
    for (const f of report.families) expect([f.family, f.wastedRatio <= 0.02]).toEqual([f.family, true]);
  });

  it('shares base layers across the families: distinct bytes at most 0.7 of their summed sizes', () => {
    expect(report.sharing.ratio).toBeLessThanOrEqual(0.7);
    expect(report.sharing.uniqueBytes).toBeLessThan(report.sharing.sumBytes);
  });

  it('runs each image as uid 10001 and its HEALTHCHECK turns healthy with an agent environment on host networking', async () => {
    // Ports free at this moment, each with its health port after it: never fixed numbers that an
    // earlier run or another program may hold.
    const ports = await freePorts(report.families.length, 4);
    const started = await Promise.all(
      report.families.map(async (f, i) => ({ family: f.family, c: await startAgent(f.image, f.family, ports[i]!) })),
    );
    for (const { family, c } of started) {
      expect([family, (await c.inspect()).Config.User]).toEqual([family, '10001:10001']);
      await waitHealthy(c.id, 90_000);
      const id = await execIn(c.id, ['id', '-u']);
      expect([family, id.exitCode, id.output.trim()]).toEqual([family, 0, '10001']);
    }
  });

  it(
    'starts every Kubernetes container as its Deployment says (args through the image entrypoint, env, user): the right script, on the ports its probes ask',
    { timeout: 1_200_000 },
    async () => {
      const out = join(dir, 'k8s-out');
      const synth = cli(['synth', '--spec', SPEC, '--out', out, '--only', 'k8s'], dir);
      expect(synth.code).toBe(0);
      const objects = readdirSync(join(out, 'k8s'))
        .filter((f) => f.endsWith('.yaml'))
        .flatMap((f) => parseAllDocuments(readFileSync(join(out, 'k8s', f), 'utf8')).map((d) => d.toJS()))
        .filter(Boolean);
      const configMaps = new Map(
        objects.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o.data as Record<string, string>]),
      );
      const deployments = objects.filter(
        (o) => o.kind === 'Deployment' && o.spec.template.spec.containers[0].name === 'agent',
      );
      expect(deployments.length).toBe(82);
      const started: string[] = [];
      const startOne = async (d: any) => {
        const c = d.spec.template.spec.containers[0];
        // The values Kubernetes would give: literals, and the ConfigMap's; secrets are absent here.
        const env = c.env.flatMap((e: any) =>
          e.value !== undefined
            ? [`${e.name}=${e.value}`]
            : e.valueFrom.configMapKeyRef
              ? [`${e.name}=${configMaps.get(e.valueFrom.configMapKeyRef.name)![e.valueFrom.configMapKeyRef.key]}`]
              : [],
        );
        const name = env.find((e: string) => e.startsWith('AGENT_NAME='))!.slice('AGENT_NAME='.length);
        const health = Number(
          /:(\d+)$/.exec(c.readinessProbe.exec?.command.at(-1) ?? `:${c.readinessProbe.tcpSocket?.port}`)![1],
        );
        // Files from ConfigMaps (the planned startup config) at their mount paths, read-only, as the kubelet mounts them.
        const binds = (c.volumeMounts ?? []).flatMap((vm: any) => {
          const volume = d.spec.template.spec.volumes.find((v: any) => v.name === vm.name);
          if (!volume?.configMap) return [];
          const file = join(dir, `cm-${d.metadata.name}-${vm.name}`);
          writeFileSync(file, configMaps.get(volume.configMap.name)![vm.subPath]!);
          return [`${file}:${vm.mountPath}:ro`];
        });
        const ct = await docker.createContainer({
          Image: c.image,
          name: `agent-infra-test-k8s-${d.metadata.name}-${run.id}`,
          Labels: runLabels(run),
          Cmd: c.args,
          Env: env,
          User: `${c.securityContext.runAsUser}:${c.securityContext.runAsGroup}`,
          // Each pod has its own network: here, none at all (the ports are free inside it).
          HostConfig: {
            NetworkMode: 'none',
            ReadonlyRootfs: true,
            Tmpfs: { '/tmp': '' },
            CapDrop: ['ALL'],
            SecurityOpt: ['no-new-privileges:true'],
            Binds: binds,
          },
        });
        containers.push(ct.id);
        await ct.start();
        const line = `base_agent ${name}: bound service ${c.ports[0].containerPort}, health ${health}, http ${health + 1}`;
        let logs = '';
        for (let i = 0; i < 300 && !logs.includes(line); i++) {
          await new Promise((r) => setTimeout(r, 100));
          logs = demux((await ct.logs({ stdout: true, stderr: true })) as unknown as Buffer);
        }
        await ct.remove({ force: true });
        expect([d.metadata.name, logs.includes(line) ? line : logs.slice(-600)]).toEqual([d.metadata.name, line]);
        started.push(d.metadata.name);
      };
      for (let i = 0; i < deployments.length; i += 8) await Promise.all(deployments.slice(i, i + 8).map(startOne));
      expect(started.length).toBe(82);
    },
  );

  it(
    "builds the default gpu family (agent-infra's own, Python in both stages) and runs Python and the entrypoint in it",
    { timeout: 1_200_000 },
    async () => {
      const d = mkdtempSync(join(tmpdir(), 'images-gpu-'));
      writeFileSync(
        join(d, 'main.yaml'),
        'agent_groups:\n  vision_gpu:\n    VisionAgent: {script_path: main_pc_code/agents/executor.py, port: 7300, health_check_port: 8300}\n',
      );
      // No images section: the families are agent-infra's defaults.
      writeFileSync(
        join(d, 'agent-infra.yaml'),
        `name: gpu-default\nnamespace: gpu-default\ntag: test-${run.id}-gpu\nmachines:\n  main: {config: main.yaml, addressEnv: MAIN_PC_IP, gpus: [{model: NVIDIA GeForce RTX 4090, vramGiB: 24}]}\n`,
      );
      const r = cli(
        [
          'images',
          '--spec',
          join(d, 'agent-infra.yaml'),
          '--context',
          context,
          ...BASE_MAP,
          ...labelArgs(run),
          '--family',
          'gpu',
          '--json',
          join(d, 'gpu.json'),
        ],
        d,
      );
      if (r.code !== 0) console.error(r.stderr.slice(-3000));
      expect(r.code).toBe(0);
      const family = (JSON.parse(readFileSync(join(d, 'gpu.json'), 'utf8')) as Report).families[0]!;
      console.log(
        `default gpu family on python:3.11-slim-bookworm (a local stand-in here): ${(family.sizeBytes / 2 ** 20).toFixed(1)} MiB`,
      );
      const runIn = async (cmd: string[]) => {
        const c = await docker.createContainer({
          Image: family.image,
          name: `agent-infra-test-gpu-${run.id}-${containers.length}`,
          Labels: runLabels(run),
          Cmd: cmd,
          HostConfig: {
            NetworkMode: 'none',
            ReadonlyRootfs: true,
            CapDrop: ['ALL'],
            SecurityOpt: ['no-new-privileges:true'],
          },
        });
        containers.push(c.id);
        await c.start();
        const { StatusCode } = (await c.wait()) as { StatusCode: number };
        return { StatusCode, output: demux((await c.logs({ stdout: true, stderr: true })) as unknown as Buffer) };
      };
      // The runtime stage has an interpreter for the copied virtual environment, and the entrypoint runs.
      expect(await runIn(['python3', '-c', 'import sys; print(sys.version_info[:2], sys.prefix)'])).toEqual({
        StatusCode: 0,
        output: '(3, 11) /opt/venv\n',
      });
      const info = await docker.getImage(family.image).inspect();
      expect(info.Config.Entrypoint).toEqual(['python3', '/usr/local/bin/agent-infra-entrypoint']);
      expect(info.Config.User).toBe('10001:10001');
    },
  );

  it("fails the health wait with the container's exit code and log lines when the container dies", async () => {
    const [port] = await freePorts(1, 4);
    // Long enough a model load that the container is still starting when it is killed.
    const c = await startAgent(report.families[0]!.image, 'killed', port!, ['STARTUP_SECONDS=120']);
    const waiting = waitHealthy(c.id, 90_000);
    // Killed once the stub has bound its ports, so that its log has something to show.
    for (
      let i = 0;
      i < 100 &&
      !/bound service/.test(((await c.logs({ stdout: true, stderr: true })) as unknown as Buffer).toString());
      i++
    )
      await new Promise((r) => setTimeout(r, 100));
    await c.kill({ signal: 'SIGKILL' });
    const err = await waiting.then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/^container exited with code 137\n/);
    expect(err?.message).toContain(`agent-infra-test-killed-${run.id}: exited, exit code 137`);
    expect(err?.message).toMatch(/last log lines:\n {2}base_agent Executor: bound service \d+, health \d+, http \d+/);
  });

  it('rebuilds after a source-only change from the cache up to the changed source folder, and nothing before it', () => {
    const cleanSeconds = report.families.find((f) => f.family === 'cpu')!.buildSeconds;
    appendFileSync(join(context, 'common', 'core', 'base_agent.py'), '\n# a source-only change\n');
    const t0 = performance.now();
    const r = cli(
      [
        'images',
        '--spec',
        SPEC,
        '--context',
        context,
        ...BASE_MAP,
        ...labelArgs(run),
        '--family',
        'cpu',
        '--json',
        join(dir, 'rebuild.json'),
      ],
      dir,
    );
    const wall = (performance.now() - t0) / 1000;
    expect(r.code).toBe(0);
    const rebuild = JSON.parse(readFileSync(join(dir, 'rebuild.json'), 'utf8')).families[0] as {
      buildSeconds: number;
      steps: { instruction: string; cached: boolean }[];
    };
    // A figure, not a test: times move with the machine's load.
    console.log(
      `cpu family: first build ${cleanSeconds.toFixed(1)} s, rebuild after a source change ${rebuild.buildSeconds.toFixed(1)} s (${((rebuild.buildSeconds / cleanSeconds) * 100).toFixed(0)}%), whole command ${wall.toFixed(1)} s`,
    );
    // The behaviour, which load cannot change: every layer of the image that ships (the runtime stage)
    // before the changed folder's COPY comes from the cache, the virtual environment included.
    const runtime = rebuild.steps.findIndex((s) => /^FROM .* AS runtime$/.test(s.instruction));
    const changed = rebuild.steps.findIndex((s) => s.instruction === 'COPY common/ /app/common/');
    expect([runtime > 0, changed > runtime]).toEqual([true, true]);
    const before = rebuild.steps.slice(runtime + 1, changed);
    expect(before.filter((s) => !s.cached).map((s) => s.instruction)).toEqual([]);
    expect(before.map((s) => s.instruction)).toContain('COPY --from=builder /opt/venv /opt/venv');
    expect(rebuild.steps[changed]!.cached).toBe(false);
    const builderMisses = rebuild.steps
      .slice(0, runtime)
      .filter((s) => !s.cached && !/^(ARG|FROM) /.test(s.instruction));
    console.log(
      `builder-stage steps run again: ${builderMisses.length} (${builderMisses.map((s) => s.instruction.slice(0, 40)).join('; ')})`,
    );
    expect(r.stderr).toMatch(/\[cpu\] Step \d+\/\d+ : COPY common\/ \/app\/common\//);
  });

  it(
    "with the agents' code read, copies exactly the files they import, and every agent's module imports in the image",
    { timeout: 1_200_000 },
    async () => {
      const src = join(dir, 'src-closure');
      cpSync(join(ROOT, 'test', 'fixtures', 'mini-monorepo'), src, { recursive: true });
      const spec = exampleSpecCopy(
        mkdtempSync(join(tmpdir(), 'images-src-')),
        (t) => `${withStandInPackages(t)}tag: test-${run.id}-closure\n`,
      );
      const r = cli(
        [
          'images',
          '--spec',
          spec,
          '--source',
          src,
          '--context',
          src,
          ...BASE_MAP,
          ...labelArgs(run),
          '--family',
          'cpu',
          '--json',
          join(dir, 'closure.json'),
        ],
        dir,
      );
      if (r.code !== 0) console.error(r.stderr.slice(-3000));
      expect(r.code).toBe(0);
      const image = (JSON.parse(readFileSync(join(dir, 'closure.json'), 'utf8')) as Report).families[0]!.image;
      // The fixture's scripts import common.core.base_agent and nothing else of the tree.
      const scripts = new Set(
        [
          ...readFileSync(
            join(ROOT, 'examples', 'two-pc', 'main_pc_code', 'config', 'startup_config.yaml'),
            'utf8',
          ).matchAll(/script_path: (\S+\.py)/g),
          ...readFileSync(
            join(ROOT, 'examples', 'two-pc', 'pc2_code', 'config', 'startup_config.yaml'),
            'utf8',
          ).matchAll(/script_path: (\S+\.py)/g),
        ].map((m) => m[1]!),
      );
      const probe = [
        'import importlib, os, sys',
        'files = sorted(os.path.relpath(os.path.join(d, f), "/app") for d, _, fs in os.walk("/app") for f in fs if f.endswith(".py"))',
        'print("\\n".join(files))',
        'mods = [f[:-3].replace("/", ".") for f in files if not f.endswith("__init__.py")]',
        'for m in mods: importlib.import_module(m)',
        'print("imported", len(mods))',
      ].join('\n');
      const c = await docker.createContainer({
        Image: image,
        name: `agent-infra-test-closure-${run.id}`,
        Labels: runLabels(run),
        Entrypoint: ['python3', '-c', probe],
        WorkingDir: '/app',
        HostConfig: {
          NetworkMode: 'none',
          ReadonlyRootfs: true,
          CapDrop: ['ALL'],
          SecurityOpt: ['no-new-privileges:true'],
        },
      });
      containers.push(c.id);
      await c.start();
      const { StatusCode } = (await c.wait()) as { StatusCode: number };
      const output = demux((await c.logs({ stdout: true, stderr: true })) as unknown as Buffer);
      expect([StatusCode, output.slice(-2000)]).toEqual([0, expect.stringMatching(/imported \d+\n$/)]);
      const files = output.trim().split('\n').slice(0, -1);
      // Nothing but the agents' scripts and the one shared module with its package.
      const shared = [
        'common/__init__.py',
        'common/config_loader.py',
        'common/core/__init__.py',
        'common/core/base_agent.py',
      ];
      expect(files.filter((f) => !scripts.has(f) && !shared.includes(f))).toEqual([]);
      expect(files).toEqual(expect.arrayContaining(shared));
      expect(files.length).toBeGreaterThan(10);
    },
  );
});
