/** Parses one YAML file into plain data while keeping, for every config path, the line it came from. */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { diag, type Diagnostic, type SourceRef } from '../diagnostics.ts';

/** A parsed YAML file: plain data plus a location for each config path. */
export interface YamlSource {
  readonly file: string;
  readonly data: unknown;
  readonly diagnostics: readonly Diagnostic[];
  /** Location of a config path (`a.b[0].c`), or of its nearest located ancestor. */
  at(path: string): SourceRef;
}

/** Joins a config path: `joinPath('a', 'b')` is `a.b`, `joinPath('a', 0)` is `a[0]`. */
export function joinPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return parent ? `${parent}.${key}` : key;
}

function parentPath(path: string): string {
  const m = /^(.*)(?:\.[^.[\]]+|\[\d+\])$/.exec(path);
  return m ? (m[1] ?? '') : '';
}

/**
 * Parses `text` as YAML 1.1 (the dialect of the Python loader the configs were written for).
 * Duplicate keys are kept as that loader kept them (the last wins) and each one is reported.
 */
export function parseYamlSource(file: string, text: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { version: '1.1', uniqueKeys: false, lineCounter, prettyErrors: false, merge: true });
  const positions = new Map<string, { line: number; column: number }>();
  const diagnostics: Diagnostic[] = [];
  const pos = (offset: number | undefined) => {
    const p = lineCounter.linePos(offset ?? 0);
    return { line: p.line, column: p.col };
  };
  const at = (path: string): SourceRef => {
    let p = path;
    for (;;) {
      const found = positions.get(p);
      if (found) return { file, line: found.line, column: found.column, path };
      if (p === '') return { file, line: 1, column: 1, path };
      p = parentPath(p);
    }
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
    diagnostics.push(diag('parse-error', 'error', `${message.charAt(0).toLowerCase()}${message.slice(1)}; ${hint}`, { file, ...pos(first.pos[0]), path: '' }));
  }
  if (diagnostics.length > 0) return { file, data: undefined, diagnostics, at };

  const toPlain = (node: unknown, path: string): unknown => {
    if (isAlias(node)) return toPlain(node.resolve(doc), path);
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      const seen = new Map<string, number>();
      for (const pair of node.items) {
        const keyNode = pair.key as Node | null;
        const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
        if (key === '<<') continue;
        const p = joinPath(path, key);
        const here = pos(keyNode?.range?.[0]);
        const prev = seen.get(key);
        if (prev !== undefined) {
          diagnostics.push(
            diag('duplicate-key', 'error', `key '${key}' is defined twice (first at line ${prev}); the last one would silently replace the first: remove or rename one`, {
              file,
              ...here,
              path: p,
            }),
          );
        }
        seen.set(key, here.line);
        positions.set(p, here);
        out[key] = toPlain(pair.value, p);
      }
      // Merge keys (`<<: *x`) are resolved by the yaml library into the map; keep them.
      return out;
    }
    if (isSeq(node)) {
      return node.items.map((item, i) => {
        const p = joinPath(path, i);
        positions.set(p, pos((item as Node | null)?.range?.[0]));
        return toPlain(item, p);
      });
    }
    if (isScalar(node)) return node.value;
    return node ?? null;
  };
  positions.set('', { line: 1, column: 1 });
  const data = toPlain(doc.contents, '');
  return { file, data, diagnostics, at };
}
