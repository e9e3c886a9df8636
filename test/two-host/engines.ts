/**
 * A Docker engine per test host: dockerd started inside the host's network namespace (its mounts are the
 * machine's: only the network is the host's own), with its own data, socket and address pool from
 * 198.18.0.0/15, and Docker's usual iptables rules, which live in that namespace alone. A stand-in for the
 * NVIDIA container toolkit's hook on its PATH makes the engine accept the compose files' GPU reservations
 * as it does on a GPU machine: the container gets NVIDIA_VISIBLE_DEVICES, and no device.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { alive, type TestHost } from '../netns.ts';

export interface HostEngine {
  readonly host: TestHost;
  readonly socket: string;
  readonly docker: Docker;
  readonly pid: number;
  readonly dir: string;
  /** Stops the engine (by its pid) and removes its data. */
  readonly stop: () => Promise<void>;
}

/** The hook the engine looks for on its PATH before it registers its `nvidia` device driver. */
const HOOK = 'nvidia-container-runtime-hook';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An engine's folder: `/tmp/ai-eng-<pid of the test process>-XXXXXX` (short: a socket path has 108 bytes). */
const ENGINE_DIR = /^ai-eng-(\d+)-\w+$/;

/** Stops the engines of test processes that are gone (a run killed before its teardown) and removes their data. */
export async function removeStaleEngines(): Promise<string[]> {
  const stale = readdirSync('/tmp').filter((d) => ENGINE_DIR.test(d) && !alive(Number(ENGINE_DIR.exec(d)![1])));
  for (const d of stale) {
    const dir = join('/tmp', d);
    const pidFile = join(dir, 'dockerd.pid');
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0;
    // Only a dockerd of that folder: a pid file can outlive its process, and pids are reused.
    if (pid > 0 && alive(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) await stopPid(pid);
    removeData(dir);
  }
  return stale;
}

async function stopPid(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  // dockerd stops its containers first (10 s each, in parallel), slower on a loaded machine.
  for (let i = 0; i < 400 && alive(pid); i++) await sleep(300);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 20 && alive(pid); i++) await sleep(300);
}

/**
 * Removes an engine's folder once its engine is gone: first what the engine left mounted below it (a
 * killed engine leaves its containers' overlays), deepest first, then the folder, unless a mount stays
 * (never deletes through a mount).
 */
function removeData(dir: string): void {
  const below = () =>
    (spawnSync('findmnt', ['-rn', '-o', 'TARGET'], { encoding: 'utf8' }).stdout ?? '')
      .split('\n')
      .filter((m) => m.startsWith(`${dir}/`));
  for (const m of below().sort((a, b) => b.length - a.length)) spawnSync('umount', ['-l', m]);
  if (below().length === 0) rmSync(dir, { recursive: true, force: true });
}

/**
 * Starts dockerd in `host`'s namespace, its containers' networks from `pool` (a /20 of 198.18.0.0/15), the
 * names its embedded DNS does not know asked of `dns` (the LAN's server), never of this machine's resolver.
 */
export async function startEngine(host: TestHost, pool: string, dns: string): Promise<HostEngine> {
  if (!/^198\.(18|19)\.\d+\.0\/20$/.test(pool)) throw new Error(`${pool}: not a /20 of 198.18.0.0/15`);
  if (!/^198\.(18|19)\.\d+\.\d+$/.test(dns)) throw new Error(`${dns}: not an address of 198.18.0.0/15`);
  const dir = mkdtempSync(`/tmp/ai-eng-${process.pid}-`);
  mkdirSync(join(dir, 'bin'));
  writeFileSync(
    join(dir, 'bin', HOOK),
    '#!/bin/sh\n# A stand-in for the NVIDIA container toolkit: no device to set up here.\ncat >/dev/null\n',
  );
  chmodSync(join(dir, 'bin', HOOK), 0o755);
  const socket = join(dir, 'd.sock');
  const log = openSync(join(dir, 'dockerd.log'), 'a');
  const child = spawn(
    'nsenter',
    [
      `--net=/var/run/netns/${host.ns}`,
      'dockerd',
      `--data-root=${join(dir, 'data')}`,
      `--exec-root=${join(dir, 'x')}`,
      `--pidfile=${join(dir, 'dockerd.pid')}`,
      `--host=unix://${socket}`,
      '--bridge=none',
      '--storage-driver=overlay2',
      `--default-address-pool=base=${pool},size=24`,
      `--dns=${dns}`,
    ],
    {
      detached: true,
      stdio: ['ignore', log, log],
      env: { ...process.env, PATH: `${join(dir, 'bin')}:${process.env['PATH']}` },
    },
  );
  child.unref();
  const pid = child.pid!;
  const docker = new Docker({ socketPath: socket });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await docker.ping();
      break;
    } catch {
      if (Date.now() > deadline || child.exitCode !== null) {
        const tail = existsSync(join(dir, 'dockerd.log'))
          ? readFileSync(join(dir, 'dockerd.log'), 'utf8').slice(-2000)
          : '';
        process.kill(pid, 'SIGTERM');
        throw new Error(`dockerd in ${host.name} did not come up:\n${tail}`);
      }
      await sleep(300);
    }
  }
  const stop = async () => {
    await stopPid(pid);
    removeData(dir);
  };
  return { host, socket, docker, pid, dir, stop };
}

/** Copies images from the engine of this machine to a host's engine (docker save | docker load). */
export function copyImages(images: readonly string[], to: HostEngine): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('sh', ['-c', `docker save "$@" | docker -H unix://${to.socket} load -q`, 'sh', ...images]);
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.stdout.resume();
    p.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`copying ${images.join(', ')} to ${to.host.name} failed: ${err}`)),
    );
  });
}
