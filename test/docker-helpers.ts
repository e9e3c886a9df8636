/** The Docker engine for the Docker-based suites: whether one runs, and a client. */
import { spawnSync } from 'node:child_process';
import { docker as engine } from '../lib/images/images.ts';

export const docker = engine();

function engineUp(): boolean {
  const r = spawnSync(process.execPath, ['-e', `new (require('dockerode'))({socketPath: ${JSON.stringify(process.env['DOCKER_SOCKET'] ?? '/var/run/docker.sock')}}).ping().then(() => process.exit(0), () => process.exit(1))`], { encoding: 'utf8' });
  return r.status === 0;
}

export const HAS_ENGINE = engineUp();
if (!HAS_ENGINE) console.warn('skipping the Docker-based tests: no Docker engine answers (run scripts/docker-engine.sh; .ci/run does)');

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

/** Waits until a container's HEALTHCHECK reports healthy; returns the final status. */
export async function waitHealthy(id: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let status = 'none';
  while (Date.now() < deadline) {
    const info = await docker.getContainer(id).inspect();
    status = info.State.Health?.Status ?? (info.State.Running ? 'no healthcheck' : `exited ${info.State.ExitCode}`);
    if (status === 'healthy' || !info.State.Running) return status;
    await new Promise((r) => setTimeout(r, 500));
  }
  return status;
}
