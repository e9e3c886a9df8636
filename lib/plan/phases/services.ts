/** Services: the infrastructure the agents need (Redis, NATS), where it runs, and the ports it holds. */
import { diag, type Diagnostic } from '../../diagnostics.ts';
import type { DeploymentSpec, NatsSpec, RedisSpec } from '../../config/spec.ts';
import { byString } from '../names.ts';
import type { PortClaim } from '../ports.ts';
import type { PlannedResources, PlannedService } from '../types.ts';
import type { Draft } from './drafts.ts';

const REDIS_DEFAULTS: RedisSpec = { image: 'redis:7.2.5-bookworm', port: 6379, storageGiB: 1 };
/** The uid of the official Redis image's `redis` user, which owns /data there. */
const REDIS_UID = 999;

/**
 * What Redis and NATS may take: a little by request, one CPU and a bounded memory at most (Redis
 * holds the readiness keys, the registry and pools in memory; NATS only passes messages on).
 */
const SERVICE_RESOURCES: Record<PlannedService['kind'], PlannedResources> = {
  redis: { cpuMillis: 1000, cpuRequestMillis: 50, memoryMiB: 1024, memoryRequestMiB: 64 },
  nats: { cpuMillis: 1000, cpuRequestMillis: 50, memoryMiB: 256, memoryRequestMiB: 64 },
};
const NATS_DEFAULTS: NatsSpec = { image: 'nats:2.10.22-alpine3.20', port: 4222, monitorPort: 8222 };

/**
 * Redis and NATS, once per system, on the spec's machine (default: the first). Each is planned when the
 * spec configures it, or by default when an agent is a BaseAgent (whose readiness needs Redis and whose
 * error handler needs NATS); `false` leaves it out.
 */
export function planServices(
  spec: DeploymentSpec,
  live: readonly Draft[],
): { services: PlannedService[]; claims: PortClaim[]; diagnostics: Diagnostic[] } {
  const ds: Diagnostic[] = [];
  const machines = Object.keys(spec.machines).sort(byString);
  const wanted = live.some((d) => d.framework === 'baseagent');
  const s = spec.services;
  const machine = s.machine ?? machines[0]!;
  if (!machines.includes(machine)) {
    ds.push(
      diag(
        'invalid-spec',
        'error',
        `services.machine '${machine}' is not a machine of the spec (${machines.join(', ')})`,
      ),
    );
    return { services: [], claims: [], diagnostics: ds };
  }
  const clients = live.map((d) => d.id).sort(byString);
  const services: PlannedService[] = [];
  const redis = s.redis === false ? undefined : (s.redis ?? (wanted ? REDIS_DEFAULTS : undefined));
  if (redis)
    services.push({
      kind: 'redis',
      id: 'redis',
      machine,
      image: redis.image,
      user: REDIS_UID,
      port: redis.port,
      storageGiB: redis.storageGiB,
      ...(redis.storageClassName ? { storageClassName: redis.storageClassName } : {}),
      clients,
      resources: SERVICE_RESOURCES.redis,
    });
  const nats = s.nats === false ? undefined : (s.nats ?? (wanted ? NATS_DEFAULTS : undefined));
  if (nats)
    services.push({
      kind: 'nats',
      id: 'nats',
      machine,
      image: nats.image,
      user: spec.defaults.user,
      port: nats.port,
      monitorPort: nats.monitorPort,
      clients,
      resources: SERVICE_RESOURCES.nats,
    });
  for (const svc of services) {
    const clash = live.find((d) => d.id === svc.id);
    if (clash)
      ds.push(
        diag(
          'name-conflict',
          'error',
          `agent ${clash.cfg.name} has the name of the ${svc.kind} service ('${svc.id}'); rename the agent or set services.${svc.kind}: false`,
          clash.cfg.at,
        ),
      );
  }
  // Their ports are held on their machine (and the single host) like an agent's that never moves.
  const claim = (v: PlannedService, name: string, port: number): PortClaim => ({
    machine: v.machine,
    owner: v.id,
    name,
    role: 'extra',
    wanted: port,
    at: { file: 'agent-infra.yaml', line: 1, column: 1, path: `services.${v.kind}` },
    onConflict: 'error',
    fixed: true,
  });
  const claims = services.flatMap((v) => [
    claim(v, 'client', v.port),
    ...(v.monitorPort !== undefined ? [claim(v, 'monitor', v.monitorPort)] : []),
  ]);
  return { services, claims, diagnostics: ds };
}
