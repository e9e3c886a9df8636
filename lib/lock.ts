/**
 * The port lock, `agent-infra.lock.yaml` beside the spec: which port each claim holds on the hosts
 * where `onConflict: reassign` may move ports, so that ports in firewall rules do not shuffle when
 * agents come and go. Its types, reading, comparing and writing; nothing else touches the file.
 */
import { diag, type Diagnostic } from './diagnostics.ts';
import { readInput } from './io/read-input.ts';
import { parseYamlSource } from './io/yaml-source.ts';
import { writeFileAtomic } from './write.ts';

export const LOCK_FILE = 'agent-infra.lock.yaml';

/** A lock entry: on `host`, the claim `machine/agent/port` that wanted `wanted` holds `assigned`. */
export interface PortLockEntry {
  readonly host: string;
  readonly machine: string;
  readonly agent: string;
  readonly port: string;
  readonly wanted: number;
  readonly assigned: number;
}

/** The content of `agent-infra.lock.yaml`: every port of each host where ports can move. */
export interface PortLock {
  readonly version: 1;
  readonly ports: readonly PortLockEntry[];
}

export const EMPTY_LOCK: PortLock = { version: 1, ports: [] };

/**
 * Reads the lock at `file` (`shown` is its name in messages). A missing lock is empty; one that cannot
 * be read or has errors is ignored with a warning, and the plan assigns ports afresh.
 */
export function readLock(file: string, shown: string): { lock: PortLock; diagnostics: Diagnostic[] } {
  const read = readInput(file);
  if (!read.ok && read.code === 'missing-file') return { lock: EMPTY_LOCK, diagnostics: [] };
  if (!read.ok && read.reason.startsWith('is a directory')) {
    // Nothing can replace a directory with the lock file: synth would fail at its very end.
    return {
      lock: EMPTY_LOCK,
      diagnostics: [
        diag(
          'unreadable-file',
          'error',
          `the port lock is a directory, which synth cannot replace with the lock file; remove it`,
          { file: shown, line: 1, column: 1, path: '' },
        ),
      ],
    };
  }
  // `undefined` when the lock cannot be read or has errors (a duplicate key included); `null` when empty.
  let data: unknown;
  if (read.ok) data = parseLock(shown, read.text);
  if (data === null) return { lock: EMPTY_LOCK, diagnostics: [] };
  const ports = typeof data === 'object' && data !== null ? (data as Record<string, unknown>)['ports'] : undefined;
  const bad = Array.isArray(ports) ? ports.findIndex((e) => !isEntry(e)) : -1;
  if (Array.isArray(ports) && bad < 0)
    return { lock: { version: 1, ports: ports as PortLockEntry[] }, diagnostics: [] };
  const why = !read.ok
    ? `it ${read.reason}`
    : Array.isArray(ports)
      ? `entry ${bad + 1} is not {host, machine, agent, port, wanted, assigned} with ports from 1 to 65535`
      : data === undefined
        ? 'it does not parse'
        : `it has no 'ports' list`;
  return {
    lock: EMPTY_LOCK,
    diagnostics: [
      diag(
        'parse-error',
        'warning',
        `the port lock cannot be read and is ignored (${why}); delete it to have it written anew`,
        { file: shown, line: 1, column: 1, path: '' },
      ),
    ],
  };
}

const isPort = (v: unknown) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;
const isName = (v: unknown) => typeof v === 'string' && v.length > 0;

function isEntry(e: unknown): e is PortLockEntry {
  if (typeof e !== 'object' || e === null) return false;
  const r = e as Record<string, unknown>;
  return (
    isName(r['host']) &&
    isName(r['machine']) &&
    isName(r['agent']) &&
    isName(r['port']) &&
    isPort(r['wanted']) &&
    isPort(r['assigned'])
  );
}

const HEADER = `# Ports of the hosts where 'onConflict: reassign' may move them; kept stable across runs.\n# Written by 'agent-infra synth'; commit it ('agent-infra check --frozen-lock' fails when it is out of date).\n`;

/**
 * The lock file's text: YAML in its JSON form (every string quoted, so nothing reads as a boolean or a
 * number), one entry per line for readable diffs, so that reading the lock `synth` wrote takes
 * `JSON.parse` rather than a YAML parse of every entry.
 */
