/**
 * The images suite: builds the example's image families from the mini monorepo on a real engine,
 * against their naive single-stage twins, and runs every image. Needs scripts/docker-engine.sh and
 * scripts/base-images.sh (`npm run test:images`; .ci/run does all three).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { cli, EXAMPLE_SPEC, ROOT } from '../helpers.ts';
import { BASE_MAP, docker, HAS_ENGINE, hasImage, LOCAL_BASE, waitHealthy } from '../docker-helpers.ts';

type Report = {
  ok: boolean;
  families: { family: string; image: string; sizeBytes: number; wastedRatio: number; buildSeconds: number; user: string; ratioToNaive: number; naive: { sizeBytes: number } }[];
  sharing: { ratio: number; uniqueBytes: number; sumBytes: number };
};

const dir = mkdtempSync(join(tmpdir(), 'images-'));
const context = join(dir, 'src');
let report: Report;
let clean: { code: number; stdout: string; stderr: string };
const containers: string[] = [];

describe.skipIf(!HAS_ENGINE)('image families built on a real engine', () => {
  beforeAll(async () => {
    if (!(await hasImage(LOCAL_BASE))) throw new Error(`base image ${LOCAL_BASE} is missing: run scripts/base-images.sh`);
    cpSync(join(ROOT, 'test', 'fixtures', 'mini-monorepo'), context, { recursive: true });
    clean = cli(['images', '--spec', EXAMPLE_SPEC, '--context', context, ...BASE_MAP, '--naive', '--no-cache', '--json', join(dir, 'report.json'), '--markdown', join(dir, 'report.md')]);
    if (clean.code !== 0) console.error(clean.stderr.slice(-3000));
    report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    console.log(readFileSync(join(dir, 'report.md'), 'utf8'));
  });

  afterAll(async () => {
    for (const id of containers) await docker.getContainer(id).remove({ force: true }).catch(() => undefined);
  });

  it('builds every family within its budget and prints the report', () => {
    expect(clean.code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.families.map((f) => f.family)).toEqual(['cpu', 'gpu-audio', 'gpu-torch']);
    expect(clean.stdout).toMatch(/^\| cpu \| [\d.]+ MiB \| [\d.]+ MiB \| 0\.\d\d \|/m);
    expect(clean.stderr).toMatch(/^\[cpu\] Step 1\/\d+ : ARG BUILDER_BASE=python:3\.11-slim-bookworm$/m);
  });

  it('makes the CPU family at most 0.6 of its naive single-stage build on the same base', () => {
    const cpu = report.families.find((f) => f.family === 'cpu')!;
    expect(cpu.ratioToNaive).toBeCloseTo(cpu.sizeBytes / cpu.naive.sizeBytes, 6);
    expect(cpu.ratioToNaive).toBeLessThanOrEqual(0.6);
  });

  it('wastes at most 2% of every image on files that later layers overwrite or delete', () => {
    for (const f of report.families) expect([f.family, f.wastedRatio <= 0.02]).toEqual([f.family, true]);
  });

  it('shares base layers across the families: distinct bytes at most 0.7 of their summed sizes', () => {
    expect(report.sharing.ratio).toBeLessThanOrEqual(0.7);
    expect(report.sharing.uniqueBytes).toBeLessThan(report.sharing.sumBytes);
  });

  it('runs each image as uid 10001 and its HEALTHCHECK turns healthy with an agent environment on host networking', async () => {
    const started = await Promise.all(
      report.families.map(async (f, i) => {
        const port = 18700 + i * 10;
        const c = await docker.createContainer({
          Image: f.image,
          name: `agent-infra-images-test-${f.family}-${process.pid}`,
          Env: ['AGENT_NAME=ImageProbe', `AGENT_PORT=${port}`, `HEALTH_CHECK_PORT=${port + 1}`, 'BIND_ADDRESS=127.0.0.1', 'STARTUP_SECONDS=1', 'AGENT_SCRIPT=main_pc_code/agents/executor.py'],
          HostConfig: { NetworkMode: 'host', ReadonlyRootfs: true, Tmpfs: { '/tmp': '' }, CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges:true'] },
          Healthcheck: { Interval: 1e9, Timeout: 3e9, StartPeriod: 5e9, Retries: 3 },
        });
        containers.push(c.id);
        await c.start();
        return { family: f.family, id: c.id, user: (await c.inspect()).Config.User };
      }),
    );
    for (const s of started) {
      expect(s.user).toBe('10001:10001');
      expect([s.family, await waitHealthy(s.id, 60_000)]).toEqual([s.family, 'healthy']);
      const exec = await docker.getContainer(s.id).exec({ Cmd: ['id', '-u'], AttachStdout: true });
      const out = await new Promise<string>((resolve) => exec.start({}, (_e, stream) => { let b = ''; stream!.on('data', (d: Buffer) => (b += d.toString())); stream!.on('end', () => resolve(b)); }));
      expect(out).toContain('10001');
    }
  });

  it('rebuilds after a source-only change in at most 30% of a clean build', () => {
    const cleanSeconds = report.families.find((f) => f.family === 'cpu')!.buildSeconds;
    appendFileSync(join(context, 'common', 'agent_stub.py'), '\n# a source-only change\n');
    const t0 = performance.now();
    const r = cli(['images', '--spec', EXAMPLE_SPEC, '--context', context, ...BASE_MAP, '--family', 'cpu', '--json', join(dir, 'rebuild.json')]);
    const wall = (performance.now() - t0) / 1000;
    expect(r.code).toBe(0);
    const rebuild = JSON.parse(readFileSync(join(dir, 'rebuild.json'), 'utf8')).families[0];
    console.log(`cpu family: clean build ${cleanSeconds.toFixed(1)} s, rebuild after a source change ${rebuild.buildSeconds.toFixed(1)} s (${((rebuild.buildSeconds / cleanSeconds) * 100).toFixed(0)}%), whole command ${wall.toFixed(1)} s`);
    expect(rebuild.buildSeconds / cleanSeconds).toBeLessThanOrEqual(0.3);
    expect(r.stderr).toMatch(/\[cpu\] Step \d+\/\d+ : COPY common\/ \/app\/common\//);
  });
});
