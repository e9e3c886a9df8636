/**
 * Requirement files as pip reads them: one requirement per logical line (a trailing `\` joins lines, `#`
 * after whitespace starts a comment), `-r`/`-c` include other files relative to the including one, other
 * options (`--index-url`, `-e`, `--hash`...) are pip's business. Read for what an image family copies
 * (the files and everything they include), for pins that cannot hold together in one environment, and for
 * lines pip would refuse.
 */
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { diag, type Diagnostic } from '../diagnostics.ts';
import type { PlannedImage, SystemPlan } from '../plan/types.ts';

/** A distribution name as PEP 503 compares them. */
export const normalName = (name: string) => name.toLowerCase().replace(/[-_.]+/g, '-');

/** One requirement of a file: its distribution (PEP 503 name), where it is, and its exact pin if it has one. */
export interface Requirement {
  readonly name: string;
  readonly file: string;
  readonly line: number;
  /** `==X` alone, without markers (which may not apply) or wildcards: the one version it allows. */
  readonly pin?: string;
}

export interface RequirementFile {
  readonly file: string;
  readonly requirements: readonly Requirement[];
  /** Files it names with `-r` (installed) or `-c` (constraints only), relative to the root. */
  readonly includes: readonly { readonly file: string; readonly line: number; readonly constraint: boolean }[];
  /** Lines pip would refuse. */
  readonly problems: readonly { readonly line: number; readonly message: string }[];
}

const NAME = /^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[^\]]*\])?\s*(.*)$/;
const SPECIFIER =
  /^(===|==|~=|!=|<=|>=|<|>)\s*[A-Za-z0-9*+!._-]+(\s*,\s*(===|==|~=|!=|<=|>=|<|>)\s*[A-Za-z0-9*+!._-]+)*$/;
const INCLUDE = /^(-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+)(\S+)$/;
/** Lines that are pip options or direct references (a path, a URL, a VCS link), not named requirements. */
const OPTION_OR_REFERENCE = /^(-|\.{0,2}\/|[a-z][a-z0-9+.-]*:\/\/|git\+|hg\+|svn\+|bzr\+)/i;

/** Parses one requirement file's text; `file` is its path relative to the root (for includes and locations). */
export function parseRequirements(file: string, text: string): RequirementFile {
  const acc: Parsed = { requirements: [], includes: [], problems: [] };
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    let logical = lines[i]!;
    while (logical.endsWith('\\') && i + 1 < lines.length) logical = logical.slice(0, -1) + lines[++i]!;
    readLogical(file, logical.replace(/(^|\s)#.*$/, '').trim(), line, acc);
  }
  return { file, ...acc };
}

interface Parsed {
  requirements: Requirement[];
  includes: { file: string; line: number; constraint: boolean }[];
  problems: { line: number; message: string }[];
}

/** One logical line of a requirement file (comment removed, trimmed), into `acc`. */
function readLogical(file: string, t: string, line: number, acc: Parsed): void {
  if (t === '') return;
  const inc = INCLUDE.exec(t);
  if (inc) {
    acc.includes.push({
      file: posix.normalize(posix.join(posix.dirname(file), inc[2]!)),
      line,
      constraint: inc[1]!.startsWith('-c') || inc[1] === '--constraint',
    });
    return;
  }
  if (OPTION_OR_REFERENCE.test(t)) return;
  const m = NAME.exec(t);
  const [spec, markers] = m ? splitMarkers(m[3]!.replace(/\s--hash=\S+/g, '').trim()) : ['', undefined];
  const direct = spec.startsWith('@');
  const bare = spec.replace(/^\((.*)\)$/, '$1').trim();
  if (!m || (!direct && bare !== '' && !SPECIFIER.test(bare))) {
    acc.problems.push({
      line,
      message: `'${t.length > 60 ? `${t.slice(0, 59)}…` : t}' is no requirement pip reads (name[extras] specifiers ; markers)`,
    });
    return;
  }
  const exact = /^==\s*([A-Za-z0-9+!._-]+)$/.exec(bare);
  acc.requirements.push({
    name: normalName(m[1]!),
    file,
    line,
    ...(exact && markers === undefined && !direct ? { pin: exact[1]! } : {}),
  });
}

/**
 * A `pyproject.toml`'s `[project] dependencies`, as the lines of a requirement file (its line numbers
 * kept): the array of strings TOML writes there, on one line or many. Anything else of the file is not
 * read; a file without that table installs nothing.
 */
export function parsePyproject(file: string, text: string): RequirementFile {
  const lines = text.split(/\r?\n/);
  const acc: Parsed = { requirements: [], includes: [], problems: [] };
  const STRING = /"((?:[^"\\]|\\.)*)"|'([^']*)'/g;
  let table = '';
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i]!.replace(/(^|\s)#.*$/, '').trim();
    const header = /^\[([^\]]+)\]$/.exec(t);
    if (header) table = header[1]!.trim();
    if (header || table !== 'project' || !/^dependencies\s*=/.test(t)) continue;
    const rest = t.replace(/^dependencies\s*=\s*/, '');
    if (!rest.startsWith('[')) {
      acc.problems.push({ line: i + 1, message: 'dependencies is not an array of strings' });
      break;
    }
    // Each string of the array at the line it is written on, up to the closing bracket outside a string.
    for (let j = i, chunk = rest.slice(1); j < lines.length; chunk = lines[++j] ?? '') {
      for (const m of chunk.matchAll(STRING)) readLogical(file, (m[1] ?? m[2]!).trim(), j + 1, acc);
      if (chunk.replace(STRING, '').includes(']')) break;
    }
    break;
  }
  return { file, ...acc };
}

