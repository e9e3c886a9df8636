/**
 * The io end of output: atomic writes of one file, and the output tree (`dist/`) replaced in one step.
 *
 * The output root is a symbolic link to one complete version of the tree, kept in a hidden folder
 * beside it (`dist -> .dist.versions/<id>`). A new version is written in full next to the current one
 * and swapped in by renaming a new link over the old one, which is atomic: a reader, or a run killed
 * at any point, sees the old tree or the new one, never a mix. What a run leaves behind when it is
 * killed (a version never linked, a link never renamed) is removed by the next run.
 */
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  type Stats,
} from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';

/** A failure to write output that is not the file system's: what is wrong, and what the user can do. */
export class OutputError extends Error {
  constructor(
    message: string,
    readonly hint: string,
    /** `output-not-ours`: the path holds something agent-infra did not create, which it never moves or replaces. */
    readonly code: 'unwritable-output' | 'output-not-ours' | 'unsafe-output' = 'unwritable-output',
  ) {
    super(message);
  }
}

/**
 * Creates folder `dir` and its missing parents. Node's own `recursive` creation loops without end
 * where a file system refuses a folder with ENOENT although its parent exists (under /proc): here
 * that is an error.
 */
export function makeDir(dir: string): void {
  const st = lstat(dir);
  if (st?.isDirectory() || (st?.isSymbolicLink() && lstat(resolve(dirname(dir), readlinkSync(dir)))?.isDirectory()))
    return;
  if (st) throw new OutputError(`${dir} is not a folder`, 'remove it or choose another --out');
  const parent = dirname(dir);
  if (parent !== dir) makeDir(parent);
  try {
    mkdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !lstat(dir)?.isDirectory()) throw e;
  }
}

/** Writes a file through a temporary sibling and a rename, so readers never see half of it; `mode` as given (else the umask's). */
export function writeFileAtomic(file: string, data: string | Uint8Array, mode?: number): void {
  makeDir(dirname(file));
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, data);
    if (mode !== undefined) chmodSync(tmp, mode);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Where `cdk8s synth` wrote copies of the manifests before its output folder became the output root: not carried over. */
const LEGACY_CDK8S_OUTPUT = '.cdk8s/';

/** The list of the files agent-infra wrote into the tree, one path per line; anything else is the user's. */
export const OUTPUT_MANIFEST = '.agent-infra-files';

const lstat = (p: string): Stats | undefined => {
  try {
    return lstatSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
};

/** Whether process `pid` exists (a version folder named after a live run is that run's work). */
function runs(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Every regular file and link below `dir`, as paths relative to it with `/` separators, sorted. */
function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(dir, rel));
    else out.push(rel);
  }
  return out.sort();
}

/** Whether `name` (a child of a versions folder) is a version agent-infra made: `<pid>-<mkdtemp suffix>` or `<pid>-plain`. */
const isVersionName = (name: string) => /^\d+-(?:[A-Za-z0-9]{6}|plain)$/.test(name);

/**
 * The tree the output root shows now: where it is, and whether it is a plain (empty) folder. Only what
 * agent-infra made is ever replaced: a link into its versions folder, or an empty folder. A link
 * elsewhere, or a folder with files in it, is the user's: refused, never moved.
 */
function currentTree(target: string, versions: string): { dir?: string; plain: boolean } {
  const st = lstat(target);
  if (!st) return { plain: false };
  if (st.isDirectory()) {
    if (readdirSync(target).length === 0) return { dir: target, plain: true };
    throw new OutputError(
      'it is a folder agent-infra did not write (it is not a link to a version of its output)',
      'move that folder away or pass another --out; agent-infra never moves or replaces what it did not create',
      'output-not-ours',
    );
  }
  if (st.isSymbolicLink()) {
    const to = readlinkSync(target);
    const dir = resolve(dirname(target), to);
    if (dirname(dir) !== versions || !isVersionName(basename(dir))) {
      throw new OutputError(
        `it is a link to ${to}, which agent-infra did not make`,
        'remove that link or pass another --out; agent-infra never replaces what it did not create',
        'output-not-ours',
      );
    }
    return lstat(dir)?.isDirectory() ? { dir, plain: false } : { plain: false };
  }
  throw new OutputError(
    `it is ${st.isFile() ? 'a file' : 'a device, socket or FIFO'}, not a folder`,
    'remove it or choose another --out',
  );
}

