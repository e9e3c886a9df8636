/**
 * The port allocator's rules, one row each, with the whole message and every assigned port worked out
 * by hand from the rule: who keeps a contested port (fixed, then declared, then the lock, then the
 * (machine, agent, role) order), where a moved port goes, what is locked, and what is said.
 */
import { describe, expect, it } from 'vitest';
import { allocatePorts, claimKey, type AllocateOptions, type PortClaim } from '../../lib/plan/ports.ts';
import { EMPTY_LOCK, type PortLock, type PortLockEntry } from '../../lib/lock.ts';
import { formatDiagnostic } from '../../lib/diagnostics.ts';

const at = (line: number) => ({ file: 'm.yaml', line, column: 3, path: `agents[${line}]` });

/** A claim of `owner`'s `name` port on machine `machine` (default `m`), reassigning unless told. */
function claim(owner: string, wanted: number, line: number, more: Partial<PortClaim> = {}): PortClaim {
  return {
    machine: 'm',
    owner,
    name: more.role ?? 'service',
    role: 'service',
    wanted,
    at: at(line),
    onConflict: 'reassign',
    ...more,
  };
}

const MACHINE: AllocateOptions = { host: 'm', severity: 'error' };
const SINGLE: AllocateOptions = { host: 'single-host', severity: 'warning', crossMachineOnly: true };

interface Row {
  readonly name: string;
  readonly claims: readonly PortClaim[];
  readonly opts?: AllocateOptions;
  readonly lock?: PortLock;
  /** `machine/owner/name` -> port, for every claim. */
  readonly assigned: Record<string, number>;
  /** Each diagnostic as `<severity> <file>:<line> <path>: <message> [<code>]`. */
  readonly said: readonly string[];
  readonly unresolved?: boolean;
  /** The `owner/name=wanted->assigned` entries of the lock, when it is asserted. */
  readonly locked?: readonly string[];
}

const lockOf = (...entries: Omit<PortLockEntry, 'host' | 'machine'>[]): PortLock => ({
  version: 1,
  ports: entries.map((e) => ({ host: 'm', machine: 'm', ...e })),
});

