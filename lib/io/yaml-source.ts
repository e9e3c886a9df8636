/** Parses one YAML file into plain data while keeping, for every config path, the line it came from. */
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document,
  type Node,
  type Pair,
  type ScalarTag,
  type Tags,
} from 'yaml';
import { diag, type Diagnostic, type SourceRef } from '../diagnostics.ts';
import { joinPath } from './config-path.ts';

export { joinPath } from './config-path.ts';

/** A parsed YAML file: plain data plus a location for each config path. */
export interface YamlSource {
  readonly file: string;
  readonly data: unknown;
  readonly diagnostics: readonly Diagnostic[];
  /** Location of a config path (`a.b[0].c`), or of its nearest located ancestor. */
  at(path: string): SourceRef;
  /**
   * Location of entry `key` of a mapping or sequence of `data`, reported with config path `path`
   * (the fast way to locate what one holds in hand; falls back to {@link at}).
   */
  locate(container: object, key: string | number, path: string): SourceRef;
  /**
   * How the value at a config path was written, where YAML 1.1 read an unquoted scalar as something
   * else than its text (`yes` as true, `1:30` as 90, `0x1C20` as 7200, `1e3` as 1000); else undefined.
   */
  writtenAt(path: string): string | undefined;
}

interface Position {
  readonly line: number;
  readonly column: number;
}

interface DuplicateKey {
  readonly key: string;
  readonly path: string;
  readonly line: number;
  readonly column: number;
  /** Line of the occurrence this one replaces. */
  readonly previousLine: number;
}

/**
 * Where the entries of each mapping and sequence of the data start: for a mapping, its keys'
 * positions by key; for a sequence, its items' positions by index. Keyed by the container itself, so
 * looking a position up never builds or hashes a path string.
 */
type ContainerPositions = Map<object, Record<string, Position> | Position[]>;

