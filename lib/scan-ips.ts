/** `scan-ips`: finds hard-coded IPv4 addresses in Python sources and, with --fix, reads them from the environment instead. */
import { lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { writeFileAtomic } from './write.ts';
import { findIPv4, isAnyOrLoopback } from './ipv4.ts';
import { byString } from './plan/names.ts';
import { initPython, literalsOf, syntaxProblemOf, type StringLiteral } from './source/python.ts';
import { compileWithPython } from './source/cpython.ts';
import { decodePython, lineEnding } from './source/encoding.ts';
import { unifiedDiff } from './text-diff.ts';

export interface IpFinding {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly address: string;
  readonly variable?: string;
  readonly fixed: boolean;
  /** Why a finding with a variable was not rewritten. */
  readonly reason?: string;
}

export interface IpScan {
  readonly filesScanned: number;
  readonly filesWithFindings: number;
  readonly findings: readonly IpFinding[];
  /** With `dry-run`: the unified diff of every file a fix would rewrite (its text as read). */
  readonly diff?: string;
  /** The same diff in each file's own encoding, byte for byte as `diff -u` prints it. */
  readonly diffBytes?: Buffer;
}

const SKIP_DIRS = new Set(['.git', 'node_modules', '__pycache__', '.venv', 'venv', '.tox', 'dist', 'build']);
function pythonFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort(byString)) {
      const p = join(d, name);
      // Links are not followed: a loop, a dangling link or one out of the tree is not the tree's code.
      const st = lstatSync(p);
      if (st.isSymbolicLink()) continue;
      if (st.isDirectory()) {
        if (!SKIP_DIRS.has(name)) walk(p);
      } else if (name.endsWith('.py')) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** The addresses of one text that a finding is about. */
const addresses = (text: string) => findIPv4(text).filter((m) => !isAnyOrLoopback(m.address));

/** Why a literal that holds addresses cannot be rewritten in place, or undefined when it can. */
function unfixable(lit: StringLiteral, body: string): string | undefined {
  if (lit.context === 'docstring') return 'it is a docstring';
  if (lit.context === 'pattern') return 'it is a case pattern, where only a literal may stand';
  if (lit.interpolated || lit.prefix.includes('f')) return 'it is an f-string; put the variable in it by hand';
  if (lit.prefix.includes('b')) return 'it is a bytes literal';
  if (lit.prefix !== '' && lit.prefix !== 'u') return `it is a ${lit.prefix}-string`;
  if (lit.triple) return 'it is a triple-quoted string';
  if (lit.parts.length !== 1 || body.includes('\\')) return 'it holds escapes';
  return undefined;
}

/**
 * Rewrites one source text; returns the new text and the findings (with whether each was fixed).
 * Addresses are looked for in the string literals and comments of the syntax tree; a plain
 * one-line string whose every address has a variable is rewritten (as an f-string where it is one
 * part of an implicit concatenation, where a call could not stand), every other character of the
 * file is kept, and `import os` is added with the file's own line ending. Needs {@link initPython}.
 */
export function fixPythonSource(
  text: string,
  mapping: Readonly<Record<string, string>>,
): { text: string; findings: Omit<IpFinding, 'file'>[] } {
  const { strings, comments, importsOs, futureEnd, docstringEnd } = literalsOf(text);
  const lineStarts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  const where = (offset: number) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - lineStarts[lo]! + 1 };
  };
  const found: { offset: number; address: string; fixed: boolean; reason?: string }[] = [];
  const edits: { start: number; end: number; text: string }[] = [];
  for (const c of comments)
    for (const m of addresses(text.slice(c.start, c.end)))
      found.push({ offset: c.start + m.index, address: m.address, fixed: false, reason: 'it is in a comment' });
  for (const lit of strings) {
    const ips = lit.parts.flatMap((p) =>
      addresses(text.slice(p.start, p.end)).map((m) => ({ ...m, offset: p.start + m.index })),
    );
    if (ips.length === 0) continue;
    const body = text.slice(lit.parts[0]?.start ?? lit.start, lit.parts.at(-1)?.end ?? lit.start);
    const unmapped = ips.find((m) => !mapping[m.address]);
    let reason = unmapped ? `no variable is mapped for ${unmapped.address}` : unfixable(lit, body);
    const replacement = reason
      ? undefined
      : rewrite(
          body,
          ips.map((m) => ({ address: m.address, index: m.offset - lit.parts[0]!.start })),
          lit.quote,
          mapping,
          lit.context === 'concatenated',
        );
    if (replacement !== undefined) edits.push({ start: lit.start, end: lit.end, text: replacement });
    else reason ??= 'it holds { or }';
    for (const m of ips)
      found.push({
        offset: m.offset,
        address: m.address,
        fixed: replacement !== undefined,
        ...(replacement === undefined && mapping[m.address] ? { reason } : {}),
      });
  }
  const findings = found
    .sort((a, b) => a.offset - b.offset)
    .map((f) => ({
      ...where(f.offset),
      address: f.address,
      ...(mapping[f.address] ? { variable: mapping[f.address] } : {}),
      fixed: f.fixed,
      ...(f.reason && mapping[f.address] ? { reason: f.reason } : {}),
    }));
  if (edits.length === 0) return { text, findings };
  let out = text;
  for (const e of edits.sort((a, b) => b.start - a.start)) out = `${out.slice(0, e.start)}${e.text}${out.slice(e.end)}`;
  if (!importsOs) {
    // Edits come after the docstring and the future imports, so their offsets still hold in `out`.
    const at = importPosition(out, futureEnd ?? docstringEnd);
    out = `${out.slice(0, at)}import os${lineEnding(text)}${out.slice(at)}`;
  }
  return { text: out, findings };
}

