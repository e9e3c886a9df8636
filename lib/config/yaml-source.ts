/** Parses one YAML file into plain data while keeping, for every config path, the line it came from. */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { diag, type Diagnostic, type SourceRef } from '../diagnostics.ts';
import { joinPath } from './config-path.ts';
import { readPlainYaml, setKey, type ContainerPositions, type DuplicateKey, type Position } from './plain-yaml.ts';

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
}

/**
 * Parses `text` as YAML 1.1 (the dialect of the Python loader the configs were written for).
 * Duplicate keys are kept as that loader kept them (the last wins) and each one is reported.
 * Plain configs take the fast reader; anything else, and every syntax error, the yaml library.
 */
export function parseYamlSource(file: string, text: string): YamlSource {
  try {
    const fast = readPlainYaml(text);
    if (!fast) return parseYamlSourceWithLibrary(file, text);
    return source(file, fast.data, fast.positions, fast.duplicates);
  } catch (e) {
    // Both readers recurse once per level of nesting: thousands of levels exhaust the stack.
    if (!(e instanceof RangeError && /call stack/i.test(e.message))) throw e;
    return unreadable(file, diag('parse-error', 'error', `the document nests too deeply to be read (thousands of levels); a startup config nests a few: look for runaway brackets or indentation`, { file, line: 1, column: 1, path: '' }));
  }
}

function source(file: string, data: unknown, positions: ContainerPositions, duplicates: readonly DuplicateKey[]): YamlSource {
  const diagnostics = duplicates.map((d) =>
    diag('duplicate-key', 'error', `key '${d.key}' is defined twice (first at line ${d.previousLine}); the last one would silently replace the first: remove or rename one`, {
      file,
      line: d.line,
      column: d.column,
      path: d.path,
    }),
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
  return { file, data, diagnostics, at, locate };
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

/** {@link parseYamlSource} through the yaml library only (exported for the tests that compare both). */
export function parseYamlSourceWithLibrary(file: string, text: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { version: '1.1', uniqueKeys: false, lineCounter, prettyErrors: false, merge: true });
  const pos = (offset: number | undefined): Position => {
    const p = lineCounter.linePos(offset ?? 0);
    return { line: p.line, column: p.col };
  };

  // Only the first syntax error is reported: the ones after it are its echoes.
  const first = doc.errors[0];
  if (first) {
    const message = first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '').trim();
    const hint = /flow (map|sequence|collection)/i.test(message)
      ? 'close the flow collection with } or ] and separate its entries with commas'
      : /compact mappings|implicit keys|same column|indent/i.test(message)
      ? 'check the indentation of this line and the next: keys of one mapping must start at the same column'
      : 'fix the YAML syntax (quoting, brackets, indentation) around this line';
    return unreadable(file, diag('parse-error', 'error', `${message.charAt(0).toLowerCase()}${message.slice(1)}; ${hint}`, { file, ...pos(first.pos[0]), path: '' }));
  }

  const positions: ContainerPositions = new Map();
  const duplicates: DuplicateKey[] = [];
  const toPlain = (node: unknown, path: string): unknown => {
    if (isAlias(node)) return toPlain(node.resolve(doc), path);
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      const at: Record<string, Position> = {};
      positions.set(out, at);
      for (const pair of node.items) {
        const keyNode = pair.key as Node | null;
        const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
        if (key === '<<') continue;
        const p = joinPath(path, key);
        const here = pos(keyNode?.range?.[0]);
        if (Object.prototype.hasOwnProperty.call(at, key)) duplicates.push({ key, path: p, ...here, previousLine: at[key]!.line });
        setKey(at, key, here);
        setKey(out, key, toPlain(pair.value, p));
      }
      // Merge keys (`<<: *x`) are resolved by the yaml library into the map; keep them.
      return out;
    }
    if (isSeq(node)) {
      const out: unknown[] = [];
      const at: Position[] = [];
      positions.set(out, at);
      node.items.forEach((item, i) => {
        at.push(pos((item as Node | null)?.range?.[0]));
        out.push(toPlain(item, joinPath(path, i)));
      });
      return out;
    }
    if (isScalar(node)) return node.value;
    return node ?? null;
  };
  const data = toPlain(doc.contents, '');
  return source(file, data, positions, duplicates);
}