/** An own property, even for `__proto__`: data from a file never reaches an object's prototype. */
function setKey(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

const own = (o: object, key: string) => Object.prototype.hasOwnProperty.call(o, key);

/**
 * Nodes that aliases may add to a document beyond its own: enough for any config that shares blocks
 * through anchors, far too few for an alias bomb (nine levels of ten aliases are a billion nodes).
 */
const ALIAS_NODE_BUDGET = 100_000;

class AliasBudgetExceeded extends Error {}

/**
 * Parses `text` as YAML 1.1 (the dialect of the Python loader the configs were written for): `yes`,
 * `on` and `off` are booleans, `0755` is octal, merge keys (`<<: *defaults`) merge. Duplicate keys are
 * kept as that loader kept them (the last wins) and each one is reported. agent-infra's own files (the
 * spec, the lock) are YAML 1.2 (`version`), as cdk8s, Kubernetes and compose read YAML: `source: .` is a
 * path there, `yes` a word; merge keys still merge.
 */
export function parseYamlSource(file: string, text: string, version: YamlVersion = '1.1'): YamlSource {
  const tooDeep = () =>
    unreadable(
      file,
      diag(
        'parse-error',
        'error',
        `the document nests too deeply to be read (thousands of levels); a startup config nests a few: look for runaway brackets or indentation`,
        { file, line: 1, column: 1, path: '' },
      ),
    );
  try {
    return read(file, text, tooDeep, version);
  } catch (e) {
    if (e instanceof AliasBudgetExceeded) {
      return unreadable(
        file,
        diag(
          'parse-error',
          'error',
          `aliases expand the document past ${ALIAS_NODE_BUDGET.toLocaleString('en-US')} nodes (an alias bomb?); a startup config shares a few blocks: write the repeated parts out or use fewer nested aliases`,
          { file, line: 1, column: 1, path: '' },
        ),
      );
    }
    // The parser and the conversion recurse once per level of nesting: thousands of levels exhaust the stack.
    if (!(e instanceof RangeError && /call stack/i.test(e.message))) throw e;
    return tooDeep();
  }
}

function source(
  file: string,
  data: unknown,
  positions: ContainerPositions,
  duplicates: readonly DuplicateKey[],
  written: ReadonlyMap<string, string> = new Map(),
): YamlSource {
  const diagnostics = duplicates.map((d) =>
    diag(
      'duplicate-key',
      'error',
      `key '${d.key}' is defined twice (first at line ${d.previousLine}); the last one would silently replace the first: remove or rename one`,
      {
        file,
        line: d.line,
        column: d.column,
        path: d.path,
      },
    ),
  );
  const at = (path: string): SourceRef => {
    const found = walk(data, positions, path);
    return { file, line: found.line, column: found.column, path };
  };
  const locate = (container: object, key: string | number, path: string): SourceRef => {
    const rec = positions.get(container) as Record<string | number, Position> | undefined;
    const found = rec && Object.prototype.hasOwnProperty.call(rec, key) ? rec[key] : undefined;
    return found ? { file, line: found.line, column: found.column, path } : at(path);
  };
  return { file, data, diagnostics, at, locate, writtenAt: (path) => written.get(path) };
}

/** A file that yields no data, only the error that says why. */
function unreadable(file: string, error: Diagnostic): YamlSource {
  return { ...source(file, undefined, new Map(), []), diagnostics: [error] };
}

const START: Position = { line: 1, column: 1 };

/**
 * The position of a config path, or of its nearest located ancestor, found by walking the data.
 * A key may itself contain dots: at each step the longest key of the mapping that fits is taken.
 */
function walk(data: unknown, positions: ContainerPositions, path: string): Position {
  let node = data;
  let best = START;
  let i = 0;
  while (i < path.length) {
    if (typeof node !== 'object' || node === null) return best;
    const rec = positions.get(node);
    if (!rec) return best;
    if (Array.isArray(node)) {
      if (path[i] !== '[') return best;
      const close = path.indexOf(']', i);
      if (close < 0) return best;
      const index = Number(path.slice(i + 1, close));
      const found = (rec as Position[])[index];
      if (!found) return best;
      best = found;
      node = node[index];
      i = close + 1;
      if (path[i] === '.') i++;
      continue;
    }
    // The longest key that ends where the path has a separator (or ends).
    let end = -1;
    for (let e = path.length; e > i; e = Math.max(path.lastIndexOf('.', e - 1), path.lastIndexOf('[', e - 1))) {
      const key = path.slice(i, e);
      if (Object.prototype.hasOwnProperty.call(rec, key)) {
        end = e;
        break;
      }
    }
    if (end < 0) return best;
    const key = path.slice(i, end);
    best = (rec as Record<string, Position>)[key]!;
    node = (node as Record<string, unknown>)[key];
    i = end;
    if (path[i] === '.') i++;
  }
  return best;
}

/**
 * A YAML 1.1 timestamp (`2001-12-14`, unquoted), as PyYAML reads one: a date, not text. It keeps the
 * text it was written as, which is what `String()` and JSON give.
 */
export class YamlTimestamp {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
  toJSON(): string {
    return this.text;
  }
}

/** The YAML dialect a file is read in: the system's configs 1.1 (PyYAML's), agent-infra's own files 1.2. */
export type YamlVersion = '1.1' | '1.2';

function read(file: string, text: string, tooDeep: () => YamlSource, version: YamlVersion): YamlSource {
  const lineCounter = new LineCounter();
  // A timestamp keeps the text it was written as (a date is no name, port or path: the message shows it as written).
  const customTags = (tags: Tags): Tags =>
    tags.map((t) =>
      typeof t === 'object' && t.tag === 'tag:yaml.org,2002:timestamp'
        ? ({ ...t, resolve: (str: string) => new YamlTimestamp(str) } as ScalarTag)
        : t,
    );
  const doc = parseDocument(text, {
    version,
    uniqueKeys: false,
    lineCounter,
    prettyErrors: false,
    merge: true,
    customTags,
  });
  const pos = (offset: number | undefined): Position => {
    const p = lineCounter.linePos(offset ?? 0);
    return { line: p.line, column: p.col };
  };

  // Only the first syntax error is reported: the ones after it are its echoes.
  const first = doc.errors[0];
  // The library reports its own stack overflow as an error of the document.
  if (first && /call stack/i.test(first.message)) return tooDeep();
  if (first) {
    const message = first.message
      .split('\n')[0]!
      .replace(/ at line \d+, column \d+:?$/, '')
      .trim();
    const hint = /flow (map|sequence|collection)/i.test(message)
      ? 'close the flow collection with } or ] and separate its entries with commas'
      : /compact mappings|implicit keys|same column|indent/i.test(message)
        ? 'check the indentation of this line and the next: keys of one mapping must start at the same column'
        : 'fix the YAML syntax (quoting, brackets, indentation) around this line';
    return unreadable(
      file,
      diag('parse-error', 'error', `${message.charAt(0).toLowerCase()}${message.slice(1)}; ${hint}`, {
        file,
        ...pos(first.pos[0]),
        path: '',
      }),
    );
  }
  const { data, positions, duplicates, written } = toPlain(doc, pos);
  return source(file, data, positions, duplicates, written);
}

/** The document as plain data, with the position of every entry and the duplicate keys. */
function toPlain(doc: Document, pos: (offset: number | undefined) => Position) {
  const positions: ContainerPositions = new Map();
  const duplicates: DuplicateKey[] = [];
  const written = new Map<string, string>();
  let aliasBudget = ALIAS_NODE_BUDGET;
  // What one anchored node converts to, once: every alias of it shares that value.
  const resolved = new Map<Node, unknown>();
  // Nodes in each converted mapping and sequence, aliased ones included (a scalar counts 1).
  const sizes = new WeakMap<object, number>();
  const sizeOf = (v: unknown) => (typeof v === 'object' && v !== null ? (sizes.get(v) ?? 1) : 1);

  const convert = (node: unknown, path: string): unknown => {
    if (isAlias(node)) {
      const target = node.resolve(doc) as Node | undefined;
      if (!target) return null;
      if (!resolved.has(target)) resolved.set(target, convert(target, path));
      // Shared values are counted each time they are used: a consumer walks them each time.
      aliasBudget -= sizeOf(resolved.get(target));
      if (aliasBudget < 0) throw new AliasBudgetExceeded();
      return resolved.get(target);
    }
    if (isMap(node)) return convertMap(node.items as Pair[], path);
    if (isSeq(node)) {
      const out: unknown[] = [];
      const at: Position[] = [];
      positions.set(out, at);
      let n = 1;
      node.items.forEach((item, i) => {
        at.push(pos((item as Node | null)?.range?.[0]));
        const v = convert(item, joinPath(path, i));
        n += sizeOf(v);
        out.push(v);
      });
      sizes.set(out, n);
      return out;
    }
    if (isScalar(node)) {
      const text = (node as { source?: unknown }).source;
      if (
        node.type === 'PLAIN' &&
        typeof node.value !== 'string' &&
        typeof text === 'string' &&
        text !== String(node.value)
      )
        written.set(path, text);
      return node.value;
    }
    return node ?? null;
  };

  /**
   * A mapping as the Python loader builds it: merged entries (`<<: *a` or `<<: [*a, *b]`, the earlier
   * source winning) first, then the mapping's own keys, which override merged ones.
   */
  const convertMap = (items: readonly Pair[], path: string): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    const at: Record<string, Position> = {};
    positions.set(out, at);
    const ownPairs: Pair[] = [];
    for (const pair of items) {
      const keyNode = pair.key as Node | null;
      if (!(isScalar(keyNode) && typeof keyNode.value === 'symbol')) {
        ownPairs.push(pair);
        continue;
      }
      const merged = convert(pair.value, joinPath(path, '<<'));
      for (const m of Array.isArray(merged) ? merged : [merged]) {
        if (typeof m !== 'object' || m === null || Array.isArray(m)) continue;
        const from = positions.get(m) as Record<string, Position> | undefined;
        for (const [k, v] of Object.entries(m)) {
          if (own(out, k)) continue;
          setKey(out, k, v);
          setKey(at, k, from?.[k] ?? pos(keyNode.range?.[0]));
        }
      }
    }
    const seen = new Set<string>();
    for (const pair of ownPairs) {
      const keyNode = pair.key as Node | null;
      const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
      const p = joinPath(path, key);
      const here = pos(keyNode?.range?.[0]);
      if (seen.has(key)) duplicates.push({ key, path: p, ...here, previousLine: at[key]!.line });
      seen.add(key);
      setKey(at, key, here);
      setKey(out, key, convert(pair.value, p));
    }
    sizes.set(
      out,
      Object.values(out).reduce<number>((n, v) => n + sizeOf(v), 1),
    );
    return out;
  };

  return { data: convert(doc.contents, ''), positions, duplicates, written };
}
