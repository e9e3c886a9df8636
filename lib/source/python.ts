/**
 * Reads one Python module with a real parser (tree-sitter's Python grammar, run as WebAssembly) and
 * returns the facts agent-infra needs of it: whether it compiles (with the line CPython reports),
 * what it imports, its classes and their bases, what its classes pass to their base constructor,
 * the endpoints it binds and connects to, and the environment variables it reads.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Language, Parser, type Node } from 'web-tree-sitter';
import { tokenProblem, type SyntaxProblem } from './tokens.ts';
import { ZMQ_SOCKET_TYPES, type ZmqSocketType } from './zmq.ts';

export type { SyntaxProblem } from './tokens.ts';

/** `import a.b as c` (level 0, module `a.b`) or `from ..x import y` (level 2, module `x`, names `y`). */
export interface ImportFact {
  readonly level: number;
  readonly module: string;
  /** For `from m import a as b`: local name `b` -> imported name `a`; empty for `import m`. */
  readonly names: ReadonlyMap<string, string>;
  /** For `import a.b as c`: the name the module is bound to (`c`, or `a` without `as`). */
  readonly bound?: string;
  readonly line: number;
  /** Inside a `try` whose handler catches ImportError (or any exception) and goes on: the module may be absent. */
  readonly optional: boolean;
  /** Inside a `try` whose handler catches every Exception (SyntaxError too) and goes on. */
  readonly catchesAll: boolean;
  /** Inside a function: it runs when the function is called, not when the module is imported. */
  readonly deferred: boolean;
}

/** A value passed as an argument: an integer literal, a string literal, or the expression's text. */
export type ArgValue =
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'str'; readonly value: string }
  | { readonly kind: 'expr'; readonly text: string }
  /** A variable the code reads (`int(os.getenv("X", "5642"))`), with the default it falls back to. */
  | { readonly kind: 'env'; readonly name: string; readonly default?: number; readonly text: string };

/** A call to the base class's constructor (`super().__init__(...)` or `Base.__init__(self, ...)`). */
export interface BaseInit {
  readonly keywords: ReadonlyMap<string, ArgValue>;
  /** Whether `**kwargs` is passed on (the base then gets whatever the caller gave). */
  readonly splat: boolean;
  readonly line: number;
}

export interface ClassFact {
  readonly name: string;
  /** The bases as written (`BaseAgent`, `core.BaseAgent`). */
  readonly bases: readonly string[];
  readonly baseInits: readonly BaseInit[];
  /** Whether it assigns `self.config` before its first base constructor call. */
  readonly setsConfigFirst: boolean;
  readonly line: number;
}

/** A `bind(...)` or `connect(...)` of a ZMQ-style endpoint `tcp://HOST:PORT` (port undefined when not a literal). */
export interface EndpointFact {
  readonly host: string;
  /** The host as written, before any name in it is evaluated (`{PC2_IP}`), when it differs. */
  readonly hostWritten?: string;
  readonly port?: number;
  readonly text: string;
  readonly line: number;
  /** The ZMQ socket type bound or connected (`PUB`, `REQ`...), where the code makes it plain. */
  readonly socketType?: ZmqSocketType;
}

export interface EnvRead {
  readonly name: string;
  readonly default?: ArgValue;
  readonly line: number;
}

export interface PythonFacts {
  readonly syntaxError?: SyntaxProblem;
  readonly imports: readonly ImportFact[];
  readonly classes: readonly ClassFact[];
  /** Classes the module instantiates at its top level or under `if __name__ == "__main__":`. */
  readonly started: readonly string[];
  readonly binds: readonly EndpointFact[];
  readonly connects: readonly EndpointFact[];
  readonly envReads: readonly EnvRead[];
  /** Where the module talks to the Docker engine (`docker.from_env()`, `DockerClient(...)`, the socket's path). */
  readonly dockerEngine: readonly { readonly text: string; readonly line: number }[];
  /** HTTP servers the module starts (`start_http_server(9105)` of prometheus_client): their port where it can be told. */
  readonly httpServers: readonly { readonly port?: number; readonly line: number }[];
  /** Sockets bound to a port the kernel picks (`bind((host, 0))`, pyzmq's `bind_to_random_port`): nothing outside can know it. */
  readonly kernelPorts?: readonly { readonly text: string; readonly line: number }[];
  /** Module-level names bound to other names (`Base = EnhancedBaseAgent if ok else BaseAgent`): the candidates, first first. */
  readonly aliases: ReadonlyMap<string, readonly string[]>;
}

let parser: Parser | undefined;

