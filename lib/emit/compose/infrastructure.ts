/** Redis and NATS services, locked down as the agents are, and the resources every service declares. */
import { redisPing, serviceCommand } from '../../contract/probe.ts';
import type { PlannedResources, PlannedService } from '../../plan/types.ts';
import type { ComposeService, Topology } from './topology.ts';

/** What every container of a project shares: no capability, no new privilege, bounded logs, 30 s to stop. */
export const LOCKED_DOWN = {
  cap_drop: ['ALL'],
  security_opt: ['no-new-privileges:true'],
  logging: { driver: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } },
  stop_grace_period: '30s',
} as const satisfies Partial<ComposeService>;

/** A service's compose `deploy.resources`: its limits and reservations (and the GPU it reserves). */
export function resourcesOf(
  r: PlannedResources,
  devices?: { driver: string; device_ids: string[]; capabilities: string[] }[],
) {
  return {
    limits: { cpus: (r.cpuMillis / 1000).toFixed(2), memory: `${r.memoryMiB}M` },
    reservations: {
      cpus: (r.cpuRequestMillis / 1000).toFixed(2),
      memory: `${r.memoryRequestMiB}M`,
      ...(devices ? { devices } : {}),
    },
  };
}

/** Redis (append-only file on a named volume) or NATS. */
export function infrastructureService(t: Topology, s: PlannedService): ComposeService {
  const ports = [s.port, ...(s.monitorPort !== undefined ? [s.monitorPort] : [])];
  const redis = s.kind === 'redis';
  return {
    image: s.image,
    ...t.host(s.id),
    user: `${s.user}:${s.user}`,
    command: serviceCommand(s, t.bindAddress),
    ...t.published(ports),
    healthcheck: {
      test: redis
        ? ['CMD-SHELL', redisPing(s)]
        : ['CMD', 'wget', '-q', '-O', '/dev/null', `http://127.0.0.1:${s.monitorPort}/healthz`],
      interval: '5s',
      timeout: '3s',
      retries: 5,
      start_period: '10s',
    },
    restart: 'unless-stopped',
    read_only: true,
    ...(redis ? { volumes: [{ type: 'volume', source: 'redis-data', target: '/data' }] } : {}),
    ...LOCKED_DOWN,
    deploy: { resources: resourcesOf(s.resources) },
    ...t.attached,
  };
}
