/** An agent's compose service: image, command, environment, health check, order, resources, volumes, lockdown. */
import { composeLiteral } from '../../config/grammar.ts';
import { probeCommand } from '../../contract/probe.ts';
import { STARTUP_CONFIG_DIGEST, startupConfigDigest } from '../../contract/startup-config.ts';
import { machineOf } from '../../plan/agent-index.ts';
import { DATA_PATH, MODELS_PATH, type PlannedAgent, type SystemPlan } from '../../plan/types.ts';
import { agentEnvironment } from './env.ts';
import { LOCKED_DOWN, resourcesOf } from './infrastructure.ts';
import type { ComposeService, Topology } from './topology.ts';

export const IMAGE_REGISTRY_VAR = 'AGENT_IMAGE_REGISTRY';
export const IMAGE_TAG_VAR = 'AGENT_IMAGE_TAG';
export const MODELS_DIR_VAR = 'AGENT_MODELS_DIR';

/** The healthcheck: the agent's readiness probe, run by the image's probe program (or the spec's command). */
export function healthTest(agent: PlannedAgent, t: Pick<Topology, 'port'>): string[] {
  const r = agent.health.readiness;
  const port = r.port === undefined ? undefined : t.port({ port: r.port, singleHostPort: r.singleHostPort });
  return ['CMD', ...probeCommand(r, port, agent.health.timeoutSeconds).map(composeLiteral)];
}

/** The volume of a stateful agent's data folder: its own, never shared. */
export function dataVolume(agent: PlannedAgent): string {
  return `${agent.id}-data`;
}

/** The machine's read-only models folder: the spec's host folder, else `AGENT_MODELS_DIR` (default ./models). */
function modelsSource(plan: SystemPlan, machine: string): string {
  return machineOf(plan, machine).models?.hostPath ?? `\${${MODELS_DIR_VAR}:-./models}`;
}

/** The machine's model cache, shared by its agents: a named volume, or the host folder the spec names. */
function cacheVolume(plan: SystemPlan, machine: string) {
  const c = machineOf(plan, machine).cache;
  return c.hostPath
    ? { type: 'bind', source: c.hostPath, target: c.path }
    : { type: 'volume', source: 'model-cache', target: c.path };
}

/** The bind of the machine's planned startup config (beside the compose file, in `config/`), when it has one. */
function startupConfigBind(plan: SystemPlan, machine: string) {
  const c = machineOf(plan, machine).startupConfig;
  return c
    ? [{ type: 'bind', source: `./config/${machine}/startup_config.yaml`, target: `/app/${c.path}`, read_only: true }]
    : [];
}

function startupConfigLabel(plan: SystemPlan, t: Topology, agent: PlannedAgent) {
  const digest = startupConfigDigest(machineOf(plan, agent.machine), t.singleHostPorts, plan.secrets);
  return digest ? { labels: { [STARTUP_CONFIG_DIGEST]: digest } } : {};
}

/** Models read-only, the data folder (own volume, host folder, or scratch), the shared cache, logs, the startup config. */
function agentVolumes(plan: SystemPlan, agent: PlannedAgent) {
  return [
    { type: 'bind', source: modelsSource(plan, agent.machine), target: MODELS_PATH, read_only: true },
    ...(agent.state
      ? [
          agent.state.hostPath
            ? { type: 'bind', source: agent.state.hostPath, target: DATA_PATH }
            : { type: 'volume', source: dataVolume(agent), target: DATA_PATH },
        ]
      : []),
    cacheVolume(plan, agent.machine),
    { type: 'volume', source: 'agent-logs', target: '/app/logs' },
    // The machine's startup config with the planned ports, where the agents' config loader reads it.
    ...startupConfigBind(plan, agent.machine),
    // Only where the spec asks (dockerSocket: true): the engine's socket is root on the host.
    ...(agent.dockerSocket ? [{ type: 'bind', source: DOCKER_SOCKET, target: DOCKER_SOCKET }] : []),
  ];
}

export const DOCKER_SOCKET = '/var/run/docker.sock';
/** The host's docker group, which may use the socket; the agent's user joins it where the socket is mounted. */
export const DOCKER_GID_VAR = 'DOCKER_GID';

/** One agent's service in its machine's project. */
export function agentService(plan: SystemPlan, t: Topology, agent: PlannedAgent): ComposeService {
  const same = [
    ...plan.services.filter((x) => x.machine === agent.machine).map((x) => x.id),
    ...agent.dependencies.filter((d) => !d.crossMachine).map((d) => d.id),
  ];
  const gpu = t.reservesGpu(agent)
    ? [{ driver: 'nvidia', device_ids: [String(agent.gpu!.device)], capabilities: ['gpu'] }]
    : undefined;
  return {
    image: `\${${IMAGE_REGISTRY_VAR}:-${plan.registry}}/${agent.family}:\${${IMAGE_TAG_VAR}:-${plan.tag}}`,
    ...t.host(agent.id),
    user: `${plan.user}:${plan.user}`,
    // The image's entrypoint waits for WAIT_FOR, then runs this from /app (the code root).
    ...(agent.command.length ? { command: agent.command.map(composeLiteral) } : {}),
    environment: agentEnvironment(plan, t, agent),
    // A shadowed port (another listener of the machine has its number) stays inside the container.
    ...t.published(agent.ports.filter((p) => !p.shadowed).map((p) => p.port)),
    healthcheck: {
      test: healthTest(agent, t),
      interval: `${agent.health.intervalSeconds}s`,
      timeout: `${agent.health.timeoutSeconds}s`,
      retries: agent.health.retries,
      start_period: `${agent.health.startPeriodSeconds}s`,
    },
    ...(same.length > 0
      ? { depends_on: Object.fromEntries(same.map((id) => [id, { condition: t.startedWhen }])) }
      : {}),
    // A change of the mounted startup config recreates the container (compose compares labels, not files).
    ...startupConfigLabel(plan, t, agent),
    restart: agent.required ? 'unless-stopped' : 'on-failure',
    ...(agent.required ? {} : { profiles: ['optional'] }),
    deploy: { resources: resourcesOf(agent.resources, gpu) },
    read_only: true,
    // A stateless agent's data folder is scratch space; a stateful one's is its own volume.
    tmpfs: ['/tmp', ...(agent.state ? [] : [DATA_PATH])],
    volumes: agentVolumes(plan, agent),
    ...(agent.dockerSocket
      ? {
          group_add: [
            `\${${DOCKER_GID_VAR}:?${DOCKER_GID_VAR} must be set to the docker group's id (getent group docker)}`,
          ],
        }
      : {}),
    ...LOCKED_DOWN,
    ...t.attached,
  };
}
