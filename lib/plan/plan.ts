/**
 * plan(): normalized machine configs + the deployment spec -> the SystemPlan every emitter reads. Pure.
 * It runs the phases, each a function over plain data (lib/plan/phases/); their order is the order of
 * the calls below, and each phase's header names what it does, not where it stands.
 */
import { diag, sortDiagnostics } from '../diagnostics.ts';
import type { MachineConfig } from '../config/model.ts';
import { DEFAULT_IMAGES, type DeploymentSpec } from '../config/spec.ts';
import type { PortLock } from '../lock.ts';
import { byString } from './names.ts';
import { planAgents } from './phases/agents.ts';
import { resolveDependencies } from './phases/dependencies.ts';
import { draftAgents, unknownOverrides } from './phases/drafts.ts';
import type { ErrorBusTarget } from './phases/environment.ts';
import { planImages } from './phases/images.ts';
import { nameAgents } from './phases/names.ts';
import { placeGpus } from './phases/placement.ts';
import { assignPorts } from './phases/port-assignment.ts';
import { firewallRules } from './phases/firewall.ts';
import { leaveOut, type StartProblem } from './phases/left-out.ts';
import { portMap } from './phases/port-map.ts';
import { planServices } from './phases/services.ts';
import { replicatedState, storageProblems } from './phases/storage.ts';
import type { MachinePlan, PlannedAgent, SystemPlan } from './types.ts';

export { SINGLE_HOST } from './phases/port-assignment.ts';

/** Each machine's startup config with the ports its agents were planned on (a follower port is the agent's own business). */
function withStartupConfigs(
  machines: readonly MachinePlan[],
  configs: readonly MachineConfig[],
  agents: readonly PlannedAgent[],
): MachinePlan[] {
  return machines.map((m) => {
    const c = configs.find((x) => x.machine === m.name);
    if (!c?.text || !c.codePath) return m;
    const ports = agents
      .filter((a) => a.machine === m.name)
      .flatMap((a) =>
        a.ports
          .filter((p) => !p.follows && p.at.path)
          .map((p) => ({
            path: p.at.path,
            declared: p.declared,
            port: p.port,
            ...(p.singleHostPort !== undefined ? { singleHostPort: p.singleHostPort } : {}),
          })),
      );
    // The reserved error bus port never moves: only its expression is resolved.
    const bus = c.settings.errorBusPort;
    if (bus?.at.path)
      ports.push({ path: bus.at.path, declared: bus.value, port: bus.value, singleHostPort: bus.value });
    return { ...m, startupConfig: { path: c.codePath, text: c.text, ports } };
  });
}

/** Builds the system plan. Never throws on bad input: problems are in `plan.diagnostics`. */
export function plan(
  spec: DeploymentSpec,
  configs: readonly MachineConfig[],
  previousLock: PortLock,
  closures?: ReadonlyMap<string, readonly string[]>,
  cannotStart: ReadonlyMap<string, StartProblem> = new Map(),
): SystemPlan {
  const families = { ...DEFAULT_IMAGES, ...(spec.images ?? {}) };
  const leftOut = leaveOut(spec, configs, cannotStart);
  const drafted = draftAgents(spec, configs, families, new Set(leftOut.map((l) => l.key)));
  const named = nameAgents(drafted.drafts);
  const { live, byId } = named;
  const deps = resolveDependencies(live, byId, drafted.disabled);
  const services = planServices(spec, live);
  const ports = assignPorts(spec, configs, live, previousLock, services.claims);
  const placed = placeGpus(spec, configs, live);
  const { assignment } = ports;
  const busAgent = assignment.errorBusAgent;
  const busPort = busAgent ? assignment.portsOf(busAgent)[0]! : undefined;
  const errorBus: ErrorBusTarget | undefined = busAgent
    ? { agent: busAgent.id, port: busPort! }
    : assignment.reservedErrorBus
      ? { reserved: assignment.reservedErrorBus }
      : undefined;
  const agents = planAgents({
    spec,
    configs,
    live,
    edges: deps.edges,
    graph: deps.graph,
    portsOf: assignment.portsOf,
    gpuOf: placed.gpuOf,
    machines: placed.machines,
    errorBus,
    services: services.services,
  });
  const images = planImages(spec, families, agents, closures);
  // A discovery entry the spec writes that names no agent sets nothing: the framework's default applies.
  const discovery = Object.entries(spec.discovery ?? {})
    .filter(([, name]) => !live.some((d) => d.cfg.name === name))
    .map(([prefix, name]) =>
      diag(
        'unknown-discovery',
        'warning',
        `discovery.${prefix} names '${name}', which is no agent of the system: ${prefix}_HOST and ${prefix}_PORT are not set; fix the name or remove the entry`,
      ),
    );
  const storage = [...replicatedState(live), ...storageProblems(agents, placed.machines, images)];
  const planErrorBus: SystemPlan['errorBus'] = busAgent
    ? { agent: busAgent.id, machine: busAgent.cfg.machine, port: busPort!.port }
    : assignment.reservedErrorBus;
  return {
    name: spec.name,
    namespace: spec.namespace,
    user: spec.defaults.user,
    registry: spec.registry,
    tag: spec.tag,
    portOffset: spec.variables['PORT_OFFSET'] ?? '0',
    machines: withStartupConfigs(placed.machines, configs, agents),
    agents,
    leftOut,
    startLevels: deps.graph.levels,
    criticalPath: deps.graph.criticalPath,
    sequentialSeconds: deps.graph.sequentialSeconds,
    ...(planErrorBus ? { errorBus: planErrorBus } : {}),
    images,
    services: services.services,
    portMap: portMap(agents),
    firewall: firewallRules(
      agents,
      planErrorBus,
      placed.machines.map((m) => m.name),
      services.services,
    ),
    singleHostReady: assignment.singleHostReady,
    secrets: [...new Set(agents.flatMap((a) => a.secrets))].sort(byString),
    kubernetes: spec.kubernetes,
    cycles: deps.graph.cycles,
    lock: assignment.lock,
    diagnostics: sortDiagnostics([
      ...unknownOverrides(spec, configs),
      ...drafted.diagnostics,
      ...named.diagnostics,
      ...deps.diagnostics,
      ...services.diagnostics,
      ...ports.diagnostics,
      ...placed.diagnostics,
      ...storage,
      ...discovery,
    ]),
  };
}