/** A plain string literal holding addresses, rewritten to read them from the environment (undefined when it cannot be). */
function rewrite(
  body: string,
  ips: readonly { address: string; index: number }[],
  q: string,
  mapping: Readonly<Record<string, string>>,
  concatenated: boolean,
): string | undefined {
  const get = (ip: string, inner: string) =>
    `os.environ.get(${inner}${mapping[ip]}${inner}, ${inner}localhost${inner})`;
  if (ips.length === 1 && body === ips[0]!.address && !concatenated) return get(body, q);
  if (/[{}]/.test(body)) return undefined;
  const other = q === '"' ? "'" : '"';
  let out = '';
  let from = 0;
  for (const m of ips) {
    out += `${body.slice(from, m.index)}{${get(m.address, other)}}`;
    from = m.index + m.address.length;
  }
  return `f${q}${out}${body.slice(from)}${q}`;
}

/**
 * Where `import os` may go: on the line after the last `from __future__ import` (which must come
 * before every other statement) or the module's docstring (which must stay its first statement),
 * else after a shebang and an encoding line.
 */
function importPosition(text: string, after: number | undefined): number {
  if (after !== undefined) {
    const nl = text.indexOf('\n', after);
    return nl < 0 ? text.length : nl + 1;
  }
  return /^(#![^\n]*\n)?(#[^\n]*coding[^\n]*\n)?/.exec(text)![0].length;
}

/** What to do with the files: only report, rewrite them, or print the rewrite as a diff. */
export type ScanMode = 'scan' | 'fix' | 'dry-run';

/**
 * Scans (and with `fix`, rewrites) every Python file below `dir`. A rewrite is written only when the
 * new text parses, and compiles with python3 where there is one (the old text compiling too), in the
 * file's own encoding, atomically and with its mode; else the file is left as it is and each finding
 * says why.
 */
export async function scanIps(
  dir: string,
  mapping: Readonly<Record<string, string>>,
  mode: ScanMode | boolean,
): Promise<IpScan> {
  const how: ScanMode = mode === true ? 'fix' : mode === false ? 'scan' : mode;
  await initPython();
  const files = pythonFiles(dir);
  const findings: IpFinding[] = [];
  let withFindings = 0;
  const rewrites: {
    file: string;
    rel: string;
    old: Buffer;
    oldText: string;
    text: string;
    bytes: Buffer;
    first: number;
    count: number;
    charset: 'utf8' | 'latin1';
    bom: string;
  }[] = [];
  for (const f of files) {
    const bytes = readFileSync(f);
    const decoded = decodePython(bytes);
    const text = decoded.ok ? decoded.text : bytes.toString('latin1');
    const r = fixPythonSource(text, mapping);
    if (r.findings.length > 0) withFindings++;
    const rel = relative(process.cwd(), f) || f;
    const first = findings.length;
    const notDecoded = decoded.ok ? undefined : `the file cannot be rewritten: ${decoded.reason}`;
    findings.push(
      ...r.findings.map((x) => ({
        file: rel,
        ...x,
        ...(notDecoded && x.fixed ? { fixed: false, reason: notDecoded } : {}),
      })),
    );
    if (how === 'scan' || !decoded.ok || r.text === text) continue;
    const broken = syntaxProblemOf(text);
    const problem = broken ? undefined : syntaxProblemOf(r.text);
    if (broken)
      unfix(
        findings,
        first,
        r.findings.length,
        `the file does not compile (line ${broken.line}: ${broken.message}); fix that first`,
      );
    else if (problem)
      unfix(
        findings,
        first,
        r.findings.length,
        `the rewritten file would not parse (line ${problem.line}: ${problem.message})`,
      );
    if (broken || problem) continue;
    rewrites.push({
      file: f,
      rel,
      old: bytes,
      oldText: text,
      text: r.text,
      bytes: decoded.encode(r.text),
      first,
      count: r.findings.length,
      charset: decoded.charset,
      bom: decoded.bom ? '\ufeff' : '',
    });
  }
  // CPython has the last word: a file it cannot compile, before or after the rewrite, is not written.
  const judged = compileWithPython(
    rewrites.flatMap((w) => [
      { name: w.rel, bytes: w.old },
      { name: w.rel, bytes: w.bytes },
    ]),
  );
  const written = rewrites.filter((w, i) => {
    const [before, after] = [judged?.results[2 * i], judged?.results[2 * i + 1]];
    if (before)
      unfix(
        findings,
        w.first,
        w.count,
        `python3 ${judged!.version} cannot compile the file (line ${before.line}: ${before.message}); fix that first`,
      );
    else if (after)
      unfix(
        findings,
        w.first,
        w.count,
        `python3 ${judged!.version} cannot compile the rewritten file (line ${after.line}: ${after.message})`,
      );
    return !before && !after;
  });
  if (how === 'fix') for (const w of written) writeFileAtomic(w.file, w.bytes, statSync(w.file).mode & 0o7777);
  // The diff in each file's own bytes, as `diff -u` prints them; its text as read, for JSON.
  const diffs =
    how === 'dry-run'
      ? written.map((w) => ({ w, text: unifiedDiff(`a/${w.rel}`, `b/${w.rel}`, w.bom + w.oldText, w.bom + w.text) }))
      : undefined;
  return {
    filesScanned: files.length,
    filesWithFindings: withFindings,
    findings: findings.map((x) => (how === 'fix' || !x.fixed ? x : { ...x, fixed: false })),
    ...(diffs
      ? {
          diff: diffs.map((d) => d.text).join(''),
          diffBytes: Buffer.concat(diffs.map((d) => Buffer.from(d.text, d.w.charset))),
        }
      : {}),
  };
}

/** Marks the `count` findings of one file, from index `first`, as not fixed, for `reason`. */
function unfix(findings: IpFinding[], first: number, count: number, reason: string): void {
  for (let i = first; i < first + count; i++)
    if (findings[i]!.fixed) findings[i] = { ...findings[i]!, fixed: false, reason };
}