/**
 * Puts back the output root when it is missing but a version of it is there: a plain folder that a
 * killed run had moved aside (the one step that is not atomic), or the link that `cdk8s synth` removes
 * before it runs the app (its output folder is the output root). The newest complete version of a run
 * no longer alive is linked again, so that the files in it are carried over, not lost.
 */
function restoreRoot(target: string, versions: string): void {
  if (lstat(target) || !existsSync(versions)) return;
  const names = readdirSync(versions).filter((n) => isVersionName(n) && !runs(Number(n.split('-')[0])));
  const aside = names.find((n) => /^\d+-plain$/.test(n));
  if (aside) return renameSync(join(versions, aside), target);
  const complete = names
    .map((n) => ({ n, st: lstat(join(versions, n, OUTPUT_MANIFEST)) }))
    .filter((v): v is { n: string; st: Stats } => v.st?.isFile() === true)
    .sort((a, b) => b.st.mtimeMs - a.st.mtimeMs || (a.n < b.n ? -1 : 1));
  if (complete[0]) symlinkSync(relative(dirname(target), join(versions, complete[0].n)), target);
}

/**
 * Removes the versions and links that runs no longer alive left behind, all but `keep`. This process's
 * own are left behind too: it writes one tree at a time, and is not writing one now.
 */
function removeLeftovers(target: string, versions: string, keep: string | undefined): void {
  const pidOf = (name: string) => Number(/^(\d+)-/.exec(name)?.[1] ?? /\.(\d+)\.link$/.exec(name)?.[1]);
  const alive = (name: string) => pidOf(name) !== process.pid && runs(pidOf(name));
  // Only names agent-infra gives its versions and links: anything else there is left alone.
  for (const name of existsSync(versions) ? readdirSync(versions) : []) {
    const p = join(versions, name);
    if (p !== keep && isVersionName(name) && !alive(name)) rmSync(p, { recursive: true, force: true });
  }
  const parent = dirname(target);
  const linkPrefix = `.${basename(target)}.`;
  for (const name of readdirSync(parent)) {
    if (
      name.startsWith(linkPrefix) &&
      /^\d+$/.test(name.slice(linkPrefix.length, -'.link'.length)) &&
      name.endsWith('.link') &&
      lstat(join(parent, name))?.isSymbolicLink() &&
      !alive(name)
    )
      rmSync(join(parent, name), { force: true });
  }
}

/**
 * Replaces the output tree at `out` with one in which the folders `replaced` (top-level names such as
 * `k8s`) hold exactly the `files` below them (path relative to `out` -> content); every other file of
 * the current tree is carried over: the other folders, and files the user put inside a replaced one
 * (`compose/.env`), which the manifest of the last run tells apart from agent-infra's own.
 */
