/**
 * A fast reader for the plain subset of YAML that startup configs are written in: block mappings and
 * sequences, one-line flow collections, plain and one-line quoted scalars, comments.
 *
 * It exists for speed: a 7,000-agent config takes the yaml library about half a second, this reader a
 * few tens of milliseconds. It never guesses: on anything outside the subset (anchors, aliases, tags,
 * block or multi-line scalars, multi-line flow collections, documents markers, tabs, syntax errors)
 * it returns `undefined` and the caller reads the file with the yaml library, which also reports the
 * errors. Where it does answer, its data, positions and duplicate keys equal the library's (YAML 1.1,
 * last duplicate wins); test/unit/plain-yaml.test.ts compares the two on every config we have and on
 * random documents.
 */
import { parseDocument } from 'yaml';
import { joinPath } from './config-path.ts';

export interface Position {
  readonly line: number;
  readonly column: number;
}

export interface DuplicateKey {
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
export type ContainerPositions = Map<object, Record<string, Position> | Position[]>;

export interface PlainYaml {
  readonly data: unknown;
  readonly positions: ContainerPositions;
  readonly duplicates: readonly DuplicateKey[];
}

/** Thrown inside the reader when the text leaves the subset; never escapes it. */
const OUTSIDE = Symbol('outside the plain subset');

function outside(): never {
  throw OUTSIDE;
}

const SPACE = 32;
const HASH = 35;
const COLON = 58;
const DASH = 45;
const SQUOTE = 39;
const DQUOTE = 34;
const LBRACKET = 91;
const RBRACKET = 93;
const LBRACE = 123;
const RBRACE = 125;
const COMMA = 44;

/** Plain scalars that resolve to something other than a string in YAML 1.1 (besides numbers). */
const WORDS = new Map<string, boolean | null>([
  ...['~', 'null', 'Null', 'NULL'].map((w) => [w, null] as const),
  ...['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON'].map((w) => [w, true] as const),
  ...['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF'].map((w) => [w, false] as const),
]);
const SIMPLE_INT = /^-?(?:0|[1-9][0-9]*)$/;
const HEX = /^[0-9a-fA-F]+$/;
/** Characters a plain scalar cannot start with here (YAML indicators; `-` is decided where it stands). */
const NOT_PLAIN_START = '&*!|>%@`?:,[]{}#';

/**
 * The YAML 1.1 value of a plain scalar. Words and simple integers are resolved here; anything else
 * that starts like a number (octal, hex, floats, sexagesimal, timestamps, version strings) is handed
 * to the yaml library, so the two readers cannot disagree on a type.
 */
function resolvePlain(text: string): unknown {
  const c = text.charCodeAt(0);
  if ((c >= 48 && c <= 57) || c === DASH || c === 43 || c === 46) {
    if (SIMPLE_INT.test(text)) return Number(text);
    // As a mapping value, where it stands here (alone, `---` would start a document).
    const doc = parseDocument(`x: ${text}`, { version: '1.1' });
    if (doc.errors.length > 0 || doc.warnings.length > 0) outside();
    return (doc.toJS() as { x: unknown }).x;
  }
  const w = WORDS.get(text);
  return w === undefined ? text : w;
}

/** Drops trailing spaces: YAML's white space, unlike JavaScript's trimEnd, is only space and tab. */
function trimSpaces(s: string): string {
  let e = s.length;
  while (e > 0 && s.charCodeAt(e - 1) === SPACE) e--;
  return e === s.length ? s : s.slice(0, e);
}

/** Sets a key the way a JSON object would hold it, `__proto__` included. */
export function setKey(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

/** Reads `text`, or returns `undefined` when it is not in the plain subset (or not valid YAML). */
export function readPlainYaml(text: string): PlainYaml | undefined {
  if (text.includes('\t') || text.charCodeAt(0) === 0xfeff) return undefined;
  const lines = text.split('\n');
  if (text.includes('\r')) {
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i]!;
      const stripped = l.endsWith('\r') ? l.slice(0, -1) : l;
      if (stripped.includes('\r')) return undefined;
      lines[i] = stripped;
    }
  }
  const n = lines.length;
  /** Indentation of each line with content; -1 for blank and comment-only lines. */
  const indent = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const s = lines[i]!;
    let k = 0;
    while (k < s.length && s.charCodeAt(k) === SPACE) k++;
    if (k === s.length || s.charCodeAt(k) === HASH) indent[i] = -1;
    else {
      if (k === 0 && (s.startsWith('---') || s.startsWith('...') || s.charCodeAt(0) === 37)) return undefined;
      indent[i] = k;
    }
  }
  const positions: ContainerPositions = new Map();
  const duplicates: DuplicateKey[] = [];
  /** The next line to look at after a node was read. */
  let next = 0;
  /** End index within the line after a flow collection or quoted scalar was read. */
  let end = 0;

  const nextContent = (from: number): number => {
    let i = from;
    while (i < n && indent[i] === -1) i++;
    return i;
  };
  const isSeqMarker = (s: string, c: number): boolean => s.charCodeAt(c) === DASH && (c + 1 === s.length || s.charCodeAt(c + 1) === SPACE);
  const skipSpaces = (s: string, k: number): number => {
    while (k < s.length && s.charCodeAt(k) === SPACE) k++;
    return k;
  };
  /** After a value at `k`: only spaces, then the end of the line or a comment after a space. */
  const expectLineEnd = (s: string, k: number): void => {
    const j = skipSpaces(s, k);
    if (j === s.length) return;
    if (s.charCodeAt(j) === HASH && j > k) return;
    outside();
  };

  /** A one-line quoted scalar starting at `c`; sets `end` after its closing quote. */
  const quoted = (s: string, c: number): string => {
    const q = s.charCodeAt(c);
    if (q === SQUOTE) {
      let out = '';
      let k = c + 1;
      for (;;) {
        const j = s.indexOf("'", k);
        if (j < 0) outside();
        out += s.slice(k, j);
        if (s.charCodeAt(j + 1) === SQUOTE) {
          out += "'";
          k = j + 2;
          continue;
        }
        end = j + 1;
        return out;
      }
    }
    let out = '';
    let k = c + 1;
    for (;;) {
      if (k >= s.length) outside();
      const ch = s.charCodeAt(k);
      if (ch === DQUOTE) {
        end = k + 1;
        return out;
      }
      if (ch !== 92) {
        const j = k;
        while (k < s.length && s.charCodeAt(k) !== DQUOTE && s.charCodeAt(k) !== 92) k++;
        out += s.slice(j, k);
        continue;
      }
      const e = s[k + 1];
      const hex = (len: number): string => {
        const h = s.slice(k + 2, k + 2 + len);
        if (h.length !== len || !HEX.test(h)) outside();
        k += 2 + len;
        return String.fromCodePoint(parseInt(h, 16));
      };
      switch (e) {
        case 'n': out += '\n'; k += 2; break;
        case 't': out += '\t'; k += 2; break;
        case 'r': out += '\r'; k += 2; break;
        case '0': out += '\0'; k += 2; break;
        case '"': out += '"'; k += 2; break;
        case '\\': out += '\\'; k += 2; break;
        case '/': out += '/'; k += 2; break;
        case 'x': out += hex(2); break;
        case 'u': out += hex(4); break;
        default: outside();
      }
    }
  };

  /** A value on the rest of line `li` in block context (flow collection, quoted or plain scalar); the next node starts below. */
  const inlineValue = (li: number, c: number, path: string): unknown => {
    const s = lines[li]!;
    next = li + 1;
    const ch = s.charCodeAt(c);
    if (ch === LBRACKET || ch === LBRACE) {
      const v = flow(li, c, path);
      expectLineEnd(s, end);
      return v;
    }
    if (ch === SQUOTE || ch === DQUOTE) {
      const v = quoted(s, c);
      expectLineEnd(s, end);
      return v;
    }
    // Indicators that start anything but a plain scalar here: `- x`, anchors, aliases, tags, block scalars...
    if (NOT_PLAIN_START.includes(s[c]!) || isSeqMarker(s, c)) outside();
    const hash = s.indexOf(' #', c);
    const text = trimSpaces(hash < 0 ? s.slice(c) : s.slice(c, hash));
    if (text.includes(': ') || text.endsWith(':')) outside();
    return resolvePlain(text);
  };

  /** Index of the `:` that ends a mapping key starting at `c`, or -1 when the line holds no key. */
  const keyEnd = (s: string, c: number): number => {
    const ch = s.charCodeAt(c);
    if (ch === SQUOTE || ch === DQUOTE) {
      quoted(s, c);
      const j = skipSpaces(s, end);
      return s.charCodeAt(j) === COLON && (j + 1 === s.length || s.charCodeAt(j + 1) === SPACE) ? j : -1;
    }
    if (ch === LBRACKET || ch === LBRACE) return -1;
    let odd = NOT_PLAIN_START.includes(s[c]!);
    for (let j = c; j < s.length; j++) {
      const cj = s.charCodeAt(j);
      if (cj === COLON && (j + 1 === s.length || s.charCodeAt(j + 1) === SPACE)) {
        if (odd) outside();
        return j;
      }
      if (cj === HASH) {
        if (s.charCodeAt(j - 1) === SPACE) return -1;
        odd = true;
      } else if (cj === LBRACKET || cj === RBRACKET || cj === LBRACE || cj === RBRACE || cj === COMMA || cj === SQUOTE || cj === DQUOTE) odd = true;
    }
    return -1;
  };

  const keyText = (s: string, c: number, colon: number): string => {
    const ch = s.charCodeAt(c);
    if (ch === SQUOTE || ch === DQUOTE) return quoted(s, c);
    return String(resolvePlain(trimSpaces(s.slice(c, colon))));
  };

  const addKey = (pos: Record<string, Position>, key: string, path: string, line: number, column: number): string => {
    if (key === '<<') outside(); // merge keys need aliases, which this reader leaves to the library
    const p = joinPath(path, key);
    if (Object.prototype.hasOwnProperty.call(pos, key)) duplicates.push({ key, path: p, line, column, previousLine: pos[key]!.line });
    setKey(pos, key, { line, column });
    return p;
  };

  /** A one-line flow collection starting at `c`; sets `end` after its closing bracket. */
  const flow = (li: number, c: number, path: string): unknown => {
    const s = lines[li]!;
    const isSeq = s.charCodeAt(c) === LBRACKET;
    const close = isSeq ? RBRACKET : RBRACE;
    // Only the collection this is gets used; the other pair stays empty and unregistered.
    const seq: unknown[] = [];
    const map: Record<string, unknown> = {};
    const seqPos: Position[] = [];
    const mapPos: Record<string, Position> = {};
    if (isSeq) positions.set(seq, seqPos);
    else positions.set(map, mapPos);
    let k = skipSpaces(s, c + 1);
    if (s.charCodeAt(k) === close) {
      end = k + 1;
      return isSeq ? seq : map;
    }
    for (;;) {
      if (isSeq) {
        seqPos.push({ line: li + 1, column: k + 1 });
        seq.push(flowItem(s, li, k, joinPath(path, seq.length)));
      } else {
        let key: string;
        const start = k;
        const ch = s.charCodeAt(k);
        if (ch === SQUOTE || ch === DQUOTE) {
          key = quoted(s, k);
          k = skipSpaces(s, end);
          if (s.charCodeAt(k) !== COLON) outside();
        } else {
          let j = k;
          for (; j < s.length; j++) {
            const cj = s.charCodeAt(j);
            if (cj === COLON) break;
            if (cj === COMMA || cj === LBRACKET || cj === RBRACKET || cj === LBRACE || cj === RBRACE || cj === HASH || cj === SQUOTE || cj === DQUOTE) outside();
          }
          if (j === s.length || NOT_PLAIN_START.includes(s[k]!) || ch === DASH) outside();
          const raw = trimSpaces(s.slice(k, j));
          if (raw === '') outside();
          key = String(resolvePlain(raw));
          k = j;
        }
        // `{a: b}`: the colon must be followed by a space and a value
        if (s.charCodeAt(k + 1) !== SPACE) outside();
        k = skipSpaces(s, k + 1);
        const cv = s.charCodeAt(k);
        if (k === s.length || cv === COMMA || cv === close) outside();
        const p = addKey(mapPos, key, path, li + 1, start + 1);
        setKey(map, key, flowItem(s, li, k, p));
      }
      k = skipSpaces(s, end);
      const sep = s.charCodeAt(k);
      if (sep === close) {
        end = k + 1;
        return isSeq ? seq : map;
      }
      if (sep !== COMMA) outside();
      k = skipSpaces(s, k + 1);
      if (s.charCodeAt(k) === close) {
        end = k + 1;
        return isSeq ? seq : map;
      }
      if (k === s.length || s.charCodeAt(k) === COMMA) outside();
    }
  };

  /** One entry of a flow collection at `k`; sets `end` after it. */
  const flowItem = (s: string, li: number, k: number, path: string): unknown => {
    const ch = s.charCodeAt(k);
    if (ch === LBRACKET || ch === LBRACE) return flow(li, k, path);
    if (ch === SQUOTE || ch === DQUOTE) return quoted(s, k);
    if (NOT_PLAIN_START.includes(s[k]!)) outside();
    // `-` starts a plain scalar only when a safe character follows (`-1`, not `- x` or `-,`)
    if (ch === DASH && (k + 1 === s.length || ' ,[]{}'.includes(s[k + 1]!))) outside();
    let j = k;
    for (; j < s.length; j++) {
      const cj = s.charCodeAt(j);
      if (cj === COMMA || cj === RBRACKET || cj === RBRACE) break;
      if (cj === COLON || cj === HASH || cj === LBRACKET || cj === LBRACE || cj === SQUOTE || cj === DQUOTE) outside();
    }
    if (j === s.length) outside();
    end = j;
    const text = trimSpaces(s.slice(k, j));
    if (text === '') outside();
    return resolvePlain(text);
  };

  /** The node whose first line is `li`, starting at column `c`. */
  const blockNode = (li: number, c: number, path: string): unknown => {
    const s = lines[li]!;
    if (isSeqMarker(s, c)) return blockSeq(li, c, path);
    const colon = keyEnd(s, c);
    if (colon >= 0) return blockMap(li, c, colon, path);
    return inlineValue(li, c, path);
  };

  /** A block sequence whose `-` markers stand at column `col`. */
  const blockSeq = (first: number, col: number, path: string): unknown[] => {
    const out: unknown[] = [];
    const pos: Position[] = [];
    positions.set(out, pos);
    let li = first;
    for (;;) {
      const s = lines[li]!;
      const v = skipSpaces(s, col + 1);
      const p = joinPath(path, out.length);
      if (v === s.length || s.charCodeAt(v) === HASH) {
        const nl = nextContent(li + 1);
        if (nl >= n || indent[nl]! <= col) outside(); // an empty item
        pos.push({ line: nl + 1, column: indent[nl]! + 1 });
        out.push(blockNode(nl, indent[nl]!, p));
      } else {
        pos.push({ line: li + 1, column: v + 1 });
        if (isSeqMarker(s, v)) outside();
        const colon = keyEnd(s, v);
        if (colon >= 0) out.push(blockMap(li, v, colon, p));
        else out.push(inlineValue(li, v, p));
      }
      const nl = nextContent(next);
      if (nl >= n) return out;
      const ind = indent[nl]!;
      if (ind > col) outside();
      if (ind < col || !isSeqMarker(lines[nl]!, col)) {
        next = nl;
        return out;
      }
      li = nl;
    }
  };

  /** A block mapping whose keys stand at column `col`; the first key is on line `first`. */
  const blockMap = (first: number, col: number, firstColon: number, path: string): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    const pos: Record<string, Position> = {};
    positions.set(out, pos);
    let li = first;
    let colon = firstColon;
    for (;;) {
      const s = lines[li]!;
      const key = keyText(s, col, colon);
      const p = addKey(pos, key, path, li + 1, col + 1);
      const v = skipSpaces(s, colon + 1);
      let value: unknown = null;
      if (v === s.length || s.charCodeAt(v) === HASH) {
        const nl = nextContent(li + 1);
        next = li + 1;
        if (nl < n && indent[nl]! > col) value = blockNode(nl, indent[nl]!, p);
        else if (nl < n && indent[nl] === col && isSeqMarker(lines[nl]!, col)) value = blockSeq(nl, col, p);
      } else value = inlineValue(li, v, p);
      setKey(out, key, value);
      const nl = nextContent(next);
      if (nl >= n) {
        next = nl;
        return out;
      }
      const ind = indent[nl]!;
      if (ind < col) {
        next = nl;
        return out;
      }
      if (ind > col || isSeqMarker(lines[nl]!, col)) outside();
      li = nl;
      colon = keyEnd(lines[li]!, col);
      if (colon < 0) outside();
    }
  };

  try {
    const first = nextContent(0);
    if (first >= n) return { data: null, positions, duplicates };
    const data = blockNode(first, indent[first]!, '');
    if (nextContent(next) < n) return undefined;
    return { data, positions, duplicates };
  } catch (e) {
    if (e === OUTSIDE) return undefined;
    throw e;
  }
}
