/** Ports: one assignment of every claimed port, per machine (two-PC) and on the single host. */
import { diag, type Diagnostic } from '../../diagnostics.ts';
import type { MachineConfig } from '../../config/model.ts';
import type { DeploymentSpec } from '../../config/spec.ts';
import type { PortLock, PortLockEntry } from '../../lock.ts';
import { byString } from '../names.ts';
import { allocatePorts, claimKeyOf, type PortClaim } from '../ports.ts';
import type { PlannedPort, SystemPlan } from '../types.ts';
import type { Draft, DraftPort } from './drafts.ts';

export const SINGLE_HOST = 'single-host';
export const ERROR_BUS_NAMES = ['CentralErrorBus', 'ErrorBus'];

/** Where every port of every agent landed: the one table the later phases read ports from. */
export interface PortAssignment {
  /** An agent's ports as planned, service first, health second. */
  portsOf(d: Draft): PlannedPort[];
  readonly singleHostReady: boolean;
  readonly lock: PortLock;
  /** The agent that is the error bus, when there is one. */
  readonly errorBusAgent?: Draft;
  /** The error bus when no agent is one: a reserved `error_bus_port` of a machine. */
  readonly reservedErrorBus?: NonNullable<SystemPlan['errorBus']>;
}

/** The agent that is the error bus (the first machine's, when several are). */
function errorBusAgent(live: readonly Draft[]): Draft | undefined {
  return ERROR_BUS_NAMES.map(
    (n) => live.filter((d) => d.cfg.name === n).sort((a, b) => byString(a.cfg.machine, b.cfg.machine))[0],
  ).find(Boolean);
}

/** `services`: ports the infrastructure services hold (fixed claims). */
export function assignPorts(
  spec: DeploymentSpec,
  configs: readonly MachineConfig[],
  live: readonly Draft[],
  previousLock: PortLock,
  services: readonly PortClaim[] = [],
): { assignment: PortAssignment; diagnostics: Diagnostic[] } {
  const ds: Diagnostic[] = [];
  const machineNames = Object.keys(spec.machines).sort(byString);
  const configOf = new Map(configs.map((c) => [c.machine, c]));
  // A machine's `error_bus_port` that no error-bus agent declares is reserved: nothing else may take it.
  const reserved: PortClaim[] = [...services];
  let reservedErrorBus: PortAssignment['reservedErrorBus'];
  const busAgent = errorBusAgent(live);
  for (const m of machineNames) {
    const bus = configOf.get(m)?.settings.errorBusPort;
    if (!bus) continue;
    const owner = live.find(
      (d) =>
        d.cfg.machine === m && ERROR_BUS_NAMES.includes(d.cfg.name) && d.ports.some((p) => p.declared === bus.value),
    );
    if (!owner)
      reserved.push({
        machine: m,
        owner: 'error_bus_port',
        name: 'error-bus',
        role: 'extra',
        wanted: bus.value,
        at: bus.at,
        onConflict: 'error',
        fixed: true,
      });
    if (!busAgent) reservedErrorBus ??= { machine: m, port: bus.value };
  }
  const claimsOf = (m: string | undefined): PortClaim[] =>
    live
      .filter((d) => m === undefined || d.cfg.machine === m)
      // A follower (a BaseAgent's HTTP at health + 1) is not allocated: it is wherever its leader lands.
      .flatMap((d) => d.ports.filter((p) => !p.follows).map((p) => claim(spec, d, p)))
      .concat(reserved.filter((r) => m === undefined || r.machine === m));
  // A follower of a port the code decides is where it is: no moved port may land on it.
  const avoidOf = (m: string | undefined) =>
    new Set(
      live
        .filter((d) => m === undefined || d.cfg.machine === m)
        .flatMap((d) =>
          d.ports.filter((p) => p.follows && d.ports.find((q) => q.role === p.follows)?.byCode).map((p) => p.declared),
        ),
    );
  const machinePort = new Map<string, number>();
  const lock: PortLockEntry[] = [];
  for (const m of machineNames) {
    const a = allocatePorts(claimsOf(m), previousLock, { host: m, severity: 'error', avoid: avoidOf(m) });
    a.assigned.forEach((v, k) => machinePort.set(k, v));
    lock.push(...a.lock);
    ds.push(...a.diagnostics);
  }
  // On one host, each claim starts from the port its machine gave it.
  const single = allocatePorts(
    claimsOf(undefined).map((c) => ({ ...c, wanted: machinePort.get(claimKeyOf(c)) ?? c.wanted })),
    previousLock,
    {
      host: SINGLE_HOST,
      severity: 'warning',
      crossMachineOnly: true,
      avoid: avoidOf(undefined),
      consequence: '; single-host output is not generated until then',
    },
  );
  lock.push(...single.lock);
  ds.push(...single.diagnostics);
  const followers = followerConflicts(live, machinePort, single.assigned);
  const singleHostReady = !single.unresolved && followers.single.length === 0;
  const portsOf = (d: Draft): PlannedPort[] =>
    d.ports.map((p) => {
      const shadowed = {
        ...(followers.shadowed.has(`${d.cfg.machine}/${d.cfg.name}/${p.name}`) ? { shadowed: true } : {}),
        ...(p.follows ? { follows: p.follows } : {}),
      };
      return singleHostReady
        ? {
            name: p.name,
            role: p.role,
            declared: p.declared,
            port: at(machinePort, d, p),
            singleHostPort: at(single.assigned, d, p),
            at: p.at,
            ...shadowed,
          }
        : { name: p.name, role: p.role, declared: p.declared, port: at(machinePort, d, p), at: p.at, ...shadowed };
    });
  ds.push(...followers.diagnostics);
  ds.push(...outOfRange(configOf, live, (k) => machinePort.get(k)!));
  lock.sort(
    (a, b) =>
      byString(a.host, b.host) ||
      byString(a.machine, b.machine) ||
      byString(a.agent, b.agent) ||
      byString(a.port, b.port),
  );
  const assignment: PortAssignment = {
    portsOf,
    singleHostReady,
    lock: { version: 1, ports: lock },
    ...(busAgent ? { errorBusAgent: busAgent } : {}),
    ...(reservedErrorBus ? { reservedErrorBus } : {}),
  };
  return { assignment, diagnostics: ds };
}

