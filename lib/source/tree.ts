/**
 * The agents' source tree: each script read with the Python parser, its local imports followed to
 * files under the root (never outside it, links included), the framework its started class derives
 * from, and what it really binds, connects to and reads. Problems are diagnostics-to-be: each names
 * the file and the line.
 */
import { closeSync, fstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { join, posix, resolve, sep } from 'node:path';
import { relativePathProblem } from '../config/grammar.ts';
import { firstInvalidUtf8 } from '../io/read-input.ts';
import { FactsCache } from './cache.ts';
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
  'missing-script' | 'unreadable-script' | 'script-syntax-error' | 'missing-module' | 'namespace-package';

export interface SourceProblem {
  readonly code: SourceProblemCode;
  /** Relative to the root, `/`-separated. */
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

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
  readonly binds: readonly (EndpointFact & { readonly file: string })[];
  readonly connects: readonly (EndpointFact & { readonly file: string })[];
  readonly envReads: readonly (EnvRead & { readonly file: string })[];
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
  }[];
  readonly problems: readonly SourceProblem[];
}

/** One tree: files are read and parsed once however many scripts import them. */
export class SourceTree {
  private readonly realRoot: string;
  private readonly modules = new Map<string, { facts?: PythonFacts; problem?: SourceProblem }>();

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
    const entry = read.text === undefined ? { problem: read.problem! } : { facts: this.facts(read.text) };
    this.modules.set(rel, entry);
    return entry;
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

  /**
   * The local file of module `dotted` imported from `from` (relative, `level` dots), or undefined
   * when it is not local. `local` says whether its top-level package is part of the tree.
   */
  resolve(from: string, level: number, dotted: string): { file?: string; local: boolean } {
    const parts = dotted ? dotted.split('.') : [];
    const bases: string[] = [];
    if (level > 0) {
      let dir = posix.dirname(from);
      for (let i = 1; i < level; i++) dir = posix.dirname(dir);
      bases.push(dir === '.' ? '' : dir);
    } else {
      // The root is on PYTHONPATH; Python puts the script's own folder first on sys.path.
      bases.push('', posix.dirname(from) === '.' ? '' : posix.dirname(from));
    }
    for (const base of bases) {
      const stem = posix.join(base, ...parts);
      for (const f of parts.length ? [`${stem}.py`, `${stem}/__init__.py`] : [`${stem}/__init__.py`]) {
        const rel = posix.normalize(f).replace(/^\.\//, '');
        if (this.exists(rel)) return { file: rel, local: true };
      }
    }
    const top = parts[0];
    const local = level > 0 || (top !== undefined && (this.exists(`${top}.py`) || this.isDir(top)));
    return { local };
  }

  private isDir(rel: string): boolean {
    return this.kind(rel) === 'dir';
  }
}

/** The local file a class `name` of module `file` comes from, following `from m import name` and module aliases. */
function classOrigin(
  tree: SourceTree,
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
      const o = classOrigin(tree, file, facts, a, depth + 1);
      if (o) return o;
    }
  }
  if (rest.length === 0) {
    if (facts.classes.some((c) => c.name === head)) return { file, name: head! };
    for (const imp of facts.imports) {
      const imported = imp.names.get(head!);
      if (imported === undefined) continue;
      const r = tree.resolve(file, imp.level, imp.module);
      if (r.file) return { file: r.file, name: imported };
    }
    return undefined;
  }
  // `module.Class` through `import a.b as m` or `from a import b`.
  for (const imp of facts.imports) {
    if (imp.bound === head && imp.names.size === 0) {
      const r = tree.resolve(
        file,
        imp.level,
        rest.length > 1 ? `${imp.module}.${rest.slice(0, -1).join('.')}` : imp.module,
      );
      if (r.file) return { file: r.file, name: rest[rest.length - 1]! };
    }
    const sub = imp.names.get(head!);
    if (sub !== undefined) {
      const r = tree.resolve(file, imp.level, [imp.module, sub, ...rest.slice(0, -1)].filter(Boolean).join('.'));
      if (r.file) return { file: r.file, name: rest[rest.length - 1]! };
    }
  }
  return undefined;
}

