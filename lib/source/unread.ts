/**
 * Without a source tree the agents' imports are not followed: each image copies its agents' script
 * folders and its family's `sharedDirs`, and installs its family's requirements. What that leaves out is
 * said, with the fix, rather than images that cannot start their agents written without a word.
 */
import { existsSync, readdirSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import { andList, diag, type Diagnostic, type SourceRef } from '../diagnostics.ts';
import { declaresInstalls } from '../config/spec.ts';
import type { SystemPlan } from '../plan/types.ts';

/** Folders never searched for Python code: hidden ones, caches, dependencies, virtual environments. */
const SKIP = new Set(['node_modules', '__pycache__', 'site-packages']);
/** How many directory entries the search reads at most (a repository of models stays fast). */
const BUDGET = 20_000;

/** The top-level folders of `root` that hold Python code somewhere below them, sorted. */
export function pythonFolders(root: string): string[] {
  let budget = BUDGET;
  const list = (dir: string): Dirent[] => {
    try {
      const entries = readdirSync(dir, { withFileTypes: true });
      budget -= entries.length;
      return entries;
    } catch {
      return [];
    }
  };
  const holdsPython = (dir: string, depth: number): boolean => {
    const entries = list(dir);
    if (entries.some((e) => e.name === 'pyvenv.cfg')) return false;
    if (entries.some((e) => e.isFile() && e.name.endsWith('.py'))) return true;
    if (depth === 0) return false;
    return entries.some(
      (e) =>
        budget > 0 &&
        e.isDirectory() &&
        !e.name.startsWith('.') &&
        !SKIP.has(e.name) &&
        holdsPython(join(dir, e.name), depth - 1),
    );
  };
  return list(root)
    .filter((e) => e.isDirectory() && !e.name.startsWith('.') && !SKIP.has(e.name))
    .map((e) => e.name)
    .sort()
    .filter((d) => budget > 0 && holdsPython(join(root, d), 8));
}

/**
 * One warning when the code was not read and the images may lack what it imports: the folders with
 * Python code that no image copies, and the families that install no Python package. Undefined when
 * neither is the case.
 */
export function unreadCodeDiagnostic(
  plan: SystemPlan,
  codeRoot: string,
  at: SourceRef | undefined,
): Diagnostic | undefined {
  if (plan.agents.length === 0) return undefined;
  const copied = new Set(plan.images.flatMap((i) => i.sourceDirs));
  const missing = pythonFolders(codeRoot).filter((d) => !copied.has(d));
  const empty = plan.images.filter((i) => !declaresInstalls(i)).map((i) => `'${i.family}'`);
  const scripts = plan.agents.filter((a) => a.scriptPath !== undefined);
  const absent = scripts.filter((a) => !existsSync(join(codeRoot, a.scriptPath!)));
  if (missing.length === 0 && empty.length === 0 && (absent.length === 0 || absent.length === scripts.length))
    return undefined;
  const parts = [
    // None below it: the code lives elsewhere (the images' build context), which says nothing of it.
    ...(absent.length && absent.length < scripts.length
      ? [
          `${absent.length} of the ${scripts.length} agents' scripts are not below the spec's folder (e.g. ${absent[0]!.scriptPath})`,
        ]
      : []),
    ...(missing.length
      ? [
          `${andList(missing.map((d) => `${d}/`))} ${missing.length === 1 ? 'holds' : 'hold'} Python code that no image copies (each copies its agents' script folders and its family's sharedDirs)`,
        ]
      : []),
    ...(empty.length
      ? [
          `image famil${empty.length === 1 ? 'y' : 'ies'} ${andList(empty)} install${empty.length === 1 ? 's' : ''} no Python package`,
        ]
      : []),
  ];
  return diag(
    'code-not-read',
    'warning',
    `the agents' code is not read (no source tree), so the images may lack what it imports: ${parts.join('; ')}; add 'source: .' to the spec (the root of the system's code) so that check and synth follow each agent's imports${missing.length ? ', or list the folders the agents import in sharedDirs' : ''}`,
    at,
  );
}
