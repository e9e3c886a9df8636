/** Drafts: per agent, the facts that need nothing but the agent, its overrides and its machine. */
import { diag, type Diagnostic } from '../../diagnostics.ts';
import type { AgentConfig, MachineConfig } from '../../config/model.ts';
import type { DeploymentSpec, FrameworkName, Override } from '../../config/spec.ts';
import { byString, didYouMean, dnsLabel, envName, portName } from '../names.ts';
import { claimKey, type PortRole } from '../ports.ts';

/** One listener an agent declares (or, for an undeclared health port, is given). */
export interface DraftPort {
  readonly name: string;
  /** The port's claim key (`machine/agent/name`), built once. */
  readonly key: string;
  readonly role: PortRole;
  readonly declared: number;
  readonly at: AgentConfig['at'];
  readonly derived?: boolean;
  /** The agent's code decides the port: it never moves. */
  readonly byCode?: boolean;
  /** A port at a fixed distance from another of the agent's (a BaseAgent's HTTP at health + 1): it moves with it and never alone. */
  readonly follows?: 'health';
}

/** An agent on its way into the plan. */
export interface Draft {
  readonly cfg: AgentConfig;
  /** The DNS label of the agent's name; the names phase gives the final one. */
  readonly id: string;
  /** The prefix of the variables that point at this agent (`MODEL_OPS_COORDINATOR`). */
  readonly envPrefix: string;
  readonly override: Override;
  readonly gpu: boolean;
  readonly vramGiB: number;
  readonly startupSeconds: number;
  readonly family: string;
  /** How the agent answers health checks: the spec's override, else what its code shows, else the spec's default. */
  readonly framework: FrameworkName;
  /** Service first, health second, then the extra listeners (for a BaseAgent, `http` at health + 1 last). */
  readonly ports: readonly DraftPort[];
}

/** The name of the HTTP listener a BaseAgent opens at health + 1 (`/health`, `/metrics`). */
export const BASEAGENT_HTTP = 'http';

const NO_OVERRIDE: Override = Object.freeze({});

/** Group names that mark GPU work in the real configs (`vision_gpu`, `main_pc_gpu_services`), not `gpu_infrastructure`. */
/** A config's VRAM figure in MiB as the plan takes it: GiB to one decimal. */
export const vramGiBOfHint = (mib: number) => Math.round((mib / 1024) * 10) / 10;

export const GPU_GROUP_RE = /(^|[_-])gpu([_-]services)?$/i;

/** Overrides that match no agent or group: typos until proven otherwise. */
export function unknownOverrides(spec: DeploymentSpec, configs: readonly MachineConfig[]): Diagnostic[] {
  const ds: Diagnostic[] = [];
  const check = (section: 'agents' | 'groups', known: Set<string>, what: string) => {
    for (const key of Object.keys(spec[section]).sort(byString)) {
      if (known.has(key)) continue;
      const hint = didYouMean(key, [...known]);
      ds.push(
        diag(
          'unknown-override',
          'warning',
          `${section}.${key} matches no ${what}${hint ? `; did you mean '${hint}'?` : '; remove it'}`,
        ),
      );
    }
  };
  if (Object.keys(spec.agents).length)
    check(
      'agents',
      new Set(configs.flatMap((c) => c.agents.flatMap((a) => [a.name, `${a.machine}/${a.name}`]))),
      'agent',
    );
  if (Object.keys(spec.groups).length)
    check('groups', new Set(configs.flatMap((c) => c.agents.flatMap((a) => [a.group, ...a.dockerGroups]))), 'group');
  return ds;
}

/** The overrides of an agent merged: groups (config and docker groups) first, then the agent's own. */
export function overrideFor(spec: DeploymentSpec, a: AgentConfig): Override {
  const layers: Override[] = [];
  for (const g of [a.group, ...a.dockerGroups]) if (Object.hasOwn(spec.groups, g)) layers.push(spec.groups[g]!);
  for (const k of [a.name, `${a.machine}/${a.name}`]) if (Object.hasOwn(spec.agents, k)) layers.push(spec.agents[k]!);
  return layers.length === 0
    ? NO_OVERRIDE
    : layers.length === 1
      ? layers[0]!
      : (Object.assign({}, ...layers) as Override);
}

