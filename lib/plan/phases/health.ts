/** How each agent is probed: its framework's presets, the spec's choices over them, resolved to ports. */
import type { DeploymentSpec, FrameworkName, HealthCheck, Override } from '../../config/spec.ts';
import type { PlannedPort, PlannedProbe } from '../types.ts';

/** What a BaseAgent's health socket answers to when asked nothing else. */
export const DEFAULT_ZMQ_REQUEST = '{"action": "health_check"}';
export const DEFAULT_STATUS: readonly string[] = ['ok', 'healthy'];
export const DEFAULT_PATH = '/health';
export const DEFAULT_CODES: readonly number[] = [200];

/**
 * The presets. `baseagent`: readiness asks the ZMQ REP health socket (status ok only once its Redis
 * key is set), liveness asks HTTP `/health` on health + 1 (which answers 200 whenever the process
 * runs). `http`: one HTTP `/health` (or TCP, with `probe: tcp`) on the health port for both.
 */
function preset(
  framework: FrameworkName,
  probe: 'http' | 'tcp',
): { readonly readiness: HealthCheck; readonly liveness: HealthCheck } {
  if (framework === 'baseagent')
    return {
      readiness: { protocol: 'zmq', port: 'health' },
      liveness: { protocol: 'http', port: 'health+1', path: DEFAULT_PATH },
    };
  const h: HealthCheck = { protocol: probe, port: 'health' };
  return { readiness: h, liveness: h };
}

/** One probe with its port resolved (service first, health second in `ports`) and its defaults filled in. */
export function resolveProbe(h: HealthCheck, ports: readonly PlannedPort[]): PlannedProbe {
  const [svc, hp] = [ports[0]!, ports[1]!];
  const where = h.port ?? 'health';
  const shift = (p: PlannedPort, by: number) => ({
    port: p.port + by,
    ...(p.singleHostPort !== undefined ? { singleHostPort: p.singleHostPort + by } : {}),
  });
  const port =
    h.protocol === 'exec'
      ? {}
      : where === 'service'
        ? shift(svc, 0)
        : where === 'health'
          ? shift(hp, 0)
          : where === 'health+1'
            ? shift(hp, 1)
            : { port: where, singleHostPort: where };
  switch (h.protocol) {
    case 'zmq':
      return {
        protocol: 'zmq',
        ...port,
        request: h.request ?? DEFAULT_ZMQ_REQUEST,
        status: h.status ?? DEFAULT_STATUS,
        ready: h.ready ?? false,
      };
    case 'http':
      return { protocol: 'http', ...port, path: h.path ?? DEFAULT_PATH, codes: h.codes ?? DEFAULT_CODES };
    case 'tcp':
      return { protocol: 'tcp', ...port };
    case 'exec':
      return { protocol: 'exec', command: h.command! };
  }
}

/**
 * Readiness and liveness of one agent: its own or its group's choice, else what its code serves when it
 * has no health server (`fromCode`, read by the source stage), else the spec's default, else its
 * framework's preset.
 */
export function agentProbes(
  spec: DeploymentSpec,
  o: Override,
  framework: FrameworkName,
  ports: readonly PlannedPort[],
  fromCode?: HealthCheck,
): { readonly readiness: PlannedProbe; readonly liveness: PlannedProbe } {
  const p = preset(framework, o.probe ?? spec.defaults.probe);
  const shorthand: HealthCheck | undefined = o.probe ? { protocol: o.probe, port: 'health' } : undefined;
  const readiness = o.health ?? shorthand ?? fromCode ?? spec.defaults.health ?? p.readiness;
  const liveness = o.liveness ?? spec.defaults.liveness ?? (framework === 'baseagent' ? p.liveness : readiness);
  return { readiness: resolveProbe(readiness, ports), liveness: resolveProbe(liveness, ports) };
}