/** Loads the parser once (a few tens of milliseconds); then {@link readPython} is synchronous. */
export async function initPython(): Promise<void> {
  if (parser) return;
  const require = createRequire(import.meta.url);
  try {
    await Parser.init();
  } catch (e) {
    // V8 reserves about 10 GiB of address space for a WebAssembly memory unless its trap handler is off.
    if (e instanceof RangeError)
      throw new RangeError(
        `${e.message} (the Python parser is WebAssembly: under an address-space limit, run node with --disable-wasm-trap-handler)`,
        { cause: e },
      );
    throw e;
  }
  const grammar = await Language.load(
    join(dirname(require.resolve('tree-sitter-python/package.json')), 'tree-sitter-python.wasm'),
  );
  const p = new Parser();
  p.setLanguage(grammar);
  parser = p;
}

const line = (n: Node) => n.startPosition.row + 1;

/** A node's named children (the bindings type them as possibly null). */
const kids = (n: Node | null | undefined): Node[] => (n ? n.namedChildren.filter((c): c is Node => c !== null) : []);

/** The value of a string literal without interpolation, or undefined. */
function stringValue(n: Node | null | undefined): string | undefined {
  if (!n || n.type !== 'string') return undefined;
  if (kids(n).some((c) => c.type === 'interpolation')) return undefined;
  return kids(n)
    .filter((c) => c.type === 'string_content')
    .map((c) => c.text)
    .join('');
}

function argValue(n: Node): ArgValue {
  if (n.type === 'integer' && /^\d+$/.test(n.text)) return { kind: 'int', value: Number(n.text) };
  const s = stringValue(n);
  return s !== undefined ? { kind: 'str', value: s } : { kind: 'expr', text: n.text };
}

/**
 * A port passed to the base constructor, as far as the code decides it: a literal (also through names
 * assigned before, `int()`, and `d.get("port", N)` of a dict literal), or the variable it reads with its
 * default (through names and `int()` too), else the expression's text.
 */
function portArg(n: Node): ArgValue {
  const literal = argValue(n);
  if (literal.kind !== 'expr') return literal;
  const env = envOf(n, 0);
  if (env) return { kind: 'env', ...env, text: n.text };
  const v = evaluate(n);
  return v !== undefined && /^\d+$/.test(String(v)) ? { kind: 'int', value: Number(v) } : literal;
}

/** The variable an expression reads through `os.getenv`/`os.environ.get` (under `int()`, names, parentheses), and its default. */
function envOf(n: Node | null | undefined, depth: number): { name: string; default?: number } | undefined {
  if (!n || depth > 12) return undefined;
  if (n.type === 'parenthesized_expression') return envOf(kids(n)[0], depth + 1);
  if (n.type === 'identifier') return envOf(assignedValue(n, n.text), depth + 1);
  if (n.type !== 'call') return undefined;
  const f = n.childForFieldName('function')?.text;
  const args = kids(n.childForFieldName('arguments'));
  if (f === 'int' || f === 'str') return envOf(args[0], depth + 1);
  if (!f || !ENV_GETTERS.has(f)) return undefined;
  const name = stringValue(args[0]);
  if (name === undefined) return undefined;
  const d = args[1] && args[1].type !== 'keyword_argument' ? evaluate(args[1]) : undefined;
  return d !== undefined && /^\d+$/.test(String(d)) ? { name, default: Number(d) } : { name };
}

/** The types of node the readers look at, gathered in one pass of a cursor over the tree. */
const INDEXED = new Set([
  'import_statement',
  'import_from_statement',
  'class_definition',
  'call',
  'subscript',
  'assignment',
  'raise_statement',
]);
let index: Map<string, Node[]> | undefined;

/** How deep the tree goes, and the first line at that depth. */
let deepest = { depth: 0, line: 1 };

function buildIndex(root: Node): Map<string, Node[]> {
  const out = new Map<string, Node[]>([...INDEXED].map((t) => [t, []]));
  deepest = { depth: 0, line: 1 };
  let depth = 0;
  const c = root.walk();
  try {
    for (;;) {
      if (INDEXED.has(c.nodeType)) out.get(c.nodeType)!.push(c.currentNode);
      if (depth > deepest.depth) deepest = { depth, line: c.startPosition.row + 1 };
      if (c.gotoFirstChild()) {
        depth++;
        continue;
      }
      while (!c.gotoNextSibling()) {
        if (!c.gotoParent()) return out;
        depth--;
      }
    }
  } finally {
    c.delete();
  }
}

/**
 * The depth of syntax tree at which CPython 3.11 stops compiling a module: "maximum recursion depth
 * exceeded during compilation" (its compiler allows 3 x the recursion limit of 1000, less the frames
 * of whoever compiles). Measured: `python3 script.py` fails from 2999 nested expressions (below the 3
 * nodes of a statement); the same module imported fails from 2972. The larger figure is taken, so no
 * module is called broken that runs: one imported at 2972 to 2998 levels is missed.
 */