/** Drafts of every enabled agent that is not left out (`leftOut`: `machine/name`), by machine then name; the names of the disabled ones. */
export function draftAgents(
  spec: DeploymentSpec,
  configs: readonly MachineConfig[],
  families: Readonly<Record<string, { readonly gpu?: boolean }>>,
  leftOut: ReadonlySet<string> = new Set(),
) {
  const ds: Diagnostic[] = [];
  const drafts: Draft[] = [];
  const disabled = new Set<string>();
  const configOf = new Map(configs.map((c) => [c.machine, c]));
  for (const m of Object.keys(spec.machines).sort(byString)) {
    const machine = spec.machines[m]!;
    for (const a of [...(configOf.get(m)?.agents ?? [])].sort((x, y) => byString(x.name, y.name))) {
      if (leftOut.has(`${m}/${a.name}`)) continue;
      const o = overrideFor(spec, a);
      if (o.disabled) {
        disabled.add(a.name);
        continue;
      }
      const inferred =
        [a.group, ...a.dockerGroups].some((g) => GPU_GROUP_RE.test(g)) || a.cudaHint || a.vramMiBHint !== undefined;
      let gpu = o.gpu ?? (o.family !== undefined ? families[o.family]?.gpu === true : inferred);
      if (gpu && machine.gpus.length === 0) {
        if (o.gpu === true)
          ds.push(
            diag(
              'gpu-unavailable',
              'error',
              `agent '${a.name}' needs a GPU but machine '${m}' declares none; add machines.${m}.gpus or set gpu: false`,
              a.at,
            ),
          );
        else
          ds.push(
            diag(
              'gpu-unavailable',
              'info',
              `agent '${a.name}' looks GPU-bound but machine '${m}' declares no GPU; it is planned on the CPU`,
              a.at,
            ),
          );
        gpu = false;
      }
      const family = o.family ?? (gpu ? spec.defaults.gpuFamily : spec.defaults.cpuFamily);
      if (!Object.hasOwn(families, family))
        ds.push(
          diag(
            'invalid-spec',
            'error',
            `agent '${a.name}' uses image family '${family}', which the spec does not define; add it under 'images'`,
            a.at,
          ),
        );
      const label = dnsLabel(a.name);
      const framework =
        o.framework ??
        (a.framework === 'baseagent' ? 'baseagent' : a.framework === 'none' ? 'http' : spec.defaults.framework);
      drafts.push({
        cfg: a,
        id: label,
        envPrefix: envName(label),
        override: o,
        gpu,
        vramGiB: o.vramGiB ?? (a.vramMiBHint !== undefined ? vramGiBOfHint(a.vramMiBHint) : spec.defaults.vramGiB),
        startupSeconds: o.startupSeconds ?? (gpu ? spec.defaults.gpuStartupSeconds : spec.defaults.startupSeconds),
        family,
        framework,
        ports: draftPorts(m, a, o, framework),
      });
      for (const p of drafts.at(-1)!.ports) {
        if (p.declared < 1024)
          ds.push(
            diag(
              'invalid-value',
              'error',
              `${p.role === 'extra' ? `${p.name} port` : `${p.role} port`} ${p.declared} of ${a.name} is below 1024: the agent runs as uid ${spec.defaults.user} without capabilities and cannot bind it; pick a port from 1024 up`,
              p.at,
            ),
          );
      }
    }
  }
  return { drafts, disabled, diagnostics: ds };
}

/**
 * Service, health and extra ports, extra ones named uniquely within the agent (`zmq`, `zmq-2`). The
 * spec's `healthPort` says where the agent really binds its health socket; a BaseAgent also binds HTTP
 * at health + 1, which it cannot be told to move (`follows`).
 */
function draftPorts(m: string, a: AgentConfig, o: Override, framework: FrameworkName): DraftPort[] {
  const keyOf = (name: string) => claimKey({ machine: m, owner: a.name, name });
  const health = o.healthPort === 'service+1' ? a.port.value + 1 : (o.healthPort ?? a.healthCheckPort.value);
  const ports: DraftPort[] = [
    {
      name: 'service',
      key: keyOf('service'),
      role: 'service',
      declared: a.port.value,
      at: a.port.at,
      ...(a.port.byCode ? { byCode: true } : {}),
    },
    {
      name: 'health',
      key: keyOf('health'),
      role: 'health',
      declared: health,
      at: a.healthCheckPort.at,
      ...(a.healthCheckPort.derived && o.healthPort === undefined ? { derived: true } : {}),
      ...(a.healthCheckPort.byCode && o.healthPort === undefined ? { byCode: true } : {}),
    },
  ];
  const used = new Set(['service', 'health', ...(framework === 'baseagent' ? [BASEAGENT_HTTP] : [])]);
  for (const e of a.extraPorts) {
    let n = portName(e.name);
    for (let i = 2; used.has(n); i++) n = `${portName(e.name).slice(0, 13)}-${i}`;
    used.add(n);
    ports.push({
      name: n,
      key: keyOf(n),
      role: 'extra',
      declared: e.port,
      at: e.at,
      ...(e.byCode ? { byCode: true } : {}),
    });
  }
  if (framework === 'baseagent')
    ports.push({
      name: BASEAGENT_HTTP,
      key: keyOf(BASEAGENT_HTTP),
      role: 'extra',
      declared: health + 1,
      at: a.healthCheckPort.at,
      follows: 'health',
    });
  return ports;
}
