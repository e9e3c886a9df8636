/** Environment: the variables each agent is started with, hosts and ports as references. */
import type { MachineSettings } from '../../config/model.ts';
import { byString, envName } from '../names.ts';
import type {
  MachinePlan,
  PlannedDependency,
  PlannedEnv,
  PlannedPort,
  PlannedProbe,
  PlannedService,
  SystemPlan,
} from '../types.ts';

/** A `port` variable, with its single-host port where there is one. */
export function portEnv(name: string, port: number, singleHostPort: number | undefined): PlannedEnv {
  return singleHostPort !== undefined ? { name, kind: 'port', port, singleHostPort } : { name, kind: 'port', port };
}

/** Where the agents send errors: an agent's service port, or a machine's reserved `error_bus_port`. */
export type ErrorBusTarget =
  { readonly agent: string; readonly port: PlannedPort } | { readonly reserved: NonNullable<SystemPlan['errorBus']> };

export interface EnvironmentInput {
  readonly name: string;
  readonly id: string;
  readonly machine: string;
  readonly startupSeconds: number;
  /** The agent's readiness probe: AGENT_HEALTH, which the image's HEALTHCHECK probes. */
  readonly readiness: PlannedProbe;
  /** The peers the framework finds by variable prefix (`SERVICE_REGISTRY` -> ServiceRegistry). */
  readonly discovery: readonly { readonly prefix: string; readonly peer: Peer }[];
  readonly services: readonly PlannedService[];
  /** Service first, health second, then extras. */
  readonly ports: readonly PlannedPort[];
  readonly dependencies: readonly PlannedDependency[];
  readonly secrets: readonly string[];
  readonly settings: Pick<MachineSettings, 'environment'>;
  /** The variables the agent's code reads, when it was read. */
  readonly codeReads?: readonly string[];
}

/** Another agent the environment can point at: its id and its service and health ports. */
export interface Peer {
  readonly id: string;
  readonly ports: readonly PlannedPort[];
}

/** Every variable of one agent, sorted by name; the config's own environment never replaces a planned one. */
export function agentEnvironment(
  a: EnvironmentInput,
  machines: readonly MachinePlan[],
  errorBus: ErrorBusTarget | undefined,
  peers: ReadonlyMap<string, Peer> = new Map(),
): PlannedEnv[] {
  const [svc, hp] = [a.ports[0]!, a.ports[1]!];
  const env: PlannedEnv[] = [
    { name: 'AGENT_NAME', kind: 'literal', value: a.name },
    portEnv('AGENT_PORT', svc.port, svc.singleHostPort),
    portEnv('HEALTH_CHECK_PORT', hp.port, hp.singleHostPort),
    { name: 'BIND_ADDRESS', kind: 'bind-address' },
    // Extra listeners, so that an agent can follow a port that was moved.
    ...a.ports
      .filter((p) => p.role === 'extra' && !p.follows)
      .map((p) => portEnv(`AGENT_${envName(p.name)}_PORT`, p.port, p.singleHostPort)),
    { name: 'MACHINE', kind: 'literal', value: a.machine },
    { name: 'STARTUP_SECONDS', kind: 'literal', value: String(a.startupSeconds) },
    // The image's own HEALTHCHECK probes what AGENT_HEALTH names (an exec probe has no target).
    ...(a.readiness.protocol !== 'exec'
      ? [{ name: 'AGENT_HEALTH', kind: 'health-target', probe: a.readiness } as const]
      : []),
  ];
  for (const mp of machines)
    for (const v of mp.addressVariables) env.push({ name: v, kind: 'machine-address', machine: mp.name });
  for (const dep of a.dependencies) {
    env.push({ name: `${dep.envPrefix}_HOST`, kind: 'agent-host', agent: dep.id });
    env.push(portEnv(`${dep.envPrefix}_PORT`, dep.port, dep.singleHostPort));
    env.push(portEnv(`${dep.envPrefix}_HEALTH_PORT`, dep.healthPort, dep.singleHostHealthPort));
  }
  if (errorBus && 'agent' in errorBus) {
    if (errorBus.agent !== a.id) {
      env.push({ name: 'ERROR_BUS_HOST', kind: 'agent-host', agent: errorBus.agent });
      env.push(portEnv('ERROR_BUS_PORT', errorBus.port.port, errorBus.port.singleHostPort));
    }
  } else if (errorBus) {
    env.push({ name: 'ERROR_BUS_HOST', kind: 'machine-address', machine: errorBus.reserved.machine });
    env.push({
      name: 'ERROR_BUS_PORT',
      kind: 'port',
      port: errorBus.reserved.port,
      singleHostPort: errorBus.reserved.port,
    });
  }
  const given = new Set(env.map((x) => x.name));
  const add = (e: PlannedEnv) => {
    if (given.has(e.name)) return;
    env.push(e);
    given.add(e.name);
  };
  // Discovery: every prefix the framework reads set explicitly, so that no host falls back to BIND_ADDRESS.
  for (const { prefix, peer } of a.discovery) {
    add({ name: `${prefix}_HOST`, kind: 'agent-host', agent: peer.id });
    add(portEnv(`${prefix}_PORT`, peer.ports[0]!.port, peer.ports[0]!.singleHostPort));
  }
  for (const s of a.services) {
    if (s.kind === 'redis') {
      add({ name: 'REDIS_HOST', kind: 'service-host', service: s.id });
      add({ name: 'REDIS_PORT', kind: 'port', port: s.port, singleHostPort: s.port });
      add({ name: 'REDIS_URL', kind: 'service-url', service: s.id, scheme: 'redis', path: '/0' });
    } else {
      add({ name: 'NATS_URL', kind: 'service-url', service: s.id, scheme: 'nats', path: '' });
      add({ name: 'NATS_SERVERS', kind: 'service-url', service: s.id, scheme: 'nats', path: '' });
    }
  }
  // What the code reads and agent-infra can supply: another agent's `<PREFIX>_HOST`, `_PORT`, `_HEALTH_PORT`.
  for (const name of a.codeReads ?? []) {
    if (given.has(name)) continue;
    const suffix = ['_HEALTH_PORT', '_HOST', '_PORT'].find(
      (x) => name.endsWith(x) && peers.has(name.slice(0, -x.length)),
    );
    const peer = suffix ? peers.get(name.slice(0, -suffix.length))! : undefined;
    if (!peer || peer.id === a.id) continue;
    const [svc, hp] = [peer.ports[0]!, peer.ports[1]!];
    env.push(
      suffix === '_HOST'
        ? { name, kind: 'agent-host', agent: peer.id }
        : suffix === '_PORT'
          ? portEnv(name, svc.port, svc.singleHostPort)
          : portEnv(name, hp.port, hp.singleHostPort),
    );
    given.add(name);
  }
  if (a.settings.environment.length > 0) {
    // A secret's name is never given a value from the config: it is a reference below.
    const taken = new Set([...env.map((x) => x.name), ...a.secrets]);
    for (const e of a.settings.environment)
      if (!taken.has(e.name)) env.push({ name: e.name, kind: 'literal', value: e.value });
  }
  for (const s of a.secrets) env.push({ name: s, kind: 'secret', secret: s });
  return env.sort((x, y) => byString(x.name, y.name));
}