/** The class and its local bases, first base first, up to one with no local base (at most 20 steps). */
function classChain(tree: SourceTree, file: string, cls: ClassFact): { name: string; file: string; cls: ClassFact }[] {
  const chain = [{ name: cls.name, file, cls }];
  let current = chain[0]!;
  for (let i = 0; i < 20; i++) {
    const facts = tree.module(current.file).facts;
    const base = current.cls.bases[0];
    if (!facts || !base) break;
    const origin = classOrigin(tree, current.file, facts, base);
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

/** Everything agent-infra reads of one agent's script and its local import closure. */
/** What the walk over a script's closure gathers. */
interface Walk {
  readonly tree: SourceTree;
  readonly problems: SourceProblem[];
  readonly closure: Set<string>;
  readonly queue: string[];
  readonly external: Set<string>;
  readonly externalImports: ScriptFacts['externalImports'][number][];
  readonly namespaces: Set<string>;
}

/** Follows one import of `file`: a local file is queued, a missing one reported, any other recorded. */
function follow(w: Walk, file: string, imp: PythonFacts['imports'][number]): void {
  const base = w.tree.resolve(file, imp.level, imp.module);
  if (!base.local) {
    w.external.add(imp.module.split('.')[0]!);
    w.externalImports.push({ module: imp.module.split('.')[0]!, file, line: imp.line, optional: imp.optional });
    return;
  }
  if (!base.file && imp.module) {
    w.problems.push({
      code: 'missing-module',
      file,
      line: imp.line,
      message: `imports ${'.'.repeat(imp.level)}${imp.module}, which is no file under the source root`,
    });
    return;
  }
  // A package's __init__ and each imported submodule that is a file.
  if (base.file) w.queue.push(base.file);
  // A folder of the import's path without __init__.py: Python 3 imports it as a namespace package.
  if (base.file && imp.level === 0) {
    const parts = imp.module.split('.');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!base.file.startsWith(`${dir}/`) || w.tree.exists(`${dir}/__init__.py`) || w.namespaces.has(dir)) continue;
      w.namespaces.add(dir);
      w.problems.push({
        code: 'namespace-package',
        file,
        line: imp.line,
        message: `imports ${imp.module}, whose folder ${dir}/ has no __init__.py: Python 3 imports it as a namespace package, which works, but packaging tools and some loaders miss it; add an empty ${dir}/__init__.py`,
      });
    }
  }
  for (const n of imp.names.values()) {
    const r = w.tree.resolve(file, imp.level, imp.module ? `${imp.module}.${n}` : n);
    if (r.file) w.queue.push(r.file);
  }
}

/** The class the script starts, its chain of bases, its framework and where its health socket is. */
function frameworkOf(
  tree: SourceTree,
  script: string,
  facts: PythonFacts,
): Pick<ScriptFacts, 'framework' | 'classChain' | 'health'> {
  const startedName =
    facts.started.find((n) => facts.classes.some((c) => c.name === n)) ?? facts.classes[facts.classes.length - 1]?.name;
  const started = facts.classes.find((c) => c.name === startedName);
  const names = started ? classChain(tree, script, started).map((c) => c.name) : [];
  const framework: Framework = names.includes('EnhancedBaseAgent')
    ? 'EnhancedBaseAgent'
    : names.includes('BaseAgent')
      ? 'BaseAgent'
      : 'none';
  const health = started && framework !== 'none' ? healthPort(started) : undefined;
  return { framework, classChain: names, ...(health ? { health } : {}) };
}

/** Everything agent-infra reads of one agent's script and its local import closure. */
export function readScript(tree: SourceTree, script: string): ScriptFacts {
  const w: Walk = {
    tree,
    problems: [],
    closure: new Set(),
    queue: [script],
    external: new Set(),
    externalImports: [],
    namespaces: new Set(),
  };
  const binds: ScriptFacts['binds'][number][] = [];
  const connects: ScriptFacts['connects'][number][] = [];
  const envReads: ScriptFacts['envReads'][number][] = [];
  const main = tree.module(script);
  if (main.problem)
    return {
      script,
      compiles: false,
      framework: 'none',
      classChain: [],
      binds,
      connects,
      envReads,
      closure: [],
      external: [],
      externalImports: [],
      problems: [main.problem],
    };
  while (w.queue.length) {
    const file = w.queue.shift()!;
    if (w.closure.has(file)) continue;
    // Every file of the closure is a COPY source: its name must be one a Dockerfile can write.
    const badName = relativePathProblem(file);
    if (badName) {
      w.problems.push({
        code: 'unreadable-script',
        file,
        line: 1,
        message: `its path ${badName}, so no image can copy it; rename it`,
      });
      continue;
    }
    w.closure.add(file);
    // Importing a module runs the __init__.py of each package around it.
    for (let dir = posix.dirname(file); dir !== '.'; dir = posix.dirname(dir))
      if (tree.exists(`${dir}/__init__.py`)) w.queue.push(`${dir}/__init__.py`);
    const { facts, problem } = tree.module(file);
    if (!facts) {
      if (problem) w.problems.push(problem);
      continue;
    }
    if (facts.syntaxError)
      w.problems.push({
        code: 'script-syntax-error',
        file,
        line: facts.syntaxError.line,
        message: facts.syntaxError.message,
      });
    for (const b of facts.binds) binds.push({ ...b, file });
    for (const c of facts.connects) connects.push({ ...c, file });
    for (const e of facts.envReads) envReads.push({ ...e, file });
    for (const imp of facts.imports) follow(w, file, imp);
  }
  const byFileLine = <T extends { file: string; line: number }>(a: T, b: T) =>
    a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line;
  return {
    script,
    compiles: !w.problems.some((p) => p.code === 'script-syntax-error' && p.file === script),
    ...frameworkOf(tree, script, main.facts!),
    binds: binds.sort(byFileLine),
    connects: connects.sort(byFileLine),
    envReads: envReads.sort(byFileLine),
    closure: [...w.closure].sort(),
    external: [...w.external].sort(),
    externalImports: w.externalImports.sort(byFileLine),
    problems: w.problems.sort(byFileLine),
  };
}
