/**
 * A cache of the facts of Python files by the SHA-256 of their content, so that a check whose
 * scripts did not change reads none of them again. It lives in `node_modules/.cache/agent-infra`
 * of the working folder when there is one, else in `$XDG_CACHE_HOME/agent-infra` (or
 * `~/.cache/agent-infra`); it is only ever a cache: a missing, stale or broken file is ignored.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../write.ts';
import type { PythonFacts } from './python.ts';
import type { SyntaxProblem } from './tokens.ts';

/** Bumped whenever what the reader finds in a file changes. */
const READER_VERSION = 10;

export function cacheDir(cwd: string): string {
  if (existsSync(join(cwd, 'node_modules'))) return join(cwd, 'node_modules', '.cache', 'agent-infra');
  return join(process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'agent-infra');
}

// Maps (import names, keywords, aliases) as tagged entry lists in JSON.
const replacer = (_k: string, v: unknown) => (v instanceof Map ? { $map: [...v.entries()] } : v);
const reviver = (_k: string, v: unknown) =>
  v && typeof v === 'object' && '$map' in v ? new Map((v as { $map: [unknown, unknown][] }).$map) : v;

/** What CPython said of one source: its first error, or null; and its version. */
export interface Verdict {
  readonly verdict: SyntaxProblem | null;
  readonly version: string;
}

export class FactsCache {
  private readonly file: string;
  private readonly entries = new Map<string, PythonFacts | Verdict>();
  private readonly used = new Set<string>();
  private changed = false;

  constructor(dir: string) {
    this.file = join(dir, `python-facts-v${READER_VERSION}.json`);
    try {
      const data = JSON.parse(readFileSync(this.file, 'utf8'), reviver) as Record<string, PythonFacts | Verdict>;
      for (const [k, v] of Object.entries(data)) this.entries.set(k, v);
    } catch {
      // No cache yet, or one that cannot be read: start empty.
    }
  }

  static key(text: string): string {
    return createHash('sha256').update(text).digest('hex');
  }

  get(key: string): PythonFacts | undefined {
    const f = this.entries.get(key);
    if (!f || 'verdict' in f) return undefined;
    this.used.add(key);
    return f;
  }

  /** CPython's verdict on a source, cached under a key that names the python3 that judged. */
  getVerdict(key: string): Verdict | undefined {
    const v = this.entries.get(key);
    if (!v || !('verdict' in v)) return undefined;
    this.used.add(key);
    return v;
  }

  setVerdict(key: string, v: Verdict): void {
    this.entries.set(key, v);
    this.used.add(key);
    this.changed = true;
  }

  set(key: string, facts: PythonFacts): void {
    this.entries.set(key, facts);
    this.used.add(key);
    this.changed = true;
  }

  /** Writes the entries this run used (others are dropped), when any was added; a failure to write is no error. */
  save(): void {
    if (!this.changed) return;
    try {
      writeFileAtomic(
        this.file,
        JSON.stringify(Object.fromEntries([...this.entries].filter(([k]) => this.used.has(k))), replacer),
      );
    } catch {
      // A read-only cache folder only costs the next run its speed.
    }
  }
}
