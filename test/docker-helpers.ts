/** The Docker engine for the Docker-based suites: whether one runs, a client, and bounded calls to it. */
import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { docker as engine } from '../lib/images/images.ts';

export const docker = engine();

function engineUp(): boolean {
  const r = spawnSync(
    process.execPath,
    [
      '-e',
      `new (require('dockerode'))({socketPath: ${JSON.stringify(process.env['DOCKER_SOCKET'] ?? '/var/run/docker.sock')}}).ping().then(() => process.exit(0), () => process.exit(1))`,
    ],
    { encoding: 'utf8' },
  );
  return r.status === 0;
}

export const HAS_ENGINE = engineUp();
if (!HAS_ENGINE)
  console.warn(
    'skipping the Docker-based tests: no Docker engine answers (run scripts/docker-engine.sh; .ci/run does)',
  );

export const LOCAL_BASE = 'agent-infra-base/python:3.11-bookworm';
export const BASE_MAP = ['--base-map', `python:3.11-slim-bookworm=${LOCAL_BASE}`];

export async function hasImage(name: string): Promise<boolean> {
  try {
    await docker.getImage(name).inspect();
    return true;
  } catch {
    return false;
  }
}

/** Rejects with `what timed out after N ms` unless `p` settles first. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** The last `lines` lines of a container's stdout and stderr (empty when the container is gone). */
export async function containerLogs(id: string, lines = 40): Promise<string> {
  try {
    const buf = (await within(
      docker
        .getContainer(id)
        .logs({ stdout: true, stderr: true, follow: false, tail: lines }) as unknown as Promise<Buffer>,
      10_000,
      'reading the logs',
    )) as Buffer;
    return demux(buf);
  } catch (e) {
    return `(no logs: ${(e as Error).message})`;
  }
}

/** Docker's multiplexed stream (8-byte frame headers) as text. */
export function demux(buf: Buffer): string {
  let out = '';
  let i = 0;
  while (i + 8 <= buf.length && buf[i]! <= 2 && buf[i + 1] === 0 && buf[i + 2] === 0 && buf[i + 3] === 0) {
    const size = buf.readUInt32BE(i + 4);
    out += buf.subarray(i + 8, i + 8 + size).toString('utf8');
    i += 8 + size;
  }
  return i === 0 ? buf.toString('utf8') : out;
}

/** What a container did, for a failure message: its state, its last health checks, its last log lines. */
export async function explain(id: string): Promise<string> {
  let state: string;
  let checks = '';
  try {
    const info = await within(docker.getContainer(id).inspect(), 10_000, 'inspecting the container');
    const s = info.State;
    state = `${info.Name.replace(/^\//, '')}: ${s.Status}${s.Running ? '' : `, exit code ${s.ExitCode}${s.OOMKilled ? ' (out of memory)' : ''}`}, health ${s.Health?.Status ?? 'none'}`;
    checks = (s.Health?.Log ?? [])
      .slice(-3)
      .map((l) => `  exit ${l.ExitCode}: ${l.Output.trim().slice(0, 300) || '(no output)'}`)
      .join('\n');
  } catch (e) {
    state = `container ${id.slice(0, 12)} is gone (${(e as Error).message})`;
  }
  const logs = (await containerLogs(id)).trimEnd();
  return `${state}\nlast health checks:\n${checks || '  (none)'}\nlast log lines:\n${logs ? logs.replace(/^/gm, '  ') : '  (none)'}`;
}

/**
 * Waits until a container's HEALTHCHECK reports healthy. Rejects, with the container's state, last
 * health-check outputs and log lines, when it turns unhealthy, exits, disappears or the time runs out.
 */
export async function waitHealthy(id: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let info: Docker.ContainerInspectInfo | undefined;
    try {
      info = await within(docker.getContainer(id).inspect(), 10_000, 'inspecting the container');
    } catch {
      // Removed, or the engine did not answer: either way, explain says which.
    }
    const status = info?.State.Health?.Status;
    if (status === 'healthy') return;
    const why = !info
      ? 'disappeared'
      : !info.State.Running
        ? `exited with code ${info.State.ExitCode}`
        : status === 'unhealthy'
          ? 'turned unhealthy'
          : Date.now() > deadline
            ? `was not healthy within ${timeoutMs / 1000} s`
            : undefined;
    if (why) throw new Error(`container ${why}\n${await explain(id)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Runs a command in a running container and resolves with its exit code and output. Every stream has
 * an error handler and the whole call a deadline: a container that is gone fails the call with its
 * logs, never with an unhandled EPIPE.
 */
export async function execIn(
  id: string,
  cmd: readonly string[],
  timeoutMs = 20_000,
): Promise<{ exitCode: number; output: string }> {
  const run = async () => {
    const exec = await docker.getContainer(id).exec({ Cmd: [...cmd], AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: false, stdin: false });
    const out = new PassThrough();
    let output = '';
    out.on('data', (d: Buffer) => (output += d.toString('utf8')));
    await new Promise<void>((resolve, reject) => {
      stream.on('error', reject);
      out.on('error', reject);
      stream.on('end', () => resolve());
      stream.on('close', () => resolve());
      docker.modem.demuxStream(stream, out, out);
    });
    const info = await exec.inspect();
    return { exitCode: info.ExitCode ?? -1, output };
  };
  try {
    return await within(run(), timeoutMs, `'${cmd.join(' ')}' in the container`);
  } catch (e) {
    throw new Error(`running '${cmd.join(' ')}' failed: ${(e as Error).message}\n${await explain(id)}`, { cause: e });
  }
}