export function lockText(lock: PortLock): string {
  const field = (k: keyof PortLockEntry, e: PortLockEntry) => `"${k}": ${JSON.stringify(e[k])}`;
  const rows = lock.ports.map(
    (e) =>
      `  {${(['host', 'machine', 'agent', 'port', 'wanted', 'assigned'] as const).map((k) => field(k, e)).join(', ')}}`,
  );
  return `${HEADER}{"version": 1, "ports": [${rows.length ? `\n${rows.join(',\n')}\n` : ''}]}\n`;
}

/**
 * The lock's data: `JSON.parse` after the comment lines when the text is in the form `lockText`
 * writes, else (a lock edited by hand, or written in block style) the YAML reader. `undefined` when it
 * does not parse or has errors (a duplicate key included); `null` when empty.
 */
function parseLock(shown: string, text: string): unknown {
  let body = text;
  while (body.startsWith('#')) body = body.slice(body.indexOf('\n') + 1 || body.length);
  if (body.startsWith('{')) {
    try {
      return JSON.parse(body);
    } catch {
      // Not JSON (a flow mapping in YAML's own syntax): the YAML reader says.
    }
  }
  const src = parseYamlSource(shown, text, '1.2');
  return src.diagnostics.some((d) => d.severity === 'error') ? undefined : src.data;
}

const entryKey = (e: PortLockEntry) => `${e.host}: ${e.machine}/${e.agent} ${e.port}`;

/** What writing `next` over `current` would change, one line per entry: `+ added`, `- removed`, `~ moved`. */
export function lockChanges(current: PortLock, next: PortLock): string[] {
  const before = new Map(current.ports.map((e) => [entryKey(e), e]));
  const after = new Map(next.ports.map((e) => [entryKey(e), e]));
  const lines: string[] = [];
  for (const [k, e] of after) {
    const was = before.get(k);
    if (!was) lines.push(`+ ${k} ${e.assigned}`);
    else if (was.assigned !== e.assigned || was.wanted !== e.wanted)
      lines.push(
        `~ ${k} ${was.assigned} -> ${e.assigned}${was.wanted !== e.wanted ? ` (wanted ${was.wanted} -> ${e.wanted})` : ''}`,
      );
  }
  for (const [k, e] of before) if (!after.has(k)) lines.push(`- ${k} ${e.assigned}`);
  return lines.sort((a, b) => (a.slice(2) < b.slice(2) ? -1 : a.slice(2) > b.slice(2) ? 1 : 0));
}

/** Whether the file at `file` already holds `lock` as `lockText` writes it (an empty lock needs no file). */
export function lockIsCurrent(file: string, lock: PortLock): boolean {
  const read = readInput(file);
  const current = read.ok ? read.text : read.code === 'missing-file' ? '' : undefined;
  if (current === undefined) return false;
  return current === lockText(lock) || (lock.ports.length === 0 && current === '');
}

/** Writes the lock when it changed; returns whether it wrote. */
export function writeLock(file: string, lock: PortLock): boolean {
  if (lockIsCurrent(file, lock)) return false;
  writeFileAtomic(file, lockText(lock));
  return true;
}

/**
 * `lock-outdated` when the file at `file` does not hold `next`: an error where the lock must be current
 * (`check --frozen-lock`, for CI), else a note; it names what would change.
 */
export function lockOutdated(
  file: string,
  shown: string,
  current: PortLock,
  next: PortLock,
  frozen: boolean,
): Diagnostic | undefined {
  if (lockIsCurrent(file, next)) return undefined;
  const changes = lockChanges(current, next);
  const what =
    changes.length === 0
      ? 'its format would change'
      : `${changes.length} ${changes.length === 1 ? 'entry' : 'entries'} would change: ${changes.slice(0, 5).join(', ')}${changes.length > 5 ? `, and ${changes.length - 5} more` : ''}`;
  const fix = `run 'agent-infra synth', which writes it, and commit it`;
  return diag('lock-outdated', frozen ? 'error' : 'info', `the port lock is out of date: ${what}; ${fix}`, {
    file: shown,
    line: 1,
    column: 1,
    path: '',
  });
}