const splitMarkers = (s: string): [string, string | undefined] => {
  const at = s.indexOf(';');
  return at < 0 ? [s, undefined] : [s.slice(0, at).trim(), s.slice(at + 1).trim()];
};

/** Each listed file and every file it includes, read from `root` (undefined where one cannot be read). */
export function readRequirementTree(root: string, files: readonly string[]): Map<string, RequirementFile | undefined> {
  const out = new Map<string, RequirementFile | undefined>();
  const queue = [...files];
  while (queue.length) {
    const f = queue.shift()!;
    if (out.has(f)) continue;
    if (f.split('/').includes('..')) {
      out.set(f, undefined);
      continue;
    }
    try {
      const text = readFileSync(join(root, f), 'utf8');
      const parsed = f.endsWith('pyproject.toml') ? parsePyproject(f, text) : parseRequirements(f, text);
      out.set(f, parsed);
      queue.push(...parsed.includes.map((x) => x.file));
    } catch {
      out.set(f, undefined);
    }
  }
  return out;
}

/**
 * The images with every requirement file they must copy (the listed ones and what they include), and
 * the problems of those files per family: a line pip refuses, an include that does not exist, and a
 * distribution pinned to two versions (one environment cannot hold both: pip refuses the build).
 * Files that are absent from `root` altogether are not judged: the build context may be elsewhere.
 */
export function requirementProblems(
  plan: SystemPlan,
  root: string,
  shown: (file: string) => string,
): { images: PlannedImage[]; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const seenFile = new Set<string>();
  const images = plan.images.map((image) => {
    if (image.requirements.length === 0) return image;
    const tree = readRequirementTree(root, image.requirements);
    if (image.requirements.every((f) => tree.get(f) === undefined)) return image;
    const at = (file: string, line: number) => ({ file: shown(file), line, column: 1, path: '' });
    for (const r of tree.values()) {
      if (!r || seenFile.has(r.file)) continue;
      seenFile.add(r.file);
      for (const p of r.problems)
        diagnostics.push(
          diag('invalid-requirement', 'error', `${p.message}; fix or remove the line`, at(r.file, p.line)),
        );
      for (const inc of r.includes)
        if (tree.get(inc.file) === undefined)
          diagnostics.push(
            diag(
              'invalid-requirement',
              'error',
              `${inc.constraint ? '-c' : '-r'} ${inc.file} names no file under the source root (or one outside it); fix the path`,
              at(r.file, inc.line),
            ),
          );
    }
    // Pins of one distribution in the files this family installs (constraints only narrow them).
    const installed = new Set<string>();
    const follow = (f: string) => {
      if (installed.has(f)) return;
      installed.add(f);
      for (const inc of tree.get(f)?.includes ?? []) if (!inc.constraint) follow(inc.file);
    };
    image.requirements.forEach(follow);
    const pins = new Map<string, Requirement[]>();
    for (const f of [...installed].sort())
      for (const q of tree.get(f)?.requirements ?? []) if (q.pin) pins.set(q.name, [...(pins.get(q.name) ?? []), q]);
    for (const [name, list] of [...pins].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const versions = [...new Set(list.map((q) => q.pin!))];
      if (versions.length < 2) continue;
      const where = versions.map((v) => {
        const q = list.find((x) => x.pin === v)!;
        return `${v} (${shown(q.file)}:${q.line})`;
      });
      const first = list[0]!;
      diagnostics.push(
        diag(
          'conflicting-pins',
          'error',
          `image family '${image.family}' installs ${name} pinned to ${where.join(' and ')}: one environment cannot hold both, and pip refuses the build; agree on one version, or put the agents that need each in families of their own`,
          at(first.file, first.line),
        ),
      );
    }
    const copies = [...tree.keys()].filter((f) => tree.get(f) !== undefined);
    return {
      ...image,
      requirementCopies: [...image.requirements, ...copies.filter((f) => !image.requirements.includes(f)).sort()],
    };
  });
  return { images, diagnostics };
}
