/** `scan-ips`: finds hard-coded IPv4 addresses in Python sources and, with --fix, reads them from the environment instead. */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { writeFileAtomic } from './write.ts';
import { findIPv4, isAnyOrLoopback } from './ipv4.ts';
import { byString } from './plan/names.ts';
import { initPython, literalsOf } from './source/python.ts';

export interface IpFinding {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly address: string;
  readonly variable?: string;
  readonly fixed: boolean;
}

export interface IpScan {
  readonly filesScanned: number;
  readonly filesWithFindings: number;
  readonly findings: readonly IpFinding[];
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

/**
 * Rewrites one source text; returns the new text and the findings (with whether each was fixed).
 * Addresses are looked for in the string literals and comments of the syntax tree; a plain
 * one-line string whose every address has a variable is rewritten, every other byte of the file is
 * kept. Needs {@link initPython}.
 */
export function fixPythonSource(text: string, mapping: Readonly<Record<string, string>>): { text: string; findings: Omit<IpFinding, 'file'>[] } {
  const { strings, comments, importsOs, futureEnd } = literalsOf(text);
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
  const found: { offset: number; address: string; fixed: boolean }[] = [];
  const edits: { start: number; end: number; text: string }[] = [];
  for (const c of comments) for (const m of addresses(text.slice(c.start, c.end))) found.push({ offset: c.start + m.index, address: m.address, fixed: false });
  for (const lit of strings) {
    const ips = lit.parts.flatMap((p) => addresses(text.slice(p.start, p.end)).map((m) => ({ ...m, offset: p.start + m.index })));
    if (ips.length === 0) continue;
    const body = text.slice(lit.parts[0]?.start ?? lit.start, lit.parts.at(-1)?.end ?? lit.start);
    const plain = lit.prefix === '' && !lit.triple && !lit.interpolated && lit.parts.length === 1 && !body.includes('\\') && ips.every((m) => mapping[m.address]);
    const replacement = plain ? rewrite(body, ips.map((m) => ({ address: m.address, index: m.offset - lit.parts[0]!.start })), lit.quote, mapping) : undefined;
    if (replacement !== undefined) edits.push({ start: lit.start, end: lit.end, text: replacement });
    for (const m of ips) found.push({ offset: m.offset, address: m.address, fixed: replacement !== undefined });
  }
  const findings = found.sort((a, b) => a.offset - b.offset).map((f) => ({ ...where(f.offset), address: f.address, ...(mapping[f.address] ? { variable: mapping[f.address] } : {}), fixed: f.fixed }));
  if (edits.length === 0) return { text, findings };
  let out = text;
  for (const e of edits.sort((a, b) => b.start - a.start)) out = `${out.slice(0, e.start)}${e.text}${out.slice(e.end)}`;
  if (!importsOs) {
    const at = importPosition(out, futureEnd);
    out = `${out.slice(0, at)}import os\n${out.slice(at)}`;
  }
  return { text: out, findings };
}

/** A plain string literal holding addresses, rewritten to read them from the environment (undefined when it cannot be). */
function rewrite(body: string, ips: readonly { address: string; index: number }[], q: string, mapping: Readonly<Record<string, string>>): string | undefined {
  const get = (ip: string, inner: string) => `os.environ.get(${inner}${mapping[ip]}${inner}, ${inner}localhost${inner})`;
  if (ips.length === 1 && body === ips[0]!.address) return get(body, q);
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
 * before every other statement), else after a shebang and an encoding line.
 */
function importPosition(text: string, futureEnd: number | undefined): number {
  if (futureEnd !== undefined) {
    const nl = text.indexOf('\n', futureEnd);
    return nl < 0 ? text.length : nl + 1;
  }
  return /^(#![^\n]*\n)?(#[^\n]*coding[^\n]*\n)?/.exec(text)![0].length;
}

/** Scans (and with `fix`, rewrites) every Python file below `dir`. */
export async function scanIps(dir: string, mapping: Readonly<Record<string, string>>, fix: boolean): Promise<IpScan> {
  await initPython();
  const files = pythonFiles(dir);
  const findings: IpFinding[] = [];
  let withFindings = 0;
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    const r = fixPythonSource(text, mapping);
    if (r.findings.length > 0) withFindings++;
    const rel = relative(process.cwd(), f) || f;
    findings.push(...r.findings.map((x) => ({ file: rel, ...x, fixed: fix && x.fixed })));
    if (fix && r.text !== text) writeFileAtomic(f, r.text);
  }
  return { filesScanned: files.length, filesWithFindings: withFindings, findings };
}
