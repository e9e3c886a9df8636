/** `scan-ips`: finds hard-coded IPv4 addresses in Python sources and, with --fix, reads them from the environment instead. */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { writeFileAtomic } from './write.ts';
import { findIPv4, isAnyOrLoopback } from './ipv4.ts';
import { byString } from './plan/names.ts';

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
/** A one-line Python string literal without prefix: `"..."` or `'...'`. */
const STRING = /(?<![A-Za-z0-9_])(["'])((?:\\.|(?!\1)[^\\\n])*)\1/g;

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

/** Rewrites one source text; returns the new text and the findings (with whether each was fixed). */
export function fixPythonSource(text: string, mapping: Readonly<Record<string, string>>): { text: string; findings: Omit<IpFinding, 'file'>[] } {
  const findings: Omit<IpFinding, 'file'>[] = [];
  const lines = text.split('\n');
  let changed = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trimStart().startsWith('#')) {
      for (const m of addresses(line)) findings.push({ line: i + 1, column: m.index + 1, address: m.address, ...(mapping[m.address] ? { variable: mapping[m.address] } : {}), fixed: false });
      continue;
    }
    const fixedAt = new Set<number>();
    const rewritten = line.replace(STRING, (lit, q: string, body: string, offset: number) => {
      const ips = addresses(body);
      if (ips.length === 0 || ips.some((m) => !mapping[m.address])) return lit;
      for (const m of ips) fixedAt.add(offset + 1 + m.index);
      const get = (ip: string, inner: string) => `os.environ.get(${inner}${mapping[ip]}${inner}, ${inner}localhost${inner})`;
      if (ips.length === 1 && body === ips[0]!.address) return get(body, q);
      if (/[{}]/.test(body)) return lit;
      const other = q === '"' ? "'" : '"';
      let out = '';
      let from = 0;
      for (const m of ips) {
        out += `${body.slice(from, m.index)}{${get(m.address, other)}}`;
        from = m.index + m.address.length;
      }
      return `f${q}${out}${body.slice(from)}${q}`;
    });
    for (const m of addresses(line)) {
      findings.push({ line: i + 1, column: m.index + 1, address: m.address, ...(mapping[m.address] ? { variable: mapping[m.address] } : {}), fixed: fixedAt.has(m.index) });
    }
    if (rewritten !== line) {
      lines[i] = rewritten;
      changed = true;
    }
  }
  if (!changed) return { text, findings };
  let out = lines.join('\n');
  if (!/^\s*import os\s*$/m.test(out) && !/^\s*import os(,|\s+as)/m.test(out)) {
    const at = importPosition(out);
    out = `${out.slice(0, at)}import os\n${out.slice(at)}`;
    return { text: out, findings: findings.map((f) => ({ ...f })) };
  }
  return { text: out, findings };
}

/**
 * Where `import os` may go: after the last `from __future__ import` (which must come first of all
 * statements), else after a shebang and an encoding line.
 */
function importPosition(text: string): number {
  const future = [...text.matchAll(/^from __future__ import[^\n]*/gm)].at(-1);
  if (future) {
    let end = future.index + future[0].length;
    // A parenthesized list over several lines ends at its closing parenthesis.
    if (future[0].includes('(') && !future[0].includes(')')) end = text.indexOf(')', end) + 1;
    const nl = text.indexOf('\n', end);
    return nl < 0 ? text.length : nl + 1;
  }
  return /^(#![^\n]*\n)?(#[^\n]*coding[^\n]*\n)?/.exec(text)![0].length;
}

/** Scans (and with `fix`, rewrites) every Python file below `dir`. */
export function scanIps(dir: string, mapping: Readonly<Record<string, string>>, fix: boolean): IpScan {
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
