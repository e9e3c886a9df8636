/** plan(): normalized machine configs + the deployment spec -> the SystemPlan every emitter reads. Pure. */
import { diag, sortDiagnostics, type Diagnostic } from '../diagnostics.ts';
import type { AgentConfig, MachineConfig } from '../config/model.ts';
import { DEFAULT_IMAGES, ImageFamilySchema, type DeploymentSpec, type Override } from '../config/spec.ts';
import { analyzeGraph } from './graph.ts';
import { addressVariables, byString, didYouMean, dnsLabel, envName, portName } from './names.ts';
import { allocatePorts, claimKey, claimKeyOf, type PortClaim } from './ports.ts';
import type { PortLock } from '../lock.ts';
import type {
  MachinePlan,
  PlannedAgent,
  PlannedDependency,
  PlannedEnv,
  PlannedGpu,
  PlannedGpuDevice,
  PlannedImage,
  PlannedPort,
  PortMapRow,
  SystemPlan,
} from './types.ts';

export const SINGLE_HOST = 'single-host';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
const ERROR_BUS_NAMES = ['CentralErrorBus', 'ErrorBus'];

interface Draft {
  readonly cfg: AgentConfig;
  /** The DNS label of the agent's name; replaced by the final name (with a machine suffix where shared). */
  id: string;
  /** The prefix of the variables that point at this agent (`MODEL_OPS_COORDINATOR`). */
  readonly envPrefix: string;
  readonly override: Override;
  readonly gpu: boolean;
  readonly vramGiB: number;
  readonly startupSeconds: number;
  readonly family: string;
  /** `key` is the port's claim key (`machine/agent/name`), built once. */
  readonly ports: { name: string; key: string; role: 'service' | 'health' | 'extra'; declared: number; at: AgentConfig['at']; derived?: boolean }[];
}

const NO_OVERRIDE: Override = Object.freeze({});

/** Merges the overrides that apply to an agent: groups (config and docker groups) first, then the agent's own. */
function overrideFor(spec: DeploymentSpec, a: AgentConfig, hasAgentOverrides: boolean, hasGroupOverrides: boolean): Override {
  const layers: Override[] = [];
  if (hasGroupOverrides) {
    if (spec.groups[a.group]) layers.push(spec.groups[a.group]!);
    for (const g of a.dockerGroups) if (spec.groups[g]) layers.push(spec.groups[g]!);
  }
  if (hasAgentOverrides) {
    if (spec.agents[a.name]) layers.push(spec.agents[a.name]!);
    const qualified = spec.agents[`${a.machine}/${a.name}`];
    if (qualified) layers.push(qualified);
  }
  return layers.length === 0 ? NO_OVERRIDE : layers.length === 1 ? layers[0]! : (Object.assign({}, ...layers) as Override);
}

/** Drafts grouped by agent name (one name may be defined on several machines), in input order. */
function byAgentName(drafts: readonly Draft[]): Map<string, Draft[]> {
  const out = new Map<string, Draft[]>();
  for (const d of drafts) {
    const list = out.get(d.cfg.name);
    if (list) list.push(d);
    else out.set(d.cfg.name, [d]);
  }
  return out;
}

/** A `port` variable, with its single-host port where there is one. */
function portEnv(name: string, port: number, singleHostPort: number | undefined): PlannedEnv {
  return singleHostPort !== undefined ? { name, kind: 'port', port, singleHostPort } : { name, kind: 'port', port };
}

/** Group names that mark GPU work in the real configs (`vision_gpu`, `main_pc_gpu_services`), not `gpu_infrastructure`. */
const GPU_GROUP_RE = /(^|[_-])gpu([_-]services)?$/i;