const ROWS: Row[] = [
  {
    name: 'a fixed listener keeps its port; the agent moves to the next free one',
    claims: [
      claim('Bus', 7150, 5),
      claim('error_bus_port', 7150, 1, { name: 'error_bus_port', role: 'extra', fixed: true }),
    ],
    assigned: { 'm/Bus/service': 7151, 'm/error_bus_port/error_bus_port': 7150 },
    said: [
      "info m.yaml:5 agents[5]: port 7150 of Bus (service) is taken by 'error_bus_port' on m; moved to 7151 [port-reassigned]",
    ],
    locked: ['Bus/service=7150->7151'],
  },
  {
    name: 'a derived health port yields to a declared one, even of an agent sorted after it',
    claims: [claim('Alpha', 8000, 2, { role: 'health', name: 'health', soft: true }), claim('Zulu', 8000, 9)],
    assigned: { 'm/Alpha/health': 8001, 'm/Zulu/service': 8000 },
    said: [
      'info m.yaml:2 agents[2]: port 8000 of Alpha (health) is taken by Zulu (service) on m; moved to 8001 [port-reassigned]',
    ],
    locked: ['Alpha/health=8000->8001', 'Zulu/service=8000->8000'],
  },
  {
    name: 'without reassign a clash is an error naming both, the keeper first in (agent, role) order',
    claims: [claim('Zulu', 7000, 9, { onConflict: 'error' }), claim('Alpha', 7000, 2, { onConflict: 'error' })],
    assigned: { 'm/Alpha/service': 7000, 'm/Zulu/service': 7000 },
    said: [
      'error m.yaml:9 agents[9]: port 7000 of Zulu (service) is also used by Alpha (service) on m (m.yaml:2); pick a free port or set machines.m.ports.onConflict: reassign [port-conflict]',
    ],
    unresolved: true,
    locked: [],
  },
  {
    name: 'an agent whose health port is its own service port is told so',
    claims: [
      claim('A', 7000, 3, { onConflict: 'error' }),
      claim('A', 7000, 4, { onConflict: 'error', role: 'health', name: 'health' }),
    ],
    assigned: { 'm/A/service': 7000, 'm/A/health': 7000 },
    said: [
      'error m.yaml:4 agents[4]: port 7000 of A (health) is also used by its own service port (m.yaml:3); pick a free port or set machines.m.ports.onConflict: reassign [port-conflict]',
    ],
    unresolved: true,
  },
  {
    name: 'a moved port skips every port some claim wants, and takes the last port of its range',
    claims: [
      claim('A', 7200, 1, { range: { start: 7200, end: 7202 } }),
      claim('B', 7200, 2, { range: { start: 7200, end: 7202 } }),
      claim('C', 7201, 3, { range: { start: 7200, end: 7202 } }),
    ],
    assigned: { 'm/A/service': 7200, 'm/B/service': 7202, 'm/C/service': 7201 },
    said: [
      'info m.yaml:2 agents[2]: port 7200 of B (service) is taken by A (service) on m; moved to 7202 [port-reassigned]',
    ],
    locked: ['A/service=7200->7200', 'B/service=7200->7202', 'C/service=7201->7201'],
  },
  {
    name: 'an exhausted range is an error: no free port is left',
    claims: [
      claim('A', 7200, 1, { range: { start: 7200, end: 7201 } }),
      claim('B', 7200, 2, { range: { start: 7200, end: 7201 } }),
      claim('C', 7201, 3, { range: { start: 7200, end: 7201 } }),
    ],
    assigned: { 'm/A/service': 7200, 'm/B/service': 7200, 'm/C/service': 7201 },
    said: [
      'error m.yaml:2 agents[2]: port 7200 of B (service) is also used by A (service) on m and no free port is left in the range; widen machines.m.ports.range [port-conflict]',
    ],
    unresolved: true,
  },
  {
    name: 'the lock keeps a move where it was, even when the order would give the port to another',
    claims: [claim('A', 7300, 1), claim('B', 7300, 2)],
    lock: lockOf(
      { agent: 'A', port: 'service', wanted: 7300, assigned: 7305 },
      { agent: 'B', port: 'service', wanted: 7300, assigned: 7300 },
    ),
    assigned: { 'm/A/service': 7305, 'm/B/service': 7300 },
    said: [
      'info m.yaml:1 agents[1]: port 7300 of A (service) stays moved to 7305, as the port lock records [port-reassigned]',
    ],
    locked: ['A/service=7300->7305', 'B/service=7300->7300'],
  },
  {
    name: 'a lock entry on a machine set back to onConflict: error is not kept: the clash is reported',
    claims: [claim('A', 7300, 1, { onConflict: 'error' }), claim('B', 7300, 2, { onConflict: 'error' })],
    lock: lockOf({ agent: 'B', port: 'service', wanted: 7300, assigned: 7301 }),
    assigned: { 'm/A/service': 7300, 'm/B/service': 7300 },
    said: [
      'error m.yaml:2 agents[2]: port 7300 of B (service) is also used by A (service) on m (m.yaml:1); pick a free port or set machines.m.ports.onConflict: reassign [port-conflict]',
    ],
    unresolved: true,
    locked: [],
  },
  {
    name: 'a lock entry for a port wanted elsewhere now is not kept',
    claims: [claim('A', 7400, 1), claim('B', 7400, 2)],
    lock: lockOf({ agent: 'A', port: 'service', wanted: 7390, assigned: 7391 }),
    assigned: { 'm/A/service': 7400, 'm/B/service': 7401 },
    said: [
      'info m.yaml:2 agents[2]: port 7400 of B (service) is taken by A (service) on m; moved to 7401 [port-reassigned]',
    ],
  },
  {
    name: 'on the single host a clash inside one machine is left to that machine’s own report',
    claims: [claim('A', 7500, 1, { onConflict: 'error' }), claim('B', 7500, 2, { onConflict: 'error' })],
    opts: SINGLE,
    assigned: { 'm/A/service': 7500, 'm/B/service': 7500 },
    said: [],
  },
  {
    name: 'on the single host a clash across machines is a warning that says where',
    claims: [
      claim('A', 7500, 1, { onConflict: 'error' }),
      claim('B', 7500, 2, {
        onConflict: 'error',
        machine: 'pc2',
        at: { file: 'p.yaml', line: 2, column: 3, path: 'x' },
      }),
    ],
    opts: { ...SINGLE, consequence: '; the single-host files are not written' },
    assigned: { 'm/A/service': 7500, 'pc2/B/service': 7500 },
    said: [
      'warning p.yaml:2 x: port 7500 of B (service) is also used by A (service) on m (m.yaml:1) on the single host; pick a free port or set machines.pc2.ports.onConflict: reassign; the single-host files are not written [port-conflict]',
    ],
    unresolved: true,
  },
  {
    name: 'a move on the single host says so, and a fixed claim never moves',
    claims: [
      claim('error_bus_port', 7150, 1, { name: 'error_bus_port', role: 'extra', fixed: true, onConflict: 'reassign' }),
      claim('Bus', 7150, 2, { machine: 'pc2', at: { file: 'p.yaml', line: 2, column: 3, path: 'x' } }),
    ],
    opts: SINGLE,
    assigned: { 'm/error_bus_port/error_bus_port': 7150, 'pc2/Bus/service': 7151 },
    said: [
      "info p.yaml:2 x: port 7150 of Bus (service) is taken by 'error_bus_port' on m on the single host; moved to 7151 [port-reassigned]",
    ],
  },
  {
    name: 'a port the code decides keeps it; the movable one moves, even of an agent sorted before it',
    claims: [claim('Alpha', 5710, 2), claim('Nlu', 5710, 60, { role: 'health', name: 'health', byCode: true })],
    assigned: { 'm/Alpha/service': 5711, 'm/Nlu/health': 5710 },
    said: [
      'info m.yaml:2 agents[2]: port 5710 of Alpha (service) is taken by Nlu (health) on m; moved to 5711 [port-reassigned]',
    ],
    locked: ['Alpha/service=5710->5711'],
  },
  {
    name: 'two ports the code decides: an error naming both lines, and neither moves',
    claims: [
      claim('Alpha', 5710, 3, { role: 'health', name: 'health', byCode: true }),
      claim('Beta', 5710, 7, { role: 'health', name: 'health', byCode: true }),
    ],
    assigned: { 'm/Alpha/health': 5710, 'm/Beta/health': 5710 },
    said: [
      'error m.yaml:7 agents[7]: port 5710 of Beta (health) is bound by its code (m.yaml:7) and by the code of Alpha (health) (m.yaml:3): the code decides both, so moving either would send probes where nothing listens; pass the port to the base constructor (health_check_port=, port=) or read it from the config [port-conflict]',
    ],
    unresolved: true,
    locked: [],
  },
  {
    name: 'a lock that gave a movable claim the port the code now decides: the code keeps it, the other returns to its own',
    claims: [claim('Alpha', 7000, 2), claim('Nlu', 7001, 5, { role: 'health', name: 'health', byCode: true })],
    lock: lockOf({ agent: 'Alpha', port: 'service', wanted: 7000, assigned: 7001 }),
    assigned: { 'm/Alpha/service': 7000, 'm/Nlu/health': 7001 },
    said: [],
    locked: ['Alpha/service=7000->7000'],
  },
  {
    name: 'on a machine that does not reassign, the movable port is the one in error, naming the code’s',
    claims: [
      claim('Alpha', 5710, 2, { onConflict: 'error' }),
      claim('Nlu', 5710, 60, { role: 'health', name: 'health', byCode: true, onConflict: 'error' }),
    ],
    assigned: { 'm/Alpha/service': 5710, 'm/Nlu/health': 5710 },
    said: [
      'error m.yaml:2 agents[2]: port 5710 of Alpha (service) is also used by Nlu (health) on m (m.yaml:60); pick a free port or set machines.m.ports.onConflict: reassign [port-conflict]',
    ],
    unresolved: true,
    locked: [],
  },
  {
    name: 'a moved port skips a listener that follows a port the code decides (its HTTP at health + 1)',
    claims: [claim('Alpha', 5710, 2), claim('Nlu', 5710, 60, { role: 'health', name: 'health', byCode: true })],
    opts: { ...MACHINE, avoid: new Set([5711]) },
    assigned: { 'm/Alpha/service': 5712, 'm/Nlu/health': 5710 },
    said: [
      'info m.yaml:2 agents[2]: port 5710 of Alpha (service) is taken by Nlu (health) on m; moved to 5712 [port-reassigned]',
    ],
    locked: ['Alpha/service=5710->5712'],
  },
  {
    name: 'a port the code decides against a reserved listener: an error, since neither moves',
    claims: [
      claim('error_bus_port', 7150, 1, { name: 'error_bus_port', role: 'extra', fixed: true }),
      claim('Bus', 7150, 5, { byCode: true }),
    ],
    assigned: { 'm/error_bus_port/error_bus_port': 7150, 'm/Bus/service': 7150 },
    said: [
      "error m.yaml:5 agents[5]: port 7150 of Bus (service) is bound by its code (m.yaml:5) and by 'error_bus_port': the code decides it, so moving it would send probes where nothing listens; pass the port to the base constructor (health_check_port=, port=) or read it from the config [port-conflict]",
    ],
    unresolved: true,
    locked: [],
  },
  {
    name: 'on the single host, two machines’ ports the code decides: a warning naming the other machine',
    opts: SINGLE,
    claims: [
      claim('Alpha', 5710, 3, { machine: 'a', role: 'health', name: 'health', byCode: true }),
      claim('Beta', 5710, 7, { machine: 'b', role: 'health', name: 'health', byCode: true }),
    ],
    assigned: { 'a/Alpha/health': 5710, 'b/Beta/health': 5710 },
    said: [
      'warning m.yaml:7 agents[7]: port 5710 of Beta (health) is bound by its code (m.yaml:7) and by the code of Alpha (health) (m.yaml:3) on a on the single host: the code decides both, so moving either would send probes where nothing listens; pass the port to the base constructor (health_check_port=, port=) or read it from the config [port-conflict]',
    ],
    unresolved: true,
    locked: [],
  },
];

describe('allocatePorts', () => {
  it.each(ROWS)('$name', (row) => {
    const r = allocatePorts(row.claims, row.lock ?? EMPTY_LOCK, row.opts ?? MACHINE);
    expect(Object.fromEntries(row.claims.map((c) => [claimKey(c), r.assigned.get(claimKey(c))]))).toEqual(row.assigned);
    expect(r.diagnostics.map((d) => `${d.severity} ${formatDiagnostic(d)}`)).toEqual(row.said);
    expect(r.unresolved).toBe(row.unresolved ?? false);
    if (row.locked)
      expect(r.lock.map((e) => `${e.agent}/${e.port}=${e.wanted}->${e.assigned}`).sort()).toEqual(
        [...row.locked].sort(),
      );
    // The same claims in the other order: the same ports, the same words.
    const reversed = allocatePorts([...row.claims].reverse(), row.lock ?? EMPTY_LOCK, row.opts ?? MACHINE);
    expect([...reversed.assigned].sort()).toEqual([...r.assigned].sort());
    expect(reversed.diagnostics.map((d) => `${d.severity} ${formatDiagnostic(d)}`)).toEqual(row.said);
  });
});