function claim(spec: DeploymentSpec, d: Draft, p: DraftPort): PortClaim {
  const ms = spec.machines[d.cfg.machine]!;
  return {
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
    ...(p.byCode ? { byCode: true } : {}),
    ...(ms.ports.range ? { range: ms.ports.range } : {}),
  };
}

/** Where a follower lands: its leader's port, plus one. */
const at = (assigned: ReadonlyMap<string, number>, d: Draft, p: DraftPort) =>
  p.follows ? assigned.get(d.ports.find((q) => q.role === p.follows)!.key)! + 1 : assigned.get(p.key)!;

/**
 * Followers that land on another listener's port. In one network namespace (the single host) one of
 * the two fails to bind: the single host cannot run the system. In containers and pods each agent
 * has its own, so the two-PC and Kubernetes outputs are unaffected, but such a port cannot be
 * published on the machine (`shadowed`).
 */
function followerConflicts(
  live: readonly Draft[],
  machinePort: ReadonlyMap<string, number>,
  single: ReadonlyMap<string, number>,
) {
  const diagnostics: Diagnostic[] = [];
  const shadowed = new Set<string>();
  const conflicts = (assigned: ReadonlyMap<string, number>, hostOf: (d: Draft) => string) => {
    const taken = new Map<string, string>();
    for (const d of live)
      for (const p of d.ports)
        if (!p.follows) taken.set(`${hostOf(d)}:${at(assigned, d, p)}`, `${d.cfg.name} (${p.name})`);
    const found: { d: Draft; p: DraftPort; port: number; other: string }[] = [];
    for (const d of live) {
      for (const p of d.ports) {
        if (!p.follows) continue;
        const port = at(assigned, d, p);
        const other =
          taken.get(`${hostOf(d)}:${port}`) ??
          (taken.set(`${hostOf(d)}:${port}`, `${d.cfg.name} (${p.name})`), undefined);
        if (other) found.push({ d, p, port, other });
      }
    }
    return found;
  };
  for (const c of conflicts(machinePort, (d) => d.cfg.machine)) {
    shadowed.add(`${c.d.cfg.machine}/${c.d.cfg.name}/${c.p.name}`);
    diagnostics.push(
      diag(
        'port-conflict',
        'warning',
        `${c.d.cfg.name} binds its ${c.p.name} port at ${c.p.follows} + 1 = ${c.port}, which ${c.other} also binds on ${c.d.cfg.machine}: harmless in containers and pods (each has its own network), but the port is not published on the machine; move one health port to end it`,
        c.p.at,
      ),
    );
  }
  const onSingle = conflicts(single, () => SINGLE_HOST);
  for (const c of onSingle) {
    diagnostics.push(
      diag(
        'port-conflict',
        'warning',
        `${c.d.cfg.name} binds its ${c.p.name} port at ${c.p.follows} + 1 = ${c.port}, which ${c.other} also binds on the single host, where one of them cannot bind; move one health port; single-host output is not generated until then`,
        c.p.at,
      ),
    );
  }
  return { diagnostics, shadowed, single: onSingle };
}

/** Ports outside a range the machine's config declares (`pc2_network`). */
function outOfRange(
  configOf: ReadonlyMap<string, MachineConfig>,
  live: readonly Draft[],
  portOf: (key: string) => number,
): Diagnostic[] {
  const ds: Diagnostic[] = [];
  for (const d of live) {
    const ranges = configOf.get(d.cfg.machine)!.settings.portRanges;
    for (const p of d.ports) {
      const r = ranges.find((x) => x.role === (p.role === 'health' ? 'health' : 'service'));
      if (!r || p.role === 'extra') continue;
      const port = portOf(p.key);
      if (port < r.start || port > r.end) {
        ds.push(
          diag(
            'port-out-of-range',
            'warning',
            `${p.role} port ${port} of ${d.cfg.name} is outside the declared ${p.role === 'health' ? 'health_check_ports' : 'agent_ports'} range ${r.start}-${r.end} (line ${r.at.line}); move it into the range or widen the range`,
            p.at,
          ),
        );
      }
    }
  }
  return ds;
}
