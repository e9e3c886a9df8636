/**
 * The agents' source tree: each script read with the Python parser, its local imports followed to
 * files under the root (never outside it, links included), the framework its started class derives
 * from, and what it really binds, connects to and reads. Problems are diagnostics-to-be: each names
 * the file and the line.
 */
import { closeSync, fstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { relativePathProblem } from '../config/grammar.ts';
import { firstInvalidUtf8 } from '../io/read-input.ts';
import { FactsCache } from './cache.ts';
import {
  absoluteName,
  findIn,
  mainModule,
  resolveName,
  scriptPath,
  type ModuleRef,
  type Resolution,
} from './finder.ts';
import { STDLIB } from './stdlib.ts';
import { compileWithPython } from './cpython.ts';
import type { SyntaxProblem } from './tokens.ts';
import {
  readPython,
  type ArgValue,
  type ClassFact,
  type EndpointFact,
  type EnvRead,
  type PythonFacts,
} from './python.ts';

/** A script may be at most this large (the largest real one is well under 1 MiB). */
export const MAX_SCRIPT_BYTES = 4 * 2 ** 20;

export type SourceProblemCode =
  | 'missing-script'
  | 'unreadable-script'
  | 'script-syntax-error'
  | 'missing-module'
  | 'relative-import'
  | 'namespace-package';

export interface SourceProblem {
  readonly code: SourceProblemCode;
  /** Relative to the root, `/`-separated. */
  readonly file: string;
  readonly line: number;
  readonly message: string;
  /**
   * What the failure does to the agent: it stops the start (`fatal`), it fails only when the function
   * holding the import is called (`when-called`), or a `try` around the import lets the agent go on
   * (`handled`). Absent for notes that are no failure.
   */
  readonly outcome?: Outcome;
}

export type Outcome = 'fatal' | 'when-called' | 'handled';

/** Which health protocol the agent speaks: the BaseAgent family's, or its own server's. */
export type Framework = 'BaseAgent' | 'EnhancedBaseAgent' | 'none';

/** Where the agent's health socket really is, read from what the started class passes its base constructor. */
export type HealthPort =
  | { readonly kind: 'passed'; readonly value: ArgValue; readonly line: number }
  | { readonly kind: 'config'; readonly line: number }
  | { readonly kind: 'kwargs'; readonly line: number }
  | { readonly kind: 'port+1'; readonly port: ArgValue; readonly line: number }
  | { readonly kind: 'free-port'; readonly line: number };

export interface ScriptFacts {
  readonly script: string;
  readonly compiles: boolean;
  readonly framework: Framework;
  /** The started class and its bases up to the framework's, e.g. `NLUAgent -> EnhancedBaseAgent -> BaseAgent`. */
  readonly classChain: readonly string[];
  readonly health?: HealthPort;
  /** The `port=` the started class passes its base constructor, and the line of that call. */
  readonly servicePort?: { readonly value: ArgValue; readonly line: number };
  readonly binds: readonly (EndpointFact & { readonly file: string })[];
  readonly connects: readonly (EndpointFact & { readonly file: string })[];
  readonly envReads: readonly (EnvRead & { readonly file: string })[];
  /** Where the code talks to the Docker engine: it fails there without the engine's socket. */
  readonly dockerEngine: readonly { readonly text: string; readonly line: number; readonly file: string }[];
  /** HTTP servers the code starts (a Prometheus exporter), where: a port no config may name. */
  readonly httpServers: readonly { readonly port?: number; readonly line: number; readonly file: string }[];
  /** Sockets its code binds to a port the kernel picks. */
  readonly kernelPorts: readonly { readonly text: string; readonly line: number; readonly file: string }[];
  /** Local files the script needs (itself included), sorted. */
  readonly closure: readonly string[];
  /** Top-level names of imports that are not local (standard library or third-party), sorted. */
  readonly external: readonly string[];
  /** Each import that is not local, where it is (for the requirements check). */
  readonly externalImports: readonly {
    readonly module: string;
    readonly file: string;
    readonly line: number;
    readonly optional: boolean;
    /** What a failure of this import does to the agent (the worst of the ways the file is reached). */
    readonly outcome: Outcome;
  }[];
  readonly problems: readonly SourceProblem[];
  /**
   * Where each step of the start happens, in the order Python runs them (`file:line`): a module compiled
   * (its syntax error's line) or an import statement executed, each module once, at its first import.
   * The first fatal failure in this order is the one the agent dies of.
   */
  readonly startOrder: readonly string[];
}

/** The python3 that `python` names on PATH: its real path, size and modification time; undefined when there is none. */
function executableId(python: string): string | undefined {
  const dirs = python.includes('/') ? [''] : (process.env['PATH'] ?? '').split(':').filter(Boolean);
  for (const d of dirs) {
    try {
      const real = realpathSync.native(d ? join(d, python) : python);
      const st = statSync(real);
      if (st.isFile() && st.mode & 0o111) return `${real}:${st.size}:${st.mtimeMs}`;
    } catch {
      // Not in this folder.
    }
  }
  return undefined;
}

/** One tree: files are read and parsed once however many scripts import them. */
export class SourceTree {
  private readonly realRoot: string;
  private readonly modules = new Map<string, { facts?: PythonFacts; problem?: SourceProblem }>();
  /** The text of each file read, for CPython to judge. */
  private readonly texts = new Map<string, string>();
  /** CPython's verdict on each file it judged: its first error, or null when it compiles. */
  private readonly verdicts = new Map<string, SyntaxProblem | null>();
  /** The version of the python3 that judged, when one did. */
  judgedBy: string | undefined;
  /** Called with each file read whose verdict no cache holds (a judge can start on it at once). */
  onUnjudged: ((rel: string, text: string) => void) | undefined;

  constructor(
    readonly root: string,
    private readonly cache?: FactsCache,
    private readonly envHelpers?: ReadonlySet<string>,
  ) {
    this.realRoot = realpathSync.native(resolve(root));
  }

  /** The facts of one file (relative to the root), or why it cannot be read. */
  module(rel: string): { facts?: PythonFacts; problem?: SourceProblem } {
    const cached = this.modules.get(rel);
    if (cached) return cached;
    const read = this.read(rel);
    if (read.text !== undefined) {
      this.texts.set(rel, read.text);
      if (this.onUnjudged && this.pythonId && !this.cache?.getVerdict(this.verdictKey(read.text)))
        this.onUnjudged(rel, read.text);
    }
    const entry = read.text === undefined ? { problem: read.problem! } : { facts: this.facts(read.text) };
    this.modules.set(rel, entry);
    return entry;
  }

  /**
   * CPython as the parser of record: `python3` compiles every file read so far that it has not judged
   * (one process), and its first error, at its line in its words, replaces what agent-infra's own
   * reader found. True when a verdict differs from the own reader's (the walks must run again);
   * false too when no python3 can be run (the own reader's findings stand).
   */
  judgeWithPython(python = 'python3'): boolean {
    const pending = [...this.texts.keys()].filter((f) => !this.verdicts.has(f)).sort();
    if (pending.length === 0) return false;
    const id = python === 'python3' ? this.pythonId : executableId(python);
    if (!id) return false;
    const keyOf = (f: string) => this.verdictKey(this.texts.get(f)!, id);
    const known = (f: string) => this.cache?.getVerdict(keyOf(f));
    const fresh = pending.filter((f) => !known(f));
    const r = compileWithPython(
      fresh.map((f) => ({ name: f, bytes: Buffer.from(this.texts.get(f)!, 'utf8') })),
      python,
    );
    if (!r) return false;
    const judged = new Map(fresh.map((f, i) => [f, r.results[i]] as const));
    fresh.forEach((f, i) => this.cache?.setVerdict(keyOf(f), { verdict: r.results[i] ?? null, version: r.version }));
    let changed = false;
    for (const f of pending) {
      const cached = known(f);
      const verdict = cached ? cached.verdict : (judged.get(f) ?? null);
      this.judgedBy = cached?.version ?? r.version;
      this.verdicts.set(f, verdict);
      const entry = this.modules.get(f);
      if (!entry?.facts) continue;
      const ours = entry.facts.syntaxError;
      if (ours?.line !== verdict?.line || ours?.message !== verdict?.message) changed = true;
      const { syntaxError: _ours, ...rest } = entry.facts;
      this.modules.set(f, { facts: { ...rest, ...(verdict ? { syntaxError: verdict } : {}) } });
    }
    return changed;
  }

  /** The python3 on PATH (path, size, time), which judges; undefined when there is none. */
  get pythonId(): string | undefined {
    if (this.pythonIdMemo === undefined) this.pythonIdMemo = executableId('python3') ?? null;
    return this.pythonIdMemo ?? undefined;
  }

  private pythonIdMemo: string | null | undefined;

  /** A verdict is cached under the source and the python3 that gave it (its path, size and time). */
  private verdictKey(text: string, python = this.pythonId): string {
    return FactsCache.key(`cpython\0${python}\0${text}`);
  }

  /** Verdicts a judge gave on files read (by file), kept as if {@link judgeWithPython} had given them. */
  addVerdicts(version: string, verdicts: ReadonlyMap<string, SyntaxProblem | undefined>): void {
    for (const [rel, v] of verdicts) {
      const text = this.texts.get(rel);
      if (text !== undefined) this.cache?.setVerdict(this.verdictKey(text), { verdict: v ?? null, version });
    }
  }

  private facts(text: string): PythonFacts {
    if (!this.cache) return readPython(text, this.envHelpers);
    // The helpers change what is read: they are part of the key.
    const key = FactsCache.key(`${[...(this.envHelpers ?? [])].join(',')}\0${text}`);
    const hit = this.cache.get(key);
    if (hit) return hit;
    const facts = readPython(text, this.envHelpers);
    this.cache.set(key, facts);
    return facts;
  }

  /** What each path is (links resolved, only inside the root): imports ask about the same paths again and again. */
  private readonly kinds = new Map<string, 'file' | 'dir' | undefined>();

  private kind(rel: string): 'file' | 'dir' | undefined {
    if (this.kinds.has(rel)) return this.kinds.get(rel);
    let k: 'file' | 'dir' | undefined;
    // Most paths asked about do not exist (a module looked for in each folder of the path): a stat that
    // throws nothing answers those without the cost of an exception.
    if (!statSync(join(this.realRoot, rel), { throwIfNoEntry: false })) k = undefined;
    else
      try {
        const real = realpathSync.native(join(this.realRoot, rel));
        const st = this.inside(real) ? statSync(real) : undefined;
        k = st?.isFile() ? 'file' : st?.isDirectory() ? 'dir' : undefined;
      } catch {
        k = undefined;
      }
    this.kinds.set(rel, k);
    return k;
  }

  /** Whether `rel` is a regular file inside the root, its links resolved. */
  exists(rel: string): boolean {
    return this.kind(rel) === 'file';
  }

  private inside(real: string): boolean {
    return real === this.realRoot || real.startsWith(this.realRoot + sep);
  }

  private read(rel: string): { text?: string; problem?: SourceProblem } {
    const problem = (code: SourceProblemCode, message: string) => ({ problem: { code, file: rel, line: 1, message } });
    if (rel.split('/').includes('..')) return problem('unreadable-script', 'the path leaves the source tree');
    let real: string;
    try {
      real = realpathSync.native(join(this.realRoot, rel));
    } catch {
      return problem('missing-script', 'no such file under the source root');
    }
    if (!this.inside(real))
      return problem('unreadable-script', 'it is a link to a file outside the source root, which is never read');
    let fd: number;
    try {
      fd = openSync(real, 'r');
    } catch (e) {
      return problem('unreadable-script', `cannot be read (${(e as NodeJS.ErrnoException).code})`);
    }
    try {
      const st = fstatSync(fd);
      if (st.isDirectory()) return problem('unreadable-script', 'is a directory, not a script');
      if (!st.isFile()) return problem('unreadable-script', 'is not a regular file');
      if (st.size > MAX_SCRIPT_BYTES)
        return problem(
          'unreadable-script',
          `is ${(st.size / 2 ** 20).toFixed(1)} MiB, more than the ${MAX_SCRIPT_BYTES / 2 ** 20} MiB a script may be`,
        );
      const bytes = Buffer.alloc(st.size);
      let n = 0;
      while (n < st.size) {
        const got = readSync(fd, bytes, n, st.size - n, n);
        if (got === 0) break;
        n += got;
      }
      if (bytes.subarray(0, n).includes(0))
        return problem('unreadable-script', 'is a binary file (it holds NUL bytes), not Python source');
      const bad = firstInvalidUtf8(bytes.subarray(0, n));
      if (bad >= 0)
        return {
          problem: {
            code: 'unreadable-script',
            file: rel,
            line: bytes.subarray(0, bad).toString('latin1').split('\n').length,
            message: 'is not UTF-8, as Python source must be',
          },
        };
      return { text: bytes.subarray(0, n).toString('utf8') };
    } finally {
      closeSync(fd);
    }
  }

  /** Whether `rel` is a folder inside the root, its links resolved. */
  isDirectory(rel: string): boolean {
    return this.kind(rel) === 'dir';
  }
}

/** The local file of module `dotted` (`level` leading dots) imported by `file`, as the started script's Python finds it. */
type FileOf = (file: string, level: number, dotted: string) => string | undefined;

/** The local file a class `name` of module `file` comes from, following `from m import name` and module aliases. */
function classOrigin(
  fileOf: FileOf,
  file: string,
  facts: PythonFacts,
  written: string,
  depth = 0,
): { file: string; name: string } | undefined {
  const [head, ...rest] = written.split('.');
  // A name bound to another (`BaseClass = EnhancedBaseAgent if ok else BaseAgent`): the first that resolves.
  const alias =
    rest.length === 0 && depth < 5 && !facts.classes.some((c) => c.name === head)
      ? facts.aliases.get(head!)
      : undefined;
  if (alias) {
    for (const a of alias) {
      const o = classOrigin(fileOf, file, facts, a, depth + 1);
      if (o) return o;
    }
  }
  if (rest.length === 0) {
    if (facts.classes.some((c) => c.name === head)) return { file, name: head! };
    for (const imp of facts.imports) {
      const imported = imp.names.get(head!);
      if (imported === undefined) continue;
      const r = fileOf(file, imp.level, imp.module);
      if (r) return { file: r, name: imported };
    }
    return undefined;
  }
  // `module.Class` through `import a.b as m` or `from a import b`.
  for (const imp of facts.imports) {
    if (imp.bound === head && imp.names.size === 0) {
      const r = fileOf(file, imp.level, rest.length > 1 ? `${imp.module}.${rest.slice(0, -1).join('.')}` : imp.module);
      if (r) return { file: r, name: rest[rest.length - 1]! };
    }
    const sub = imp.names.get(head!);
    if (sub !== undefined) {
      const r = fileOf(file, imp.level, [imp.module, sub, ...rest.slice(0, -1)].filter(Boolean).join('.'));
      if (r) return { file: r, name: rest[rest.length - 1]! };
    }
  }
  return undefined;
}

/** The class and its local bases, first base first, up to one with no local base (at most 20 steps). */
function classChain(
  tree: SourceTree,
  fileOf: FileOf,
  file: string,
  cls: ClassFact,
): { name: string; file: string; cls: ClassFact }[] {
  const chain = [{ name: cls.name, file, cls }];
  let current = chain[0]!;
  for (let i = 0; i < 20; i++) {
    const facts = tree.module(current.file).facts;
    const base = current.cls.bases[0];
    if (!facts || !base) break;
    let origin = classOrigin(fileOf, current.file, facts, base);
    // A name a module imports and passes on (`from x import Base as B` in a module of aliases): follow it.
    for (let hop = 0; origin && hop < 5; hop++) {
      const there = tree.module(origin.file).facts;
      if (!there || there.classes.some((c) => c.name === origin!.name)) break;
      origin = classOrigin(fileOf, origin.file, there, origin.name);
    }
    const baseFacts = origin ? tree.module(origin.file).facts : undefined;
    const baseCls = baseFacts?.classes.find((c) => c.name === origin!.name);
    if (!origin || !baseCls || chain.some((c) => c.file === origin.file && c.name === origin.name)) break;
    current = { name: baseCls.name, file: origin.file, cls: baseCls };
    chain.push(current);
  }
  return chain;
}

/** Where the started class's health socket is, from its call to the base constructor. */
function healthPort(cls: ClassFact): HealthPort | undefined {
  const init = cls.baseInits[0];
  if (!init) return undefined;
  const hp = init.keywords.get('health_check_port');
  if (hp) return { kind: 'passed', value: hp, line: init.line };
  if (init.splat) return { kind: 'kwargs', line: init.line };
  if (cls.setsConfigFirst) return { kind: 'config', line: init.line };
  const port = init.keywords.get('port');
  return port ? { kind: 'port+1', port, line: init.line } : { kind: 'free-port', line: init.line };
}

/** How a module is reached from the script: what the `try`s on the way catch, and whether it runs at start. */
interface Reach {
  /** 0: nothing; 1: ImportError; 2: every Exception (a SyntaxError too). */
  readonly protect: 0 | 1 | 2;
  /** Through an import inside a function: it runs when the function is called. */
  readonly deferred: boolean;
}

const AT_START: Reach = { protect: 0, deferred: false };
const reachKey = (r: Reach) => r.protect * 2 + (r.deferred ? 1 : 0);

function through(r: Reach, imp: PythonFacts['imports'][number]): Reach {
  const own = imp.catchesAll ? 2 : imp.optional ? 1 : 0;
  return { protect: Math.max(r.protect, own) as Reach['protect'], deferred: r.deferred || imp.deferred };
}

/** What a failure that only a handler of level `needs` catches (1: ImportError, 2: SyntaxError) does when reached so. */
function outcomeOf(r: Reach, needs: 1 | 2): Outcome {
  return r.protect >= needs ? 'handled' : r.deferred ? 'when-called' : 'fatal';
}

const SEVERITY: Readonly<Record<Outcome, number>> = { handled: 0, 'when-called': 1, fatal: 2 };

/** Where in the start (ScriptFacts.startOrder) a failure at `file:line` happens; the end when it is not on the way. */
export function startStep(f: ScriptFacts, at: { readonly file: string; readonly line: number }): number {
  const i = f.startOrder.indexOf(`${at.file}:${at.line}`);
  return i < 0 ? Number.MAX_SAFE_INTEGER : i;
}

/**
 * The start as Python runs it: the script's module-level imports in line order, each local module run
 * at its first import (its own imports first, depth first), deferred ones (inside functions) not at all.
 */
function startOrder(w: Walk, tree: SourceTree, script: ModuleRef): string[] {
  const steps: string[] = [];
  const ran = new Set<string>();
  const run = (ref: ModuleRef, depth: number) => {
    if (ran.has(ref.file) || depth > 200) return;
    ran.add(ref.file);
    const { facts } = tree.module(ref.file);
    if (!facts) return;
    if (facts.syntaxError) {
      steps.push(`${ref.file}:${facts.syntaxError.line}`);
      return;
    }
    for (const imp of [...facts.imports].filter((i) => !i.deferred).sort((a, b) => a.line - b.line)) {
      steps.push(`${ref.file}:${imp.line}`);
      const r = resolveImport(w, ref, imp.level, imp.module);
      if (r.kind === 'missing') for (const m of r.modules) run(m, depth + 1);
      if (r.kind === 'local') for (const m of [...r.modules, ...submodules(w, ref, imp, r)]) run(m, depth + 1);
    }
  };
  run(script, 0);
  return steps;
}

/** What the walk over a script's closure gathers. */
interface Walk {
  readonly tree: SourceTree;
  /** The local folders of the script's `sys.path`. */
  readonly path: readonly string[];
  /** Whether a top-level name is the standard library's or an installed distribution's. */
  readonly elsewhere: (top: string) => boolean;
  /** Each problem once (by code, file, line), with the worst outcome of the ways it is reached. */
  readonly problems: Map<string, SourceProblem>;
  readonly closure: Set<string>;
  /** Each file of the closure as it is first imported. */
  readonly refs: Map<string, ModuleRef>;
  /** The ways each file was reached (a file is walked again only when reached in a new way). */
  readonly reached: Map<string, Set<number>>;
  readonly queue: { ref: ModuleRef; reach: Reach }[];
  readonly external: Set<string>;
  readonly externalImports: ScriptFacts['externalImports'][number][];
  readonly namespaces: Set<string>;
}

/** The module `file` is, as imported in this walk (a file never imported: its name from the root). */
function refOf(w: Walk, file: string): ModuleRef {
  const known = w.refs.get(file);
  if (known) return known;
  const parts = file.replace(/\.py$/, '').split('/');
  const isInit = parts[parts.length - 1] === '__init__';
  const name = (isInit ? parts.slice(0, -1) : parts).join('.');
  return { file, name, package: isInit ? name : parts.slice(0, -1).join('.') };
}

/** Records a problem; reached again, it keeps the worse outcome. */
function report(w: Walk, p: SourceProblem): void {
  const key = `${p.code} ${p.file}:${p.line}`;
  const before = w.problems.get(key);
  if (!before || (p.outcome && before.outcome && SEVERITY[p.outcome] > SEVERITY[before.outcome]))
    w.problems.set(key, p);
}

/** Resolves an import written in `importer`. */
function resolveImport(w: Walk, importer: ModuleRef, level: number, module: string): Resolution {
  const abs = absoluteName(importer, level, module);
  if ('error' in abs) return { kind: 'relative-error', message: abs.error };
  return resolveName(w.tree, w.path, abs.name, w.elsewhere);
}

/** Follows one import of `importer`: local modules are queued, a missing one reported, any other recorded. */
function follow(w: Walk, importer: ModuleRef, reach: Reach, imp: PythonFacts['imports'][number]): void {
  const file = importer.file;
  const next = through(reach, imp);
  const written = `${'.'.repeat(imp.level)}${imp.module}`;
  const r = resolveImport(w, importer, imp.level, imp.module);
  if (r.kind === 'external') {
    const outcome = outcomeOf(next, 1);
    const same = w.externalImports.findIndex((e) => e.module === r.top && e.file === file && e.line === imp.line);
    if (same < 0) {
      w.external.add(r.top);
      w.externalImports.push({ module: r.top, file, line: imp.line, optional: imp.optional, outcome });
    } else if (SEVERITY[outcome] > SEVERITY[w.externalImports[same]!.outcome])
      w.externalImports[same] = { ...w.externalImports[same]!, outcome };
    return;
  }
  if (r.kind === 'relative-error') {
    report(w, {
      code: 'relative-import',
      file,
      line: imp.line,
      message: `'from ${written} import' fails: ${r.message} (the file is started as a script, not imported from a package)`,
      outcome: outcomeOf(next, 1),
    });
    return;
  }
  for (const m of r.modules) w.queue.push({ ref: m, reach: next });
  if (r.kind === 'missing') {
    report(w, {
      code: 'missing-module',
      file,
      line: imp.line,
      message: `imports ${written}, but no module ${r.name} is under the source root (No module named '${r.name}')`,
      outcome: outcomeOf(next, 1),
    });
    return;
  }
  // A folder of the import's path without __init__.py: Python 3 imports it as a namespace package.
  const parts = r.modules.length ? r.modules[r.modules.length - 1]!.name.split('.') : [];
  for (let i = 1; i < parts.length; i++) {
    const name = parts.slice(0, i).join('.');
    if (r.modules.some((m) => m.name === name) || w.namespaces.has(name)) continue;
    w.namespaces.add(name);
    report(w, {
      code: 'namespace-package',
      file,
      line: imp.line,
      message: `imports ${written}, whose package ${name} is a folder without __init__.py: Python 3 imports it as a namespace package, which works, but packaging tools and some loaders miss it; add an empty __init__.py`,
    });
  }
  for (const ref of submodules(w, importer, imp, r)) w.queue.push({ ref, reach: next });
}

/** `from package import name`: the submodules of those names, which the import runs too (after the package). */
function submodules(
  w: Walk,
  importer: ModuleRef,
  imp: PythonFacts['imports'][number],
  r: Extract<Resolution, { kind: 'local' }>,
): ModuleRef[] {
  const last = r.last;
  if (last.kind === 'module') return [];
  const base = r.modules.length ? r.modules[r.modules.length - 1]! : undefined;
  const pkgName = base && last.kind === 'package' ? base.name : undefined;
  const out: ModuleRef[] = [];
  for (const n of imp.names.values()) {
    const sub = findIn(w.tree, n, last.locations);
    if (!sub || sub.kind === 'namespace') continue;
    const prefix = pkgName ?? resolvedName(w, importer, imp);
    const name = `${prefix}.${n}`;
    out.push({ file: sub.file, name, package: sub.kind === 'package' ? name : prefix });
  }
  return out;
}

/** The absolute name an import resolved to (for a namespace package, which has no module file). */
function resolvedName(w: Walk, importer: ModuleRef, imp: PythonFacts['imports'][number]): string {
  const abs = absoluteName(importer, imp.level, imp.module);
  return 'name' in abs ? abs.name : imp.module;
}

/** The class the script starts, its chain of bases, its framework and where its health socket is. */
function frameworkOf(
  tree: SourceTree,
  fileOf: FileOf,
  script: string,
  facts: PythonFacts,
): Pick<ScriptFacts, 'framework' | 'classChain' | 'health' | 'servicePort'> {
  const startedName =
    facts.started.find((n) => facts.classes.some((c) => c.name === n)) ?? facts.classes[facts.classes.length - 1]?.name;
  const started = facts.classes.find((c) => c.name === startedName);
  const names = started ? classChain(tree, fileOf, script, started).map((c) => c.name) : [];
  const framework: Framework = names.includes('EnhancedBaseAgent')
    ? 'EnhancedBaseAgent'
    : names.includes('BaseAgent')
      ? 'BaseAgent'
      : 'none';
  const health = started && framework !== 'none' ? healthPort(started) : undefined;
  const init = started && framework !== 'none' ? started.baseInits[0] : undefined;
  const port = init?.keywords.get('port');
  return {
    framework,
    classChain: names,
    ...(health ? { health } : {}),
    ...(init && port ? { servicePort: { value: port, line: init.line } } : {}),
  };
}

/**
 * Everything agent-infra reads of one agent's script and its local import closure. `elsewhere` tells
 * a top-level name the standard library or an installed distribution has (default: the standard library).
 */
export function readScript(
  tree: SourceTree,
  script: string,
  elsewhere: (top: string) => boolean = (top) => STDLIB.has(top),
): ScriptFacts {
  const main = mainModule(script);
  const w: Walk = {
    tree,
    path: scriptPath(script),
    elsewhere,
    problems: new Map(),
    closure: new Set(),
    refs: new Map(),
    reached: new Map(),
    queue: [{ ref: main, reach: AT_START }],
    external: new Set(),
    externalImports: [],
    namespaces: new Set(),
  };
  const binds: ScriptFacts['binds'][number][] = [];
  const connects: ScriptFacts['connects'][number][] = [];
  const envReads: ScriptFacts['envReads'][number][] = [];
  const httpServers: ScriptFacts['httpServers'][number][] = [];
  const kernelPorts: ScriptFacts['kernelPorts'][number][] = [];
  const dockerEngine: ScriptFacts['dockerEngine'][number][] = [];
  const mainFacts = tree.module(script);
  if (mainFacts.problem)
    return {
      script,
      startOrder: [],
      compiles: false,
      framework: 'none',
      classChain: [],
      binds,
      connects,
      envReads,
      httpServers,
      kernelPorts,
      dockerEngine,
      closure: [],
      external: [],
      externalImports: [],
      problems: [{ ...mainFacts.problem, outcome: 'fatal' }],
    };
  while (w.queue.length) {
    const { ref, reach } = w.queue.shift()!;
    const file = ref.file;
    const ways = w.reached.get(file) ?? new Set<number>();
    if (ways.has(reachKey(reach))) continue;
    const first = ways.size === 0;
    ways.add(reachKey(reach));
    w.reached.set(file, ways);
    if (first) {
      // Every file of the closure is a COPY source: its name must be one a Dockerfile can write.
      const badName = relativePathProblem(file);
      if (badName) {
        report(w, {
          code: 'unreadable-script',
          file,
          line: 1,
          message: `its path ${badName}, so no image can copy it; rename it`,
        });
        continue;
      }
      w.closure.add(file);
      w.refs.set(file, ref);
    } else if (!w.closure.has(file)) continue;
    const { facts, problem } = tree.module(file);
    if (!facts) {
      if (problem) report(w, { ...problem, outcome: outcomeOf(reach, 2) });
      continue;
    }
    if (facts.syntaxError) {
      // Python runs nothing of a file that does not compile: its imports, binds and connects never happen.
      report(w, {
        code: 'script-syntax-error',
        file,
        line: facts.syntaxError.line,
        message: facts.syntaxError.message,
        outcome: outcomeOf(reach, 2),
      });
      continue;
    }
    if (first) {
      for (const b of facts.binds) binds.push({ ...b, file });
      for (const c of facts.connects) connects.push({ ...c, file });
      for (const e of facts.envReads) envReads.push({ ...e, file });
      for (const h of facts.httpServers ?? []) httpServers.push({ ...h, file });
      for (const k of facts.kernelPorts ?? []) kernelPorts.push({ ...k, file });
      for (const d of facts.dockerEngine ?? []) dockerEngine.push({ ...d, file });
    }
    for (const imp of facts.imports) follow(w, ref, reach, imp);
  }
  const fileOf: FileOf = (file, level, dotted) => {
    const r = resolveImport(w, refOf(w, file), level, dotted);
    return r.kind === 'local' && r.last.kind !== 'namespace' ? r.modules[r.modules.length - 1]!.file : undefined;
  };
  const byFileLine = <T extends { file: string; line: number }>(a: T, b: T) =>
    a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line;
  return {
    script,
    startOrder: startOrder(w, tree, refOf(w, script)),
    compiles: ![...w.problems.values()].some((p) => p.code === 'script-syntax-error' && p.file === script),
    ...frameworkOf(tree, fileOf, script, mainFacts.facts!),
    binds: binds.sort(byFileLine),
    connects: connects.sort(byFileLine),
    envReads: envReads.sort(byFileLine),
    httpServers: httpServers.sort(byFileLine),
    kernelPorts: kernelPorts.sort(byFileLine),
    dockerEngine: dockerEngine.sort(byFileLine),
    closure: [...w.closure].sort(),
    external: [...w.external].sort(),
    externalImports: w.externalImports.sort(byFileLine),
    problems: [...w.problems.values()].sort(byFileLine),
  };
}
