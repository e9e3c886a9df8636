/** Port allocation per host: conflicts are errors unless the machine says `reassign`; reassigned ports stay put via the lock. */
import { diag, type Diagnostic, type Severity, type SourceRef } from '../diagnostics.ts';
import { byString } from './names.ts';
import type { PortLock, PortLockEntry } from '../lock.ts';

/** What a port is for: the agent's service, its health check, or an extra listener from its config. */
export type PortRole = 'service' | 'health' | 'extra';

/** One port an agent (or a reserved listener such as `error_bus_port`) wants on a host. */
export interface PortClaim {
  /** `machine/owner/name` ({@link claimKey}), when the caller has built it already. */
  readonly key?: string;
  readonly machine: string;
  /** Agent name, or a reserved owner such as `error_bus_port`. */
  readonly owner: string;
  readonly name: string;
  readonly role: PortRole;
  readonly wanted: number;
  readonly at: SourceRef;
  readonly onConflict: 'error' | 'reassign';
  /** Range that a reassigned port is taken from; default: the ports above the wanted one. */
  readonly range?: { readonly start: number; readonly end: number };
  /** Reserved listeners never move. */
  readonly fixed?: boolean;
  /** A port nobody declared (a derived health port): it yields to every declared one. */
  readonly soft?: boolean;
  /**
   * The agent's code decides this port (a literal it binds, or one computed from another, such as a
   * BaseAgent's health socket at port + 1): it is never moved, since the agent would not follow. A
   * movable port that collides with it moves instead.
   */
  readonly byCode?: boolean;
}

export interface Allocation {
  /** `machine/owner/name` -> port. */
  readonly assigned: ReadonlyMap<string, number>;
  readonly lock: readonly PortLockEntry[];
  readonly diagnostics: readonly Diagnostic[];
  /** Whether a conflict was left unresolved. */
  readonly unresolved: boolean;
}

export const claimKey = (c: { machine: string; owner: string; name: string }) => `${c.machine}/${c.owner}/${c.name}`;
/** A claim's key: the one it carries, else built. */
export const claimKeyOf = (c: PortClaim) => c.key ?? claimKey(c);

const roleOrder: Record<PortRole, number> = { service: 0, health: 1, extra: 2 };

function compareClaims(a: PortClaim, b: PortClaim): number {
  if (!!a.fixed !== !!b.fixed) return a.fixed ? -1 : 1;
  if (!!a.byCode !== !!b.byCode) return a.byCode ? -1 : 1;
  if (!!a.soft !== !!b.soft) return a.soft ? 1 : -1;
  return (
    byString(a.machine, b.machine) ||
    byString(a.owner, b.owner) ||
    roleOrder[a.role] - roleOrder[b.role] ||
    byString(a.name, b.name)
  );
}

export interface AllocateOptions {
  readonly host: string;
  /** Severity of an unresolved conflict. */
  readonly severity: Severity;
  /** Report only conflicts between claims of different machines (the single host). */
  readonly crossMachineOnly?: boolean;
  /** Text added to an unresolved conflict's message. */
  readonly consequence?: string;
  /** Ports a moved claim is never given: listeners that are no claim, such as one the code binds at a port it decides + 1. */
  readonly avoid?: ReadonlySet<number>;
}

/**
 * Gives every claim a port on one host. The claim that keeps a contested port is the one the lock
 * names, else the first in (machine, agent, role) order: independent of the order of the input.
 */