/** Builds the system plan. Never throws on bad input: problems are in `plan.diagnostics`. */
export function plan(spec: DeploymentSpec, configs: readonly MachineConfig[], previousLock: PortLock): SystemPlan {
  const ds: Diagnostic[] = [];
  const machineNames = Object.keys(spec.machines).sort(byString);
  const configOf = new Map(configs.map((c) => [c.machine, c]));
  const families = { ...DEFAULT_IMAGES, ...(spec.images ?? {}) };

  // Overrides that match nothing are typos until proven otherwise.
  const hasAgentOverrides = Object.keys(spec.agents).length > 0;
  const hasGroupOverrides = Object.keys(spec.groups).length > 0;
  const allNames = new Set(hasAgentOverrides ? configs.flatMap((c) => c.agents.flatMap((a) => [a.name, `${a.machine}/${a.name}`])) : []);
  const allGroups = new Set(hasGroupOverrides ? configs.flatMap((c) => c.agents.flatMap((a) => [a.group, ...a.dockerGroups])) : []);
  for (const key of Object.keys(spec.agents).sort(byString)) {
    if (!allNames.has(key)) {
      const hint = didYouMean(key, [...allNames]);
      ds.push(diag('unknown-override', 'warning', `agents.${key} matches no agent${hint ? `; did you mean '${hint}'?` : '; remove it'}`));
    }
  }
  for (const key of Object.keys(spec.groups).sort(byString)) {
    if (!allGroups.has(key)) {
      const hint = didYouMean(key, [...allGroups]);
      ds.push(diag('unknown-override', 'warning', `groups.${key} matches no group${hint ? `; did you mean '${hint}'?` : '; remove it'}`));
    }
  }

  // Drafts: the facts that need nothing but the agent itself.
  const drafts: Draft[] = [];
  const disabled = new Set<string>();
  for (const m of machineNames) {
    const cfg = configOf.get(m);
    if (!cfg) continue;
    const machine = spec.machines[m]!;
    for (const a of [...cfg.agents].sort((x, y) => byString(x.name, y.name))) {
      const o = overrideFor(spec, a, hasAgentOverrides, hasGroupOverrides);
      if (o.disabled) {
        disabled.add(a.name);
        continue;
      }
      const inferred = [a.group, ...a.dockerGroups].some((g) => GPU_GROUP_RE.test(g)) || a.cudaHint || a.vramMiBHint !== undefined;
      let gpu = o.gpu ?? (o.family !== undefined ? families[o.family]?.gpu === true : inferred);
      if (gpu && machine.gpus.length === 0) {
        if (o.gpu === true) {
          ds.push(diag('gpu-unavailable', 'error', `agent '${a.name}' needs a GPU but machine '${m}' declares none; add machines.${m}.gpus or set gpu: false`, a.at));
        } else {
          ds.push(diag('gpu-unavailable', 'info', `agent '${a.name}' looks GPU-bound but machine '${m}' declares no GPU; it is planned on the CPU`, a.at));
        }
        gpu = false;
      }
      const family = o.family ?? (gpu ? spec.defaults.gpuFamily : spec.defaults.cpuFamily);
      if (!families[family]) {
        ds.push(diag('invalid-spec', 'error', `agent '${a.name}' uses image family '${family}', which the spec does not define; add it under 'images'`, a.at));
      }
      const vramGiB = o.vramGiB ?? (a.vramMiBHint !== undefined ? Math.round((a.vramMiBHint / 1024) * 10) / 10 : spec.defaults.vramGiB);
      const keyOf = (name: string) => claimKey({ machine: m, owner: a.name, name });
      const ports: Draft['ports'] = [
        { name: 'service', key: keyOf('service'), role: 'service', declared: a.port.value, at: a.port.at },
        { name: 'health', key: keyOf('health'), role: 'health', declared: a.healthCheckPort.value, at: a.healthCheckPort.at, derived: a.healthCheckPort.derived },
      ];
      const used = new Set(['service', 'health']);
      for (const e of a.extraPorts) {
        let n = portName(e.name);
        for (let i = 2; used.has(n); i++) n = `${portName(e.name).slice(0, 13)}-${i}`;
        used.add(n);
        ports.push({ name: n, key: keyOf(n), role: 'extra', declared: e.port, at: e.at });
      }
      const label = dnsLabel(a.name);
      drafts.push({
        cfg: a,
        id: label,
        envPrefix: envName(label),
        override: o,
        gpu,
        vramGiB,
        startupSeconds: o.startupSeconds ?? (gpu ? spec.defaults.gpuStartupSeconds : spec.defaults.startupSeconds),
        family,
        ports,
      });
    }
  }

  // One DNS name per agent: an agent defined on several machines gets the machine as a suffix.
  const byName = byAgentName(drafts);
  const ids = new Map<Draft, string>();
  for (const [name, list] of [...byName].sort((a, b) => byString(a[0], b[0]))) {
    if (list.length > 1) {
      ds.push(diag('shared-agent-name', 'info', `agent '${name}' is defined on ${list.map((d) => d.cfg.machine).join(' and ')}; each gets its machine as a name suffix`, list[0]!.cfg.at));
      for (const d of list) ids.set(d, `${d.id.slice(0, 62 - d.cfg.machine.length)}-${d.cfg.machine}`);
    } else ids.set(list[0]!, list[0]!.id);
  }
  const byId = new Map<string, Draft>();
  for (const d of drafts) {
    const id = ids.get(d)!;
    const other = byId.get(id);
    if (other) {
      ds.push(diag('duplicate-agent', 'error', `agents '${other.cfg.name}' and '${d.cfg.name}' both get the name '${id}'; rename one`, d.cfg.at));
      continue;
    }
    byId.set(id, d);
  }
  for (const [id, d] of byId) d.id = id;
  const live = [...byId.values()];

  // Dependencies: the same machine first, else another machine (a cross-machine edge).
  const liveByName = byAgentName(live);
  const resolve = (d: Draft, name: string) => {
    const candidates = liveByName.get(name);
    if (!candidates) return undefined;
    if (candidates.length === 1) return candidates[0];
    return candidates.find((x) => x.cfg.machine === d.cfg.machine) ?? candidates[0];
  };
  const edges = new Map<string, { dep: (typeof live)[number]; at: AgentConfig['at'] }[]>();
  for (const d of live) {
    const list: { dep: (typeof live)[number]; at: AgentConfig['at'] }[] = [];
    for (const dep of d.cfg.dependencies) {
      const target = resolve(d, dep.value);
      if (!target) {
        if (disabled.has(dep.value)) {
          ds.push(diag('unknown-dependency', 'error', `agent '${dep.value}' is disabled in the spec but '${d.cfg.name}' depends on it; disable '${d.cfg.name}' too or remove the dependency`, dep.at));
        } else {
          const hint = didYouMean(dep.value, live.map((x) => x.cfg.name));
          ds.push(diag('unknown-dependency', 'error', `unknown agent '${dep.value}'; ${hint ? `did you mean '${hint}'?` : 'define it or remove the dependency'}`, dep.at));
        }
        continue;
      }
      if (list.some((x) => x.dep.id === target.id)) continue;
      list.push({ dep: target, at: dep.at });
    }
    edges.set(d.id, list);
  }
  const graph = analyzeGraph(live.map((d) => ({ id: d.id, deps: edges.get(d.id)!.map((e) => e.dep.id), seconds: d.startupSeconds })));
  for (const cycle of graph.cycles) {
    const names = cycle.map((id) => byId.get(id)!.cfg.name);
    const first = edges.get(cycle[0]!)!.find((e) => e.dep.id === (cycle[1] ?? cycle[0]));
    ds.push(diag('dependency-cycle', 'error', `dependency cycle: ${[...names, names[0]].join(' -> ')}; remove one of these dependencies`, first?.at ?? byId.get(cycle[0]!)!.cfg.at));
  }

  // Ports: one allocation per machine (two-PC), one for everything on a single host.
  const reserved: PortClaim[] = [];
  let errorBus: SystemPlan['errorBus'];
  const busAgent = ERROR_BUS_NAMES.map((n) => live.filter((d) => d.cfg.name === n).sort((a, b) => byString(a.cfg.machine, b.cfg.machine))[0]).find(Boolean);
  for (const m of machineNames) {
    const bus = configOf.get(m)?.settings.errorBusPort;
    if (!bus) continue;
    const owner = live.find((d) => d.cfg.machine === m && ERROR_BUS_NAMES.includes(d.cfg.name) && d.ports.some((p) => p.declared === bus.value));
    if (!owner) reserved.push({ machine: m, owner: 'error_bus_port', name: 'error-bus', role: 'extra', wanted: bus.value, at: bus.at, onConflict: 'error', fixed: true });
    if (!busAgent) errorBus ??= { machine: m, port: bus.value };
  }
  const claimsOf = (m: string | undefined): PortClaim[] =>
    live
      .filter((d) => m === undefined || d.cfg.machine === m)
      .flatMap((d) => {
        const ms = spec.machines[d.cfg.machine]!;
        return d.ports.map((p): PortClaim => ({
          key: p.key,
          machine: d.cfg.machine,
          owner: d.cfg.name,
          name: p.name,
          role: p.role,
          wanted: p.declared,
          at: p.at,
          // A health port the config does not declare is ours to choose: it never blocks.
          onConflict: p.derived ? 'reassign' : ms.ports.onConflict,
          soft: p.derived === true,
          ...(ms.ports.range ? { range: ms.ports.range } : {}),
        }));
      })
      .concat(reserved.filter((r) => m === undefined || r.machine === m));
  const machinePort = new Map<string, number>();
  const lock: PortLock['ports'][number][] = [];
  for (const m of machineNames) {
    const a = allocatePorts(claimsOf(m), previousLock, { host: m, severity: 'error' });
    a.assigned.forEach((v, k) => machinePort.set(k, v));
    lock.push(...a.lock);
    ds.push(...a.diagnostics);
  }
  const single = allocatePorts(
    claimsOf(undefined).map((c) => ({ ...c, wanted: machinePort.get(claimKeyOf(c)) ?? c.wanted })),
    previousLock,
    { host: SINGLE_HOST, severity: 'warning', crossMachineOnly: true, consequence: '; single-host output is not generated until then' },
  );
  lock.push(...single.lock);
  ds.push(...single.diagnostics);
  const singleHostReady = !single.unresolved;

  // Declared port ranges (`pc2_network`).
  for (const d of live) {
    const ranges = configOf.get(d.cfg.machine)!.settings.portRanges;
    for (const p of d.ports) {
      const r = ranges.find((x) => x.role === (p.role === 'health' ? 'health' : 'service'));
      if (!r || p.role === 'extra') continue;
      const port = machinePort.get(p.key)!;
      if (port < r.start || port > r.end) {
        ds.push(diag('port-out-of-range', 'warning', `${p.role} port ${port} of ${d.cfg.name} is outside the declared ${p.role === 'health' ? 'health_check_ports' : 'agent_ports'} range ${r.start}-${r.end} (line ${r.at.line}); move it into the range or widen the range`, p.at));
      }
    }
  }

  // GPU placement: largest VRAM first, each to the machine's GPU with the most VRAM left.
  const gpuOf = new Map<string, PlannedGpu>();
  const machinePlans: MachinePlan[] = [];
  for (const m of machineNames) {
    const ms = spec.machines[m]!;
    const devices = [...ms.gpus].sort((a, b) => a.device - b.device).map((g) => ({ ...g, used: 0, agents: [] as { id: string; vramGiB: number }[] }));
    const gpuAgents = live.filter((d) => d.cfg.machine === m && d.gpu).sort((a, b) => b.vramGiB - a.vramGiB || byString(a.id, b.id));
    for (const d of gpuAgents) {
      const target = [...devices].sort((a, b) => b.vramGiB - b.used - (a.vramGiB - a.used) || a.device - b.device)[0];
      if (!target) continue;
      target.used = Math.round((target.used + d.vramGiB) * 10) / 10;
      target.agents.push({ id: d.id, vramGiB: d.vramGiB });
      gpuOf.set(d.id, { machine: m, device: target.device, model: target.model, vramGiB: d.vramGiB });
    }
    const gpus: PlannedGpuDevice[] = devices.map((g) => ({
      device: g.device,
      model: g.model,
      vramGiB: g.vramGiB,
      usedGiB: g.used,
      agents: [...g.agents].sort((a, b) => byString(a.id, b.id)),
    }));
    for (const g of gpus) {
      if (g.usedGiB > g.vramGiB) {
        const list = [...g.agents].sort((a, b) => b.vramGiB - a.vramGiB || byString(a.id, b.id)).map((a) => `${a.id} ${a.vramGiB}`).join(', ');
        const largest = [...g.agents].sort((a, b) => b.vramGiB - a.vramGiB || byString(a.id, b.id))[0]!;
        ds.push(
          diag(
            'vram-over-budget',
            'error',
            `agents on ${m} GPU ${g.device} (${g.model}, ${g.vramGiB} GiB) need ${g.usedGiB} GiB: ${list}; lower their vramGiB in the spec, move agents to another machine or add a GPU`,
            byId.get(largest.id)!.cfg.at,
          ),
        );
      }
    }
    machinePlans.push({
      name: m,
      file: configOf.get(m)?.file ?? ms.config,
      addressEnv: ms.addressEnv,
      addressVariables: addressVariables(ms.addressEnv),
      gpus,
      agents: live.filter((d) => d.cfg.machine === m).map((d) => d.id).sort(byString),
      ...(ms.cpus !== undefined ? { cpus: ms.cpus } : {}),
      ...(ms.memoryGiB !== undefined ? { memoryGiB: ms.memoryGiB } : {}),
    });
  }

  // Per-agent assembly.
  const portsOf = (d: Draft): PlannedPort[] =>
    d.ports.map((p) =>
      singleHostReady
        ? { name: p.name, role: p.role, declared: p.declared, port: machinePort.get(p.key)!, singleHostPort: single.assigned.get(p.key)!, at: p.at }
        : { name: p.name, role: p.role, declared: p.declared, port: machinePort.get(p.key)!, at: p.at },
    );
  const plannedPorts = new Map(live.map((d) => [d.id, portsOf(d)]));
  const dependents = new Map<string, string[]>();
  for (const [id, list] of edges) {
    for (const e of list) {
      const ds = dependents.get(e.dep.id);
      if (ds) ds.push(id);
      else dependents.set(e.dep.id, [id]);
    }
  }
  const secretsAll = new Set<string>();
  // Health-check timing: the machine's config, overridden by the spec's settings that are set.
  const specHealthChecks = Object.fromEntries(Object.entries(spec.healthChecks).filter(([, v]) => v !== undefined));
  const healthChecksOf = new Map(machineNames.map((m) => [m, { ...configOf.get(m)?.settings.healthChecks, ...specHealthChecks }]));

  const agents: PlannedAgent[] = live.map((d) => {
    const ports = plannedPorts.get(d.id)!;
    const svc = ports[0]!;
    const hp = ports[1]!;
    const settings = configOf.get(d.cfg.machine)!.settings;
    const deps: PlannedDependency[] = edges
      .get(d.id)!
      .map((e) => {
        const dp = plannedPorts.get(e.dep.id)!;
        const dep: Mutable<PlannedDependency> = {
          name: e.dep.cfg.name,
          id: e.dep.id,
          machine: e.dep.cfg.machine,
          crossMachine: e.dep.cfg.machine !== d.cfg.machine,
          envPrefix: e.dep.envPrefix,
          port: dp[0]!.port,
          healthPort: dp[1]!.port,
          healthProbe: e.dep.override.probe ?? spec.defaults.probe,
        };
        if (singleHostReady) {
          dep.singleHostPort = dp[0]!.singleHostPort!;
          dep.singleHostHealthPort = dp[1]!.singleHostPort!;
        }
        return dep;
      })
      .sort((a, b) => byString(a.id, b.id));
    const secrets = d.override.secrets?.length || d.cfg.secretRefs.length ? [...new Set([...(d.override.secrets ?? []), ...d.cfg.secretRefs])].sort(byString) : [];
    secrets.forEach((s) => secretsAll.add(s));
    const env: PlannedEnv[] = [
      { name: 'AGENT_NAME', kind: 'literal', value: d.cfg.name },
      portEnv('AGENT_PORT', svc.port, svc.singleHostPort),
      portEnv('HEALTH_CHECK_PORT', hp.port, hp.singleHostPort),
      { name: 'BIND_ADDRESS', kind: 'bind-address' },
      // Extra listeners, so that an agent can follow a port that was moved.
      ...ports
        .filter((p) => p.role === 'extra')
        .map((p) => portEnv(`AGENT_${envName(p.name)}_PORT`, p.port, p.singleHostPort)),
      { name: 'MACHINE', kind: 'literal', value: d.cfg.machine },
      { name: 'STARTUP_SECONDS', kind: 'literal', value: String(d.startupSeconds) },
    ];
    for (const mp of machinePlans) for (const v of mp.addressVariables) env.push({ name: v, kind: 'machine-address', machine: mp.name });
    for (const dep of deps) {
      env.push({ name: `${dep.envPrefix}_HOST`, kind: 'agent-host', agent: dep.id });
      env.push(portEnv(`${dep.envPrefix}_PORT`, dep.port, dep.singleHostPort));
      env.push(portEnv(`${dep.envPrefix}_HEALTH_PORT`, dep.healthPort, dep.singleHostHealthPort));
    }
    if (busAgent && busAgent.id !== d.id) {
      const bp = plannedPorts.get(busAgent.id)![0]!;
      env.push({ name: 'ERROR_BUS_HOST', kind: 'agent-host', agent: busAgent.id });
      env.push(portEnv('ERROR_BUS_PORT', bp.port, bp.singleHostPort));
    } else if (!busAgent && errorBus) {
      env.push({ name: 'ERROR_BUS_HOST', kind: 'machine-address', machine: errorBus.machine });
      env.push({ name: 'ERROR_BUS_PORT', kind: 'port', port: errorBus.port, singleHostPort: errorBus.port });
    }
    if (settings.environment.length > 0) {
      const taken = new Set(env.map((x) => x.name));
      for (const e of settings.environment) if (!taken.has(e.name)) env.push({ name: e.name, kind: 'literal', value: e.value });
    }
    for (const s of secrets) env.push({ name: s, kind: 'secret', secret: s });
    env.sort((a, b) => byString(a.name, b.name));
    const metricsPort = ports.find((p) => p.name === 'metrics' || p.name === 'prometheus');
    const memoryMiB = d.override.resources?.memoryMiB ?? settings.memoryMiB ?? 2048;
    const cpuMillis = d.override.resources?.cpuMillis ?? (settings.cpuPercent !== undefined ? Math.max(100, Math.round(settings.cpuPercent * 10)) : 1000);
    const hc = healthChecksOf.get(d.cfg.machine)!;
    const maxReplicas = d.gpu ? undefined : d.override.maxReplicas;
    return {
      name: d.cfg.name,
      id: d.id,
      machine: d.cfg.machine,
      group: d.cfg.group,
      dockerGroups: d.cfg.dockerGroups,
      ...(d.cfg.scriptPath !== undefined ? { scriptPath: d.cfg.scriptPath } : {}),
      required: d.cfg.required,
      ports,
      servicePort: svc,
      healthPort: hp,
      ...(metricsPort ? { metricsPort } : {}),
      dependencies: deps,
      dependents: dependents.get(d.id)?.sort(byString) ?? [],
      startLevel: graph.level.get(d.id) ?? 0,
      startupSeconds: d.startupSeconds,
      family: d.family,
      image: `${spec.registry}/${d.family}:${spec.tag}`,
      ...(gpuOf.has(d.id) ? { gpu: gpuOf.get(d.id)! } : {}),
      resources: {
        cpuMillis,
        cpuRequestMillis: Math.min(cpuMillis, d.override.resources?.cpuRequestMillis ?? spec.defaults.cpuRequestMillis),
        memoryMiB,
        memoryRequestMiB: Math.min(memoryMiB, d.override.resources?.memoryRequestMiB ?? spec.defaults.memoryRequestMiB),
      },
      replicas: d.gpu ? 1 : (d.override.replicas ?? 1),
      ...(maxReplicas !== undefined && maxReplicas > (d.override.replicas ?? 1) ? { maxReplicas } : {}),
      health: {
        probe: d.override.probe ?? spec.defaults.probe,
        path: '/health',
        intervalSeconds: hc.intervalSeconds ?? 10,
        timeoutSeconds: hc.timeoutSeconds ?? 5,
        retries: hc.retries ?? 3,
        startPeriodSeconds: hc.startPeriodSeconds ?? Math.ceil(d.startupSeconds * 2 + 10),
      },
      env,
      secrets,
      at: d.cfg.at,
    };
  });
  agents.sort((a, b) => byString(a.machine, b.machine) || byString(a.id, b.id));

  // Image families in use.
  const images: PlannedImage[] = [];
  for (const fam of [...new Set(agents.map((a) => a.family))].sort(byString)) {
    const f = ImageFamilySchema.parse(families[fam] ?? DEFAULT_IMAGES['cpu']);
    const members = agents.filter((a) => a.family === fam);
    const dirs = new Set<string>();
    for (const a of members) if (a.scriptPath && a.scriptPath.includes('/')) dirs.add(a.scriptPath.split('/')[0]!);
    for (const d of f.sharedDirs) dirs.add(d);
    images.push({
      family: fam,
      image: `${spec.registry}/${fam}:${spec.tag}`,
      gpu: f.gpu,
      builderBase: f.builderBase,
      runtimeBase: f.runtimeBase,
      buildPackages: [...f.buildPackages].sort(byString),
      runtimePackages: [...f.runtimePackages].sort(byString),
      requirements: f.requirements,
      sourceDirs: [...dirs].sort(byString),
      agents: members.map((a) => a.id),
      ...(f.maxSizeMiB !== undefined ? { maxSizeMiB: f.maxSizeMiB } : {}),
    });
  }

  const portMap: PortMapRow[] = [];
  for (const a of agents) {
    for (const p of a.ports) {
      portMap.push({ host: a.machine, port: p.port, agent: a.id, machine: a.machine, name: p.name, role: p.role, declared: p.declared });
      if (p.singleHostPort !== undefined) portMap.push({ host: SINGLE_HOST, port: p.singleHostPort, agent: a.id, machine: a.machine, name: p.name, role: p.role, declared: p.declared });
    }
  }
  portMap.sort((a, b) => byString(a.host, b.host) || a.port - b.port || byString(a.agent, b.agent));

  return {
    name: spec.name,
    namespace: spec.namespace,
    user: spec.defaults.user,
    registry: spec.registry,
    tag: spec.tag,
    portOffset: spec.variables['PORT_OFFSET'] ?? '0',
    machines: machinePlans,
    agents,
    startLevels: graph.levels,
    criticalPath: graph.criticalPath,
    sequentialSeconds: graph.sequentialSeconds,
    ...(busAgent ? { errorBus: { agent: busAgent.id, machine: busAgent.cfg.machine, port: plannedPorts.get(busAgent.id)![0]!.port } } : errorBus ? { errorBus } : {}),
    images,
    portMap,
    singleHostReady,
    secrets: [...secretsAll].sort(byString),
    kubernetes: spec.kubernetes,
    cycles: graph.cycles,
    lock: { version: 1, ports: lock.sort((a, b) => byString(a.host, b.host) || byString(a.machine, b.machine) || byString(a.agent, b.agent) || byString(a.port, b.port)) },
    diagnostics: sortDiagnostics(ds),
  };
}
