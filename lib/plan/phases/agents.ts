/** Agents: each draft with its ports, dependencies, placement, environment and resources, as planned. */
import { DEFAULTS } from '../../config/defaults.ts';
import type { MachineConfig } from '../../config/model.ts';
import type { DeploymentSpec } from '../../config/spec.ts';
import type { GraphAnalysis } from '../graph.ts';
import { byString } from '../names.ts';
import { DEFAULT_DISCOVERY } from '../../config/spec.ts';
import type {
  MachinePlan,
  PlannedAgent,
  PlannedDependency,
  PlannedEnv,
  PlannedGpu,
  PlannedPort,
  PlannedService,
} from '../types.ts';
import type { Edge } from './dependencies.ts';
import { BASEAGENT_HTTP, type Draft } from './drafts.ts';
import { agentEnvironment, type ErrorBusTarget, type Peer } from './environment.ts';
import { agentProbes } from './health.ts';
import { stateOf } from './storage.ts';

export interface AgentsInput {
  readonly spec: DeploymentSpec;
  readonly configs: readonly MachineConfig[];
  readonly live: readonly Draft[];
  readonly edges: ReadonlyMap<string, readonly Edge[]>;
  readonly graph: GraphAnalysis;
  readonly portsOf: (d: Draft) => PlannedPort[];
  readonly gpuOf: ReadonlyMap<string, PlannedGpu>;
  readonly machines: readonly MachinePlan[];
  readonly errorBus: ErrorBusTarget | undefined;
  readonly services: readonly PlannedService[];
}

/** Every agent as planned, sorted by machine, then id. */
export function planAgents(x: AgentsInput): PlannedAgent[] {
  const { spec } = x;
  const configOf = new Map(x.configs.map((c) => [c.machine, c]));
  const ports = new Map(x.live.map((d) => [d.id, x.portsOf(d)]));
  const dependents = new Map<string, string[]>();
  for (const [id, list] of x.edges)
    for (const e of list) dependents.set(e.dep.id, [...(dependents.get(e.dep.id) ?? []), id]);
  // Health-check timing: the machine's config, overridden by the spec's settings that are set.
  const specHealthChecks = Object.fromEntries(Object.entries(spec.healthChecks).filter(([, v]) => v !== undefined));
  // A name that is a secret for one agent is a secret for all: a config's environment entry of that
  // name reaches the others as a reference too, never as its value.
  const secretNames = new Set(x.live.flatMap((d) => [...(d.override.secrets ?? []), ...d.cfg.secretRefs]));
  // Agents by the prefix of the variables that point at them, for what the agents' code reads.
  const peers = new Map(x.live.map((d) => [d.envPrefix, { id: d.id, ports: ports.get(d.id)! }]));
  // The discovery variables: prefix -> the agent it names (on the agent's own machine when there is one there).
  const discovery = Object.entries(spec.discovery ?? DEFAULT_DISCOVERY).sort((a, b) => byString(a[0], b[0]));
  const discoveryFor = (machine: string): { prefix: string; peer: Peer }[] =>
    discovery.flatMap(([prefix, name]) => {
      const target =
        x.live.find((t) => t.cfg.name === name && t.cfg.machine === machine) ?? x.live.find((t) => t.cfg.name === name);
      return target ? [{ prefix, peer: { id: target.id, ports: ports.get(target.id)! } }] : [];
    });
  const agents = x.live.map((d): PlannedAgent => {
    const own = ports.get(d.id)!;
    const probes = agentProbes(spec, d.override, d.framework, own, d.cfg.codeHealth);
    const settings = configOf.get(d.cfg.machine)!.settings;
    const dependencies = x.edges
      .get(d.id)!
      .map((e) => dependency(spec, d, e.dep, ports.get(e.dep.id)!))
      .sort((a, b) => byString(a.id, b.id));
    const fromSettings = [
      ...(settings.secretEnvironment ?? []),
      ...settings.environment.filter((e) => secretNames.has(e.name)).map((e) => e.name),
    ];
    const secrets =
      d.override.secrets?.length || d.cfg.secretRefs.length || fromSettings.length
        ? [...new Set([...(d.override.secrets ?? []), ...d.cfg.secretRefs, ...fromSettings])].sort(byString)
        : [];
    const env = agentEnvironment(
      {
        name: d.cfg.name,
        id: d.id,
        machine: d.cfg.machine,
        startupSeconds: d.startupSeconds,
        readiness: probes.readiness,
        ports: own,
        dependencies,
        secrets,
        settings,
        discovery: discoveryFor(d.cfg.machine),
        services: x.services,
        ...(d.cfg.codeReads ? { codeReads: d.cfg.codeReads } : {}),
      },
      x.machines,
      x.errorBus,
      peers,
    );
    // A BaseAgent serves /metrics on its HTTP port (health + 1); others on a port their config names so.
    const metricsPort =
      own.find((p) => p.name === 'metrics' || p.name === 'prometheus') ??
      (d.framework === 'baseagent' ? own.find((p) => p.name === BASEAGENT_HTTP) : undefined);
    const memoryMiB = d.override.resources?.memoryMiB ?? settings.memoryMiB ?? DEFAULTS.memoryMiB;
    const cpuMillis =
      d.override.resources?.cpuMillis ??
      (settings.cpuPercent !== undefined
        ? Math.max(DEFAULTS.minCpuMillis, Math.round(settings.cpuPercent * 10))
        : DEFAULTS.cpuMillis);
    const hc = { ...settings.healthChecks, ...specHealthChecks };
    const maxReplicas = d.gpu ? undefined : d.override.maxReplicas;
    const replicas = d.gpu ? 1 : (d.override.replicas ?? 1);
    const state = stateOf(spec, d, replicas);
    const gpu = x.gpuOf.get(d.id);
    const machine = x.machines.find((m) => m.name === d.cfg.machine)!;
    return {
      name: d.cfg.name,
      id: d.id,
      machine: d.cfg.machine,
      group: d.cfg.group,
      dockerGroups: d.cfg.dockerGroups,
      ...(d.cfg.scriptPath !== undefined ? { scriptPath: d.cfg.scriptPath } : {}),
      command: d.cfg.scriptPath !== undefined ? ['python3', d.cfg.scriptPath, ...(d.override.args ?? [])] : [],
      ...(d.override.dockerSocket ? { dockerSocket: true as const } : {}),
      required: d.cfg.required,
      ports: own,
      servicePort: own[0]!,
      healthPort: own[1]!,
      ...(metricsPort ? { metricsPort } : {}),
      dependencies,
      dependents: dependents.get(d.id)?.sort(byString) ?? [],
      startLevel: x.graph.level.get(d.id) ?? 0,
      startupSeconds: d.startupSeconds,
      family: d.family,
      image: `${spec.registry}/${d.family}:${spec.tag}`,
      ...(x.gpuOf.has(d.id) ? { gpu: x.gpuOf.get(d.id)! } : {}),
      resources: {
        cpuMillis,
        cpuRequestMillis: Math.min(cpuMillis, d.override.resources?.cpuRequestMillis ?? spec.defaults.cpuRequestMillis),
        memoryMiB,
        memoryRequestMiB: Math.min(memoryMiB, d.override.resources?.memoryRequestMiB ?? spec.defaults.memoryRequestMiB),
      },
      replicas,
      ...(maxReplicas !== undefined && maxReplicas > (d.override.replicas ?? 1) ? { maxReplicas } : {}),
      health: {
        framework: d.framework,
        readiness: probes.readiness,
        liveness: probes.liveness,
        intervalSeconds: hc.intervalSeconds ?? DEFAULTS.healthIntervalSeconds,
        timeoutSeconds: hc.timeoutSeconds ?? DEFAULTS.healthTimeoutSeconds,
        retries: hc.retries ?? DEFAULTS.healthRetries,
        startPeriodSeconds: hc.startPeriodSeconds ?? Math.ceil(d.startupSeconds * 2 + 10),
      },
      env: withStorageEnv(env, storageEnv(spec, machine, gpu)),
      secrets,
      ...(state ? { state } : {}),
      at: d.cfg.at,
    };
  });
  return agents.sort((a, b) => byString(a.machine, b.machine) || byString(a.id, b.id));
}