export function allocatePorts(claims: readonly PortClaim[], previous: PortLock, opts: AllocateOptions): Allocation {
  const { host } = opts;
  const ds: Diagnostic[] = [];
  const lockFor = new Map<string, PortLockEntry>();
  for (const e of previous.ports) if (e.host === host) lockFor.set(`${e.machine}/${e.agent}/${e.port}`, e);
  const sorted = [...claims].sort(compareClaims);
  const holder = new Map<number, PortClaim>();
  const assigned = new Map<string, number>();
  const contested = new Set<string>();
  const toMove: { claim: PortClaim; keeper: PortClaim }[] = [];
  let unresolved = false;

  // Locked claims first: a port a previous run settled stays with the claim it went to; a move only
  // while the claim may still move (a machine set back to `onConflict: error` has its conflicts reported).
  // A port the code decides is never the lock's to give to another claim.
  const byCode = new Set(sorted.filter((c) => c.byCode).map((c) => c.wanted));
  const locked = sorted.filter((c) => {
    const e = lockFor.get(claimKeyOf(c));
    return (
      e !== undefined &&
      e.wanted === c.wanted &&
      (c.byCode || !byCode.has(e.assigned)) &&
      (e.assigned === c.wanted || (canMoveClaim(c) && inRange(c, e.assigned)))
    );
  });
  for (const c of locked) {
    const e = lockFor.get(claimKeyOf(c))!;
    if (holder.has(e.assigned)) continue;
    holder.set(e.assigned, c);
    assigned.set(claimKeyOf(c), e.assigned);
    contested.add(claimKeyOf(c));
    if (e.assigned !== c.wanted) {
      ds.push(
        diag(
          'port-reassigned',
          'info',
          `port ${c.wanted} of ${c.owner} (${c.name}) stays moved to ${e.assigned}${opts.crossMachineOnly ? ' on the single host' : ''}, as the port lock records`,
          c.at,
        ),
      );
    }
  }
  const wantedPorts = new Set([...sorted.map((c) => c.wanted), ...(opts.avoid ?? [])]);
  for (const c of sorted) {
    if (assigned.has(claimKeyOf(c))) continue;
    const keeper = holder.get(c.wanted);
    if (!keeper) {
      holder.set(c.wanted, c);
      assigned.set(claimKeyOf(c), c.wanted);
      continue;
    }
    if (opts.crossMachineOnly && keeper.machine === c.machine) {
      // Already reported (and left to the user) by the machine's own allocation.
      assigned.set(claimKeyOf(c), c.wanted);
      continue;
    }
    if (canMoveClaim(c)) {
      toMove.push({ claim: c, keeper });
      continue;
    }
    unresolved = true;
    assigned.set(claimKeyOf(c), c.wanted);
    if (c.byCode && (keeper.byCode || keeper.fixed)) {
      ds.push(
        diag(
          'port-conflict',
          opts.severity,
          `port ${c.wanted} of ${describeOwner(c)} is bound by its code (${c.at.file}:${c.at.line}) and ${keeper.byCode ? `by the code of ${describeOwner(keeper)} (${keeper.at.file}:${keeper.at.line})` : `by ${describeOwner(keeper)}`}${keeper.machine !== c.machine || opts.crossMachineOnly ? ` on ${keeper.machine}` : ''}${opts.crossMachineOnly ? ' on the single host' : ''}: the code decides ${keeper.byCode ? 'both' : 'it'}, so moving ${keeper.byCode ? 'either' : 'it'} would send probes where nothing listens; pass the port to the base constructor (health_check_port=, port=) or read it from the config${opts.consequence ?? ''}`,
          c.at,
        ),
      );
      continue;
    }
    const what =
      c.owner === keeper.owner && c.machine === keeper.machine
        ? `its own ${keeper.name} port`
        : `${describeOwner(keeper)} on ${keeper.machine}`;
    ds.push(
      diag(
        'port-conflict',
        opts.severity,
        `port ${c.wanted} of ${describeOwner(c)} is also used by ${what} (${keeper.at.file}:${keeper.at.line})${opts.crossMachineOnly ? ' on the single host' : ''}; pick a free port or set machines.${c.machine}.ports.onConflict: reassign${opts.consequence ?? ''}`,
        c.at,
      ),
    );
  }
  const lock: PortLockEntry[] = [];
  for (const { claim, keeper } of toMove) {
    const port = lowestFree(claim, holder, wantedPorts);
    if (port === undefined) {
      unresolved = true;
      assigned.set(claimKeyOf(claim), claim.wanted);
      ds.push(
        diag(
          'port-conflict',
          opts.severity,
          `port ${claim.wanted} of ${describeOwner(claim)} is also used by ${describeOwner(keeper)} on ${keeper.machine} and no free port is left in the range; widen machines.${claim.machine}.ports.range`,
          claim.at,
        ),
      );
      continue;
    }
    holder.set(port, claim);
    assigned.set(claimKeyOf(claim), port);
    contested.add(claimKeyOf(keeper));
    contested.add(claimKeyOf(claim));
    ds.push(
      diag(
        'port-reassigned',
        'info',
        `port ${claim.wanted} of ${claim.owner} (${claim.name}) is taken by ${describeOwner(keeper)} on ${keeper.machine}${opts.crossMachineOnly ? ' on the single host' : ''}; moved to ${port}`,
        claim.at,
      ),
    );
  }
  // Where ports can move, every claim is locked: a new agent then never takes a port an existing one holds.
  const canMove = toMove.length > 0 || sorted.some((c) => canMoveClaim(c) && !c.soft);
  for (const c of sorted) {
    if (c.fixed || c.byCode || !(canMove || contested.has(claimKeyOf(c)))) continue;
    lock.push({
      host,
      machine: c.machine,
      agent: c.owner,
      port: c.name,
      wanted: c.wanted,
      assigned: assigned.get(claimKeyOf(c))!,
    });
  }
  return { assigned, lock, diagnostics: ds, unresolved };
}

/** Whether the allocator may give the claim another port than it wants. */
function canMoveClaim(c: PortClaim): boolean {
  return c.onConflict === 'reassign' && !c.fixed && !c.byCode;
}

function describeOwner(c: PortClaim): string {
  return c.fixed ? `'${c.owner}'` : `${c.owner} (${c.name})`;
}

function inRange(c: PortClaim, port: number): boolean {
  return c.range ? port >= c.range.start && port <= c.range.end : port >= 1 && port <= 65535;
}

function lowestFree(
  c: PortClaim,
  holder: ReadonlyMap<number, PortClaim>,
  wanted: ReadonlySet<number>,
): number | undefined {
  const start = c.range?.start ?? c.wanted + 1;
  const end = c.range?.end ?? 65535;
  for (let p = start; p <= end; p++) if (!holder.has(p) && !wanted.has(p)) return p;
  return undefined;
}