export const MAX_TREE_DEPTH = 2999 + 3;

/** Every node inside `within` of one of `types` (each indexed), in source order. */
function descendants(within: Node, types: ReadonlySet<string>): Node[] {
  const out: Node[] = [];
  for (const t of types)
    for (const n of index!.get(t) ?? [])
      if (n.startIndex >= within.startIndex && n.endIndex <= within.endIndex) out.push(n);
  return types.size > 1 ? out.sort((a, b) => a.startIndex - b.startIndex) : out;
}

/** What an `except` clause catches of a failed import, when its body goes on (no `raise`, no exit). */
function handlerCatches(h: Node): 'all' | 'import' | undefined {
  const m = /^except\s*(:|\(?([^:]*))/.exec(h.text);
  if (!m) return undefined;
  const types = m[1] === ':' ? 'BaseException' : (m[2] ?? '');
  const all = /\b(Exception|BaseException|SyntaxError)\b/.test(types);
  if (!all && !/\b(ImportError|ModuleNotFoundError)\b/.test(types)) return undefined;
  // A handler that raises again or exits stops the agent all the same.
  const body = h.namedChildren.find((c) => c?.type === 'block');
  if (body && descendants(body, new Set(['raise_statement'])).length > 0) return undefined;
  if (
    body &&
    descendants(body, new Set(['call'])).some((c) =>
      /^(sys\.exit|exit|os\._exit|quit)$/.test(c.childForFieldName('function')?.text ?? ''),
    )
  )
    return undefined;
  return all ? 'all' : 'import';
}

/** Where an import runs: inside a function (when called), and which enclosing `try` handlers let a failure pass. */
function guardOf(n: Node): { optional: boolean; catchesAll: boolean; deferred: boolean } {
  let optional = false;
  let catchesAll = false;
  for (let p: Node | null = n.parent; p; p = p.parent) {
    if (p.type === 'function_definition' || p.type === 'lambda') {
      // A try around the def does not guard its body, which runs later.
      return { optional, catchesAll, deferred: true };
    }
    if (
      p.type === 'block' &&
      p.parent?.type === 'try_statement' &&
      p.parent.childForFieldName('body')?.startIndex === p.startIndex
    ) {
      for (const h of kids(p.parent).filter((c) => c.type === 'except_clause')) {
        const c = handlerCatches(h);
        if (c) optional = true;
        if (c === 'all') catchesAll = true;
      }
    }
  }
  return { optional, catchesAll, deferred: false };
}

function readImports(root: Node): ImportFact[] {
  const out: ImportFact[] = [];
  for (const n of descendants(root, new Set(['import_statement', 'import_from_statement']))) {
    if (n.type === 'import_statement') {
      for (const c of kids(n)) {
        const dotted = c.type === 'aliased_import' ? c.childForFieldName('name')! : c;
        const alias = c.type === 'aliased_import' ? c.childForFieldName('alias')?.text : undefined;
        out.push({
          level: 0,
          module: dotted.text,
          names: new Map(),
          bound: alias ?? dotted.text.split('.')[0]!,
          line: line(n),
          ...guardOf(n),
        });
      }
      continue;
    }
    const mod = n.childForFieldName('module_name');
    if (!mod) continue;
    let level = 0;
    let module = mod.text;
    if (mod.type === 'relative_import') {
      level = kids(mod).find((c) => c.type === 'import_prefix')?.text.length ?? 1;
      module = kids(mod).find((c) => c.type === 'dotted_name')?.text ?? '';
    }
    const names = new Map<string, string>();
    for (const c of n.childrenForFieldName('name').filter((x): x is Node => x !== null)) {
      if (c.type === 'aliased_import') names.set(c.childForFieldName('alias')!.text, c.childForFieldName('name')!.text);
      else names.set(c.text, c.text);
    }
    out.push({ level, module, names, line: line(n), ...guardOf(n) });
  }
  return out;
}

/** Whether `call` calls the base constructor: `super().__init__(...)` or `X.__init__(self, ...)`. */
function isBaseInit(call: Node): boolean {
  const f = call.childForFieldName('function');
  if (f?.type !== 'attribute' || f.childForFieldName('attribute')?.text !== '__init__') return false;
  const obj = f.childForFieldName('object')!;
  if (obj.type === 'call' && obj.childForFieldName('function')?.text === 'super') return true;
  return kids(call.childForFieldName('arguments'))[0]?.text === 'self';
}

function readClasses(root: Node): ClassFact[] {
  const out: ClassFact[] = [];
  for (const cls of descendants(root, new Set(['class_definition']))) {
    const bases = kids(cls.childForFieldName('superclasses'))
      .filter((b) => b.type !== 'keyword_argument')
      .map((b) => b.text);
    const body = cls.childForFieldName('body');
    const baseInits: BaseInit[] = [];
    let firstInit = Infinity;
    for (const call of body ? descendants(body, new Set(['call'])) : []) {
      if (!isBaseInit(call)) continue;
      const keywords = new Map<string, ArgValue>();
      let splat = false;
      for (const a of kids(call.childForFieldName('arguments'))) {
        if (a.type === 'keyword_argument')
          keywords.set(a.childForFieldName('name')!.text, portArg(a.childForFieldName('value')!));
        if (a.type === 'dictionary_splat') splat = true;
      }
      baseInits.push({ keywords, splat, line: line(call) });
      firstInit = Math.min(firstInit, call.startIndex);
    }
    const setsConfigFirst = (body ? descendants(body, new Set(['assignment'])) : []).some(
      (a) => a.childForFieldName('left')?.text === 'self.config' && a.startIndex < firstInit,
    );
    out.push({ name: cls.childForFieldName('name')!.text, bases, baseInits, setsConfigFirst, line: line(cls) });
  }
  return out;
}

/**
 * The value an expression has when the module runs with no environment set: literals, the names
 * assigned before it (in its function, then at module level), `int()`/`str()`, the defaults of
 * `os.getenv`/`os.environ.get`, `+` of strings, f-strings, and `a, b = X.split(sep)`. Undefined
 * where it depends on anything else. `depth` bounds chains of names.
 */
function evaluate(n: Node | null | undefined, depth = 0): string | number | undefined {
  if (!n || depth > 12) return undefined;
  switch (n.type) {
    case 'integer':
      return /^\d+$/.test(n.text) ? Number(n.text) : undefined;
    case 'string': {
      let out = '';
      for (const c of kids(n)) {
        if (c.type === 'string_content') out += c.text;
        else if (c.type === 'interpolation') {
          const v = evaluate(kids(c)[0], depth + 1);
          if (v === undefined) return undefined;
          out += String(v);
        }
      }
      return out;
    }
    case 'parenthesized_expression':
      return evaluate(kids(n)[0], depth + 1);
    case 'binary_operator': {
      const [a, b] = [
        evaluate(n.childForFieldName('left'), depth + 1),
        evaluate(n.childForFieldName('right'), depth + 1),
      ];
      return n.childForFieldName('operator')?.text === '+' && typeof a === typeof b && a !== undefined
        ? (a as never) + (b as never)
        : undefined;
    }
    case 'identifier':
      return evaluate(assignedValue(n, n.text), depth + 1);
    case 'attribute':
      return evaluate(selfAttribute(n), depth + 1);
    case 'call': {
      const f = n.childForFieldName('function')?.text;
      const args = kids(n.childForFieldName('arguments'));
      if (f === 'int') {
        const v = evaluate(args[0], depth + 1);
        return v !== undefined && /^\d+$/.test(String(v)) ? Number(v) : undefined;
      }
      if (f === 'str') {
        const v = evaluate(args[0], depth + 1);
        return v === undefined ? undefined : String(v);
      }
      if (f && ENV_GETTERS.has(f))
        return args[1] && args[1].type !== 'keyword_argument' ? evaluate(args[1], depth + 1) : undefined;
      // `d.get("key", default)` of a dict literal the code assigned: the key's value, else the default.
      const obj = n.childForFieldName('function');
      if (obj?.type === 'attribute' && obj.childForFieldName('attribute')?.text === 'get') {
        const target = obj.childForFieldName('object');
        const dict = target?.type === 'identifier' ? assignedValue(target, target.text) : undefined;
        const key = stringValue(args[0]);
        if (dict?.type !== 'dictionary' || key === undefined) return undefined;
        if (kids(dict).some((c) => c.type === 'dictionary_splat')) return undefined;
        const pair = kids(dict).find((c) => c.type === 'pair' && stringValue(c.childForFieldName('key')) === key);
        if (pair) return evaluate(pair.childForFieldName('value'), depth + 1);
        return args[1] && args[1].type !== 'keyword_argument' ? evaluate(args[1], depth + 1) : undefined;
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

/** The expression last assigned to `name` before `at`: in the enclosing blocks first, then the module. */
function assignedValue(at: Node, name: string): Node | undefined {
  for (let scope: Node | null = at.parent; scope; scope = scope.parent) {
    if (scope.type !== 'block' && scope.type !== 'module') continue;
    let found: Node | undefined;
    let later: Node | undefined;
    for (const stmt of kids(scope)) {
      const after =
        stmt.startIndex > at.startIndex || (stmt.startIndex <= at.startIndex && stmt.endIndex >= at.endIndex);
      // In a function only what ran before counts; a module's names are all set by the time its functions run.
      if (after && scope.type !== 'module') break;
      const a = stmt.type === 'expression_statement' ? kids(stmt)[0] : undefined;
      if (a?.type !== 'assignment') continue;
      const left = a.childForFieldName('left');
      const right = a.childForFieldName('right');
      let value: Node | undefined;
      if (left?.type === 'identifier' && left.text === name && right) value = right;
      if ((left?.type === 'pattern_list' || left?.type === 'tuple_pattern') && right) {
        const i = kids(left).findIndex((x) => x.text === name);
        if (i >= 0) value = splitPart(right, i);
      }
      if (value && !after) found = value;
      if (value && after) later ??= value;
    }
    if (found ?? later) return found ?? later;
  }
  return undefined;
}

/**
 * The one value a class gives `self.NAME`: the right side of its only assignment to it in the class's
 * methods. Undefined where the class assigns it twice or more (which value holds depends on what ran),
 * and where the use comes before the assignment in the same method (Python has not set it yet).
 */
function selfAttribute(n: Node): Node | undefined {
  if (n.type !== 'attribute' || n.childForFieldName('object')?.text !== 'self') return undefined;
  let cls: Node | null = n.parent;
  while (cls && cls.type !== 'class_definition') cls = cls.parent;
  if (!cls) return undefined;
  const assigned = descendants(cls, new Set(['assignment'])).filter(
    (a) => a.childForFieldName('left')?.text === n.text,
  );
  if (assigned.length !== 1) return undefined;
  // In the method that assigns it, only a use after the assignment sees the value (another method runs later).
  const method = (x: Node) => {
    let f: Node | null = x.parent;
    while (f && f.type !== 'function_definition') f = f.parent;
    return f?.startIndex;
  };
  if (method(assigned[0]!) === method(n) && assigned[0]!.startIndex > n.startIndex) return undefined;
  return assigned[0]!.childForFieldName('right') ?? undefined;
}

/** For `a, b = X.split(sep)`: a string node standing for part `i`, when X evaluates. */
function splitPart(right: Node, i: number): Node | undefined {
  const f = right.type === 'call' ? right.childForFieldName('function') : null;
  if (f?.type !== 'attribute' || f.childForFieldName('attribute')?.text !== 'split') return undefined;
  const whole = evaluate(f.childForFieldName('object'));
  const sep = evaluate(kids(right.childForFieldName('arguments'))[0]);
  if (typeof whole !== 'string' || typeof sep !== 'string') return undefined;
  const part = whole.split(sep)[i];
  return part === undefined ? undefined : (syntheticString(part) as unknown as Node);
}

/** A stand-in for a string node holding `value` (what `evaluate` reads of one). */
function syntheticString(value: string) {
  const content = { type: 'string_content', text: value, namedChildren: [] };
  return {
    type: 'string',
    text: JSON.stringify(value),
    namedChildren: [content],
    parent: null,
    startIndex: 0,
    endIndex: 0,
  };
}

/** `tcp://HOST:PORT` of a bind or connect argument: evaluated where it can be, else the interpolations as written. */
function endpoint(arg: Node | undefined): Omit<EndpointFact, 'line'> | undefined {
  if (!arg) return undefined;
  const value = evaluate(arg);
  const node =
    arg.type === 'identifier' ? assignedValue(arg, arg.text) : arg.type === 'attribute' ? selfAttribute(arg) : arg;
  // An interpolation as written; `self.NAME` the class assigns once, as its value is written (`{self.host}`
  // set to `get_pc2_ip()` reads `{get_pc2_ip()}`: the machine it names).
  const asWritten = (e: Node | undefined) => `{${((e && selfAttribute(e)) ?? e)?.text ?? ''}}`;
  const written =
    node?.type === 'string'
      ? kids(node)
          .map((c) => (c.type === 'string_content' ? c.text : c.type === 'interpolation' ? asWritten(kids(c)[0]) : ''))
          .join('')
      : undefined;
  // Each interpolation evaluated where it can be: `tcp://*:{self.port}` stays, `{PORT}` becomes 7150.
  const partly =
    node?.type === 'string'
      ? kids(node)
          .map((c) =>
            c.type === 'string_content'
              ? c.text
              : c.type === 'interpolation'
                ? String(evaluate(kids(c)[0]) ?? asWritten(kids(c)[0]))
                : '',
          )
          .join('')
      : undefined;
  const text = typeof value === 'string' ? value : (partly ?? written);
  if (text === undefined) return undefined;
  const m = /^tcp:\/\/([^:/]+):(.+)$/.exec(text);
  if (!m) return undefined;
  const hostWritten = written ? /^tcp:\/\/([^:/]+):/.exec(written)?.[1] : undefined;
  return {
    host: m[1]!,
    ...(hostWritten !== undefined && hostWritten !== m[1] ? { hostWritten } : {}),
    text,
    ...(/^\d+$/.test(m[2]!) ? { port: Number(m[2]) } : {}),
  };
}

const SOCKET_TYPE = new RegExp(`^(?:zmq\\.)?(?:SocketType\\.)?(${ZMQ_SOCKET_TYPES.join('|')})$`);

/** `ctx.socket(zmq.PUB)`: the type it makes, else undefined. */
function madeSocket(n: Node | null | undefined): ZmqSocketType | undefined {
  const f = n?.type === 'call' ? n.childForFieldName('function') : undefined;
  if (f?.type !== 'attribute' || f.childForFieldName('attribute')?.text !== 'socket') return undefined;
  const arg = kids(n!.childForFieldName('arguments'))[0];
  return (arg && SOCKET_TYPE.exec(arg.text)?.[1]) as ZmqSocketType | undefined;
}

/**
 * The socket type of what `.bind()`/`.connect()` is called on: the socket made right there, or the one
 * assigned to the name (in its function, then the module) or to `self.NAME` (once in the class).
 */
function socketTypeOf(obj: Node | null | undefined): ZmqSocketType | undefined {
  if (!obj) return undefined;
  if (obj.type === 'call') return madeSocket(obj);
  if (obj.type === 'identifier') return madeSocket(assignedValue(obj, obj.text));
  if (obj.type === 'attribute') return madeSocket(selfAttribute(obj));
  return undefined;
}

const ENV_GETTERS = new Set(['os.environ.get', 'environ.get', 'os.getenv', 'getenv']);

/** The Docker SDK's ways to reach the engine, as scripts write them. */
const DOCKER_CLIENTS = /^(docker\.)?(from_env|DockerClient|APIClient)$|^docker\.client\.from_env$/;

function readCalls(root: Node, envHelpers: ReadonlySet<string>) {
  const binds: EndpointFact[] = [];
  const connects: EndpointFact[] = [];
  const envReads: EnvRead[] = [];
  const httpServers: { port?: number; line: number }[] = [];
  const dockerEngine: { text: string; line: number }[] = [];
  const kernelPorts: { text: string; line: number }[] = [];
  for (const n of descendants(root, new Set(['call', 'subscript']))) {
    if (n.type === 'subscript') {
      const name =
        n.childForFieldName('value')?.text === 'os.environ' ? stringValue(n.childForFieldName('subscript')) : undefined;
      if (name !== undefined) envReads.push({ name, line: line(n) });
      continue;
    }
    const f = n.childForFieldName('function');
    const args = kids(n.childForFieldName('arguments'));
    if (!f) continue;
    if (ENV_GETTERS.has(f.text) || envHelpers.has(f.text)) {
      const name = stringValue(args[0] ?? null);
      if (name !== undefined)
        envReads.push({
          name,
          ...(args[1] && args[1].type !== 'keyword_argument' ? { default: argValue(args[1]) } : {}),
          line: line(n),
        });
      continue;
    }
    const method = f.type === 'attribute' ? f.childForFieldName('attribute')?.text : undefined;
    // A client of the SDK, or a socket connected to the engine's path (a mere existence check is neither).
    if (
      DOCKER_CLIENTS.test(f.text) ||
      (method === 'connect' && /docker\.sock$/.test(stringValue(args[0] ?? null) ?? ''))
    ) {
      dockerEngine.push({ text: `${f.text}()`, line: line(n) });
      continue;
    }
    if (f.text === 'start_http_server' || method === 'start_http_server') {
      const port = args[0] && args[0].type !== 'keyword_argument' ? evaluate(args[0]) : undefined;
      httpServers.push({ ...(typeof port === 'number' && Number.isInteger(port) ? { port } : {}), line: line(n) });
      continue;
    }
    // A BSD socket's (host, 0), or pyzmq's random port: the kernel picks it at run time.
    const pair = args[0]?.type === 'tuple' ? kids(args[0]) : [];
    if (method === 'bind_to_random_port' || (method === 'bind' && pair.length === 2 && evaluate(pair[1]!) === 0)) {
      kernelPorts.push({ text: n.text.replace(/\s+/g, ' ').slice(0, 80), line: line(n) });
      continue;
    }
    if (method === 'bind' || method === 'connect') {
      const e = endpoint(args[0]);
      const socketType = socketTypeOf(f.childForFieldName('object'));
      if (e)
        (method === 'bind' ? binds : connects).push({ ...e, ...(socketType ? { socketType } : {}), line: line(n) });
    }
  }
  return { binds, connects, envReads, httpServers, dockerEngine, kernelPorts };
}

/** Module-level assignments of a name, or of `A if cond else B`, to a name (also inside top-level if/try blocks). */
function readAliases(root: Node): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const names = (n: Node | null, depth = 0): string[] => {
    if (!n || depth > 12) return [];
    if (n.type === 'identifier' || n.type === 'attribute') return [n.text];
    if (n.type === 'conditional_expression')
      return kids(n)
        .filter((_, i) => i !== 1)
        .flatMap((c) => names(c, depth + 1));
    return [];
  };
  // Statements only, with a stack of our own: a module may nest deeper than the JavaScript stack.
  const stack: Node[] = [root];
  for (let n = stack.pop(); n; n = stack.pop()) {
    const children = kids(n);
    for (const c of children) {
      if (c.type === 'assignment' && c.childForFieldName('left')?.type === 'identifier') {
        const targets = names(c.childForFieldName('right'));
        if (targets.length) {
          const name = c.childForFieldName('left')!.text;
          out.set(name, [...(out.get(name) ?? []), ...targets.filter((t) => !(out.get(name) ?? []).includes(t))]);
        }
      }
    }
    for (const c of children.reverse()) if (STATEMENT_HOLDERS.has(c.type)) stack.push(c);
  }
  return out;
}

/** The nodes whose children may be module-level statements (no function or class bodies, no expressions). */
const STATEMENT_HOLDERS = new Set([
  'module',
  'block',
  'expression_statement',
  'if_statement',
  'elif_clause',
  'else_clause',
  'try_statement',
  'except_clause',
  'except_group_clause',
  'finally_clause',
  'with_statement',
  'for_statement',
  'while_statement',
  'match_statement',
  'case_clause',
]);

/** Classes instantiated at the top level or under `if __name__ == "__main__":` (also inside a `main()` it calls). */
function readStarted(root: Node, classes: readonly ClassFact[]): string[] {
  const names = new Set(classes.map((c) => c.name));
  const scopes: Node[] = [];
  for (const top of kids(root)) {
    if (
      top.type === 'if_statement' &&
      /__name__\s*==\s*['"]__main__['"]/.test(top.childForFieldName('condition')?.text ?? '')
    )
      scopes.push(top);
    if (top.type === 'function_definition' && top.childForFieldName('name')?.text === 'main') scopes.push(top);
    if (top.type === 'expression_statement') scopes.push(top);
  }
  const started: string[] = [];
  for (const s of scopes)
    for (const call of descendants(s, new Set(['call']))) {
      const f = call.childForFieldName('function')?.text;
      if (f && names.has(f) && !started.includes(f)) started.push(f);
    }
  return started;
}

/**
 * The facts of one module. `envHelpers` names functions that read a variable the way
 * `os.environ.get` does (the first argument the name, the second the default).
 */
export function readPython(text: string, envHelpers: ReadonlySet<string> = new Set(['get_env'])): PythonFacts {
  if (!parser) throw new Error('initPython() must run first');
  const tree = parser.parse(text);
  if (!tree) throw new Error('the Python parser gave no tree');
  try {
    const root = tree.rootNode;
    index = buildIndex(root);
    const syntaxError = moduleProblem(text, root);
    const classes = readClasses(root);
    return {
      ...(syntaxError ? { syntaxError } : {}),
      imports: readImports(root),
      classes,
      started: readStarted(root, classes),
      aliases: readAliases(root),
      ...readCalls(root, envHelpers),
    };
  } finally {
    index = undefined;
    tree.delete();
  }
}

/**
 * The error CPython reports for a module: its tokenizer's first, else the tree's first, else that the
 * tree is deeper than CPython compiles. `root` must have been indexed ({@link buildIndex}).
 */
function moduleProblem(text: string, root: Node): SyntaxProblem | undefined {
  return tokenProblem(text) ?? (root.hasError ? firstTreeError(root) : tooDeep());
}

/** CPython's error for a tree deeper than it compiles, at the first line that deep. */
function tooDeep(): SyntaxProblem | undefined {
  return deepest.depth >= MAX_TREE_DEPTH
    ? { line: deepest.line, message: 'maximum recursion depth exceeded during compilation' }
    : undefined;
}

/** The syntax error of a module as {@link readPython} finds it, without the other facts. */
export function syntaxProblemOf(text: string): SyntaxProblem | undefined {
  if (!parser) throw new Error('initPython() must run first');
  const tree = parser.parse(text);
  if (!tree) throw new Error('the Python parser gave no tree');
  try {
    buildIndex(tree.rootNode);
    return moduleProblem(text, tree.rootNode);
  } finally {
    tree.delete();
  }
}

/** The first error of the syntax tree, where the token level found none (a cursor: no recursion). */
function firstTreeError(root: Node): SyntaxProblem {
  let found: Node | undefined;
  const c = root.walk();
  try {
    for (;;) {
      const n = c.currentNode;
      if (n.isError || n.isMissing) {
        found = n;
        break;
      }
      if (n.hasError && c.gotoFirstChild()) continue;
      let next = false;
      while (!(next = c.gotoNextSibling())) if (!c.gotoParent()) break;
      if (!next) break;
    }
  } finally {
    c.delete();
  }
  return { line: found ? line(found) : 1, message: found?.isMissing ? `expected '${found.type}'` : 'invalid syntax' };
}

/** A string literal of a module: where it is, its prefix and quotes, and where its literal text lies. */
export interface StringLiteral {
  readonly start: number;
  readonly end: number;
  /** `r`, `f`, `b`... as written (lowercased). */
  readonly prefix: string;
  readonly quote: string;
  readonly triple: boolean;
  /** The literal parts (not interpolations), as offsets in the module's text. */
  readonly parts: readonly { readonly start: number; readonly end: number }[];
  readonly interpolated: boolean;
  /**
   * Where it stands, when that limits what may replace it: one part of an implicit concatenation
   * (`"a" "b"`, where only another literal may stand), a `case` pattern (only a literal), or a
   * docstring (a call there would be no docstring).
   */
  readonly context?: 'concatenated' | 'pattern' | 'docstring';
}

/** The context of a string node that limits what may replace it. */
function stringContext(n: Node): StringLiteral['context'] {
  const parent = n.parent;
  if (parent?.type === 'concatenated_string') return 'concatenated';
  for (let p = parent; p; p = p.parent) {
    if (p.type === 'case_pattern') return 'pattern';
    if (p.type === 'block' || p.type === 'module') break;
  }
  if (parent?.type === 'expression_statement' && parent.namedChildCount === 1) {
    const holder = parent.parent;
    const first = holder?.namedChildren.find((c) => c !== null && c.type !== 'comment');
    if (holder && (holder.type === 'module' || holder.type === 'block') && first?.startIndex === parent.startIndex)
      return 'docstring';
  }
  return undefined;
}

/**
 * The module's string literals and comments from its syntax tree, whether it imports `os` at its
 * top level, and where its last `from __future__ import` ends (offsets in `text`).
 */
export function literalsOf(text: string): {
  strings: StringLiteral[];
  comments: { start: number; end: number }[];
  importsOs: boolean;
  futureEnd?: number;
  docstringEnd?: number;
} {
  if (!parser) throw new Error('initPython() must run first');
  const tree = parser.parse(text);
  if (!tree) throw new Error('the Python parser gave no tree');
  const strings: StringLiteral[] = [];
  const comments: { start: number; end: number }[] = [];
  let importsOs = false;
  let futureEnd: number | undefined;
  let docstringEnd: number | undefined;
  const done = () => ({
    strings,
    comments,
    importsOs,
    ...(futureEnd !== undefined ? { futureEnd } : {}),
    ...(docstringEnd !== undefined ? { docstringEnd } : {}),
  });
  const c = tree.rootNode.walk();
  try {
    for (;;) {
      const type = c.nodeType;
      if (type === 'comment') comments.push({ start: c.startIndex, end: c.endIndex });
      if (type === 'future_import_statement') futureEnd = c.endIndex;
      if (
        type === 'import_statement' &&
        c.currentNode.parent?.type === 'module' &&
        kids(c.currentNode).some(
          (n) =>
            n.text === 'os' ||
            (n.type === 'aliased_import' &&
              n.childForFieldName('name')?.text === 'os' &&
              n.childForFieldName('alias')?.text === 'os'),
        )
      )
        importsOs = true;
      if (type === 'string') {
        const n = c.currentNode;
        const open = kids(n).find((k) => k.type === 'string_start')?.text ?? '"';
        const quote = open.replace(/^[A-Za-z]*/, '');
        const context = stringContext(n);
        if (context === 'docstring' && n.parent?.parent?.type === 'module') docstringEnd = n.parent.endIndex;
        strings.push({
          ...(context ? { context } : {}),
          start: n.startIndex,
          end: n.endIndex,
          prefix: open.slice(0, open.length - quote.length).toLowerCase(),
          quote: quote[0]!,
          triple: quote.length === 3,
          parts: kids(n)
            .filter((k) => k.type === 'string_content')
            .map((k) => ({ start: k.startIndex, end: k.endIndex })),
          interpolated: kids(n).some((k) => k.type === 'interpolation'),
        });
        // Its children are done: a string holds no strings but in interpolations, rarely with addresses.
        if (c.gotoNextSibling()) continue;
        while (!c.gotoNextSibling()) if (!c.gotoParent()) return done();
        continue;
      }
      if (c.gotoFirstChild()) continue;
      while (!c.gotoNextSibling()) if (!c.gotoParent()) return done();
    }
  } finally {
    c.delete();
    tree.delete();
  }
}