export function writeOutput(out: string, files: ReadonlyMap<string, string>, replaced: readonly string[]): void {
  const target = resolve(out);
  const versions = join(dirname(target), `.${basename(target)}.versions`);
  const versionsSt = lstat(versions);
  if (versionsSt && !versionsSt.isDirectory())
    throw new OutputError(
      `${versions} is not a folder of agent-infra's versions`,
      'move it away or pass another --out',
      'output-not-ours',
    );
  restoreRoot(target, versions);
  const current = currentTree(target, versions);
  makeDir(versions);
  removeLeftovers(target, versions, current.dir);
  const stage = mkdtempSync(join(versions, `${process.pid}-`));
  chmodSync(stage, 0o755);
  const link = join(dirname(target), `.${basename(target)}.${process.pid}.link`);
  try {
    const isReplaced = (rel: string) => replaced.some((d) => rel.startsWith(`${d}/`));
    const manifestFile = current.dir ? join(current.dir, OUTPUT_MANIFEST) : undefined;
    const previous =
      manifestFile && existsSync(manifestFile)
        ? new Set(readFileSync(manifestFile, 'utf8').split('\n').filter(Boolean))
        : undefined;
    const ours = (rel: string) => previous?.has(rel) === true;
    const present = current.dir
      ? listFiles(current.dir).filter((rel) => rel !== OUTPUT_MANIFEST && !rel.startsWith(LEGACY_CDK8S_OUTPUT))
      : [];
    // A file of the user's where agent-infra now writes one is not overwritten: the user moves it.
    const clash = present.find((rel) => files.has(rel) && !ours(rel));
    if (clash)
      throw new OutputError(
        `${clash} there was not written by agent-infra, and this run writes a file of that name`,
        `move ${clash} out of the output folder; agent-infra never replaces what it did not create`,
        'output-not-ours',
      );
    const kept = new Set(present.filter((rel) => !files.has(rel) && !(isReplaced(rel) && ours(rel))));
    for (const rel of kept)
      cpSync(join(current.dir!, rel), join(stage, rel), {
        recursive: true,
        verbatimSymlinks: true,
        preserveTimestamps: true,
      });
    for (const [rel, text] of [...files].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (rel.split('/').includes('..') || rel.startsWith('/'))
        throw new Error(`output path ${rel} leaves the output folder`);
      const f = join(stage, rel);
      mkdirSync(dirname(f), { recursive: true });
      writeFileSync(f, text);
    }
    const manifest = [...(previous ?? []).values()]
      .filter((rel) => !isReplaced(rel) && kept.has(rel))
      .concat([...files.keys()])
      .sort();
    writeFileSync(join(stage, OUTPUT_MANIFEST), `${manifest.join('\n')}\n`);
    symlinkSync(relative(dirname(target), stage), link);
    // A plain folder cannot be replaced by a link in one rename: it moves aside first (once; from then
    // on the root is a link).
    if (current.plain) renameSync(target, join(versions, `${process.pid}-plain`));
    renameSync(link, target);
  } catch (e) {
    rmSync(link, { force: true });
    rmSync(stage, { recursive: true, force: true });
    if (readdirSync(versions).length === 0) rmSync(versions, { recursive: true, force: true });
    throw e;
  }
  const old = current.plain ? join(versions, `${process.pid}-plain`) : current.dir;
  if (old && (old + sep).startsWith(versions + sep)) rmSync(old, { recursive: true, force: true });
}

/** A path the output root may be neither nor hold, and what it is (for the message). */
export interface GuardedPath {
  readonly path: string;
  readonly what: string;
}

/** The real path of `p`, or of its nearest existing ancestor joined with the rest. */
function realPath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    const parent = dirname(p);
    return parent === p ? p : join(realPath(parent), basename(p));
  }
}

/** The root of the git work tree `dir` is in, when it is in one. */
export function gitWorkTree(dir: string): string | undefined {
  for (let d = resolve(dir); ; d = dirname(d)) {
    if (lstat(join(d, '.git'))) return d;
    if (dirname(d) === d) return undefined;
  }
}

/**
 * Refuses an output root that is, or holds, one of `guarded` (the run's inputs), a git work tree's
 * root, the home folder or `/`: the swap replaces the root as a whole, so it must hold nothing but
 * output. Links are followed for every path but the root's own last part (agent-infra's link).
 */
export function checkOutputRoot(out: string, guarded: readonly GuardedPath[]): void {
  const root = join(realPath(dirname(resolve(out))), basename(resolve(out)));
  const all: GuardedPath[] = [
    ...guarded,
    { path: homedir(), what: 'the home folder' },
    { path: '/', what: 'the root of the file system' },
  ];
  if (lstat(join(root, '.git'))) all.push({ path: root, what: 'a git work tree' });
  for (const g of all) {
    const p = realPath(resolve(g.path));
    if (p === root || p.startsWith(root === '/' ? '/' : root + sep)) {
      const how = p === root ? 'is' : 'holds';
      throw new OutputError(
        `the output folder ${how} ${g.what}${p === root ? '' : ` (${relative(root, p)})`}, and it is replaced as a whole`,
        'pass an --out of its own, such as dist beside the spec',
        'unsafe-output',
      );
    }
  }
}