/** The planned variables, the storage ones replacing any of the same name (a config's own `HF_HOME`). */
function withStorageEnv(env: readonly PlannedEnv[], storage: readonly PlannedEnv[]): PlannedEnv[] {
  const names = new Set(storage.map((e) => e.name));
  return [...env.filter((e) => !names.has(e.name)), ...storage].sort((a, b) => byString(a.name, b.name));
}

/**
 * Where the agent's libraries keep downloaded models (HF_HOME, TORCH_HOME, XDG_CACHE_HOME and the
 * spec's `cacheEnv`, all in its machine's cache), and, for a GPU agent, the VRAM it was planned and the
 * one card its container sees.
 */
function storageEnv(spec: DeploymentSpec, machine: MachinePlan, gpu: PlannedGpu | undefined): PlannedEnv[] {
  const c = machine.cache.path.replace(/\/+$/, '');
  const env: PlannedEnv[] = [
    { name: 'HF_HOME', kind: 'literal', value: `${c}/huggingface` },
    { name: 'TORCH_HOME', kind: 'literal', value: `${c}/torch` },
    { name: 'XDG_CACHE_HOME', kind: 'literal', value: c },
    ...Object.entries(spec.cacheEnv).map(([name, sub]): PlannedEnv => ({
      name,
      kind: 'literal',
      value: `${c}/${sub}`,
    })),
  ];
  if (gpu) {
    env.push({ name: 'AGENT_VRAM_GIB', kind: 'literal', value: String(gpu.vramGiB) });
    // The NVIDIA runtime shows a container only the card it was given, as device 0.
    env.push({ name: 'CUDA_VISIBLE_DEVICES', kind: 'literal', value: '0' });
  }
  return env;
}

/** A dependency of `d` on `dep`, with the ports `dep` was given. */
function dependency(spec: DeploymentSpec, d: Draft, dep: Draft, depPorts: readonly PlannedPort[]): PlannedDependency {
  const [svc, hp] = [depPorts[0]!, depPorts[1]!];
  return {
    name: dep.cfg.name,
    id: dep.id,
    machine: dep.cfg.machine,
    crossMachine: dep.cfg.machine !== d.cfg.machine,
    envPrefix: dep.envPrefix,
    port: svc.port,
    healthPort: hp.port,
    readiness: agentProbes(spec, dep.override, dep.framework, depPorts, dep.cfg.codeHealth).readiness,
    ...(svc.singleHostPort !== undefined
      ? { singleHostPort: svc.singleHostPort, singleHostHealthPort: hp.singleHostPort! }
      : {}),
  };
}
