/** Probes as the image's agent-infra-health reads them: one rule for compose, Kubernetes, the image and the waits. */
import { DEFAULT_CODES, DEFAULT_STATUS, DEFAULT_ZMQ_REQUEST } from '../plan/phases/health.ts';
import type { PlannedDependency, PlannedProbe, PlannedService } from '../plan/types.ts';

/** The probe program in every image, run without site packages (a few ms of CPU per call). */
export const PROBE_PROGRAM = ['python3', '-S', '/usr/local/bin/agent-infra-health'] as const;

const same = (a: readonly (string | number)[], b: readonly (string | number)[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** `zmq://host:port[?…]`, `http://host:port/path[?codes=…]` or `tcp://host:port`; undefined for exec. Defaults are left out. */
export function probeTarget(p: PlannedProbe, host: string, port: number): string | undefined {
  switch (p.protocol) {
    case 'zmq': {
      const q: string[] = [];
      if (p.request !== undefined && p.request !== DEFAULT_ZMQ_REQUEST)
        q.push(`request=${encodeURIComponent(p.request)}`);
      if (p.status && !same(p.status, DEFAULT_STATUS)) q.push(`status=${p.status.join('|')}`);
      if (p.ready) q.push('ready=1');
      return `zmq://${host}:${port}${q.length ? `?${q.join('&')}` : ''}`;
    }
    case 'http':
      return `http://${host}:${port}${p.path ?? '/health'}${p.codes && !same(p.codes, DEFAULT_CODES) ? `?codes=${p.codes.join('|')}` : ''}`;
    case 'tcp':
      return `tcp://${host}:${port}`;
    case 'exec':
      return undefined;
  }
}

/** The command that runs a probe inside the agent's own container (`port`: where it listens there). */
export function probeCommand(p: PlannedProbe, port: number | undefined, timeoutSeconds: number): string[] {
  if (p.protocol === 'exec') return [...p.command!];
  return [...PROBE_PROGRAM, '--timeout', String(timeoutSeconds), probeTarget(p, '127.0.0.1', port!)!];
}

/** `WAIT_FOR`: each dependency's readiness probe at the host `hostOf` gives (a dependency probed by a command: a TCP connect to its health port). */
export function waitFor(
  deps: readonly PlannedDependency[],
  hostOf: (d: PlannedDependency) => string,
  singleHost: boolean,
): string {
  return deps
    .map((d) => {
      const r = d.readiness;
      if (r.protocol === 'exec') return `tcp://${hostOf(d)}:${singleHost ? d.singleHostHealthPort! : d.healthPort}`;
      return probeTarget(r, hostOf(d), singleHost ? r.singleHostPort! : r.port!)!;
    })
    .join(',');
}

/** How Redis or NATS is started (every target the same): `bind` is the address it listens on. */
export function serviceCommand(s: PlannedService, bind: string): string[] {
  return s.kind === 'redis'
    ? [
        'redis-server',
        '--bind',
        bind,
        '--port',
        String(s.port),
        '--protected-mode',
        'no',
        '--appendonly',
        'yes',
        '--appendfsync',
        'everysec',
        '--dir',
        '/data',
      ]
    : ['nats-server', '--addr', bind, '--port', String(s.port), '--http_port', String(s.monitorPort)];
}

/** Redis's own health check, run in its container (compose healthcheck, Kubernetes exec probe). */
export function redisPing(s: PlannedService): string {
  return `redis-cli -h 127.0.0.1 -p ${s.port} ping | grep -q PONG`;
}
