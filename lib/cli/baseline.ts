/**
 * A baseline of known problems, as eslint and ruff have it: `check --write-baseline` records today's
 * errors and warnings; later runs show only the new ones and say how many known ones remain. It changes
 * what is shown, never the exit code: `check` still accepts only what `synth` can build.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Diagnostic } from '../diagnostics.ts';
import { writeFileAtomic } from '../write.ts';

export const BASELINE_FILE = 'agent-infra.baseline.json';
const MARK = 'agent-infra-baseline';

/**
 * A problem as the baseline knows it: its severity, code, file and message (not its line, which moves
 * with edits above it). A known warning that becomes an error (`--strict`) is new.
 */
const fingerprint = (d: Pick<Diagnostic, 'severity' | 'code' | 'file' | 'message'>) =>
  `${d.severity}\0${d.code}\0${d.file ?? ''}\0${d.message}`;

/** The baseline's path: `--baseline FILE`, else beside the spec (or in the working folder without one). */
export function baselinePath(cwd: string, spec: string | undefined, given: string | undefined): string {
  return given ? resolve(cwd, given) : join(spec ? dirname(resolve(cwd, spec)) : cwd, BASELINE_FILE);
}

/** Writes the errors and warnings as the baseline; refuses a file of that name that is no baseline of ours. */
export function writeBaseline(file: string, ds: readonly Diagnostic[]): { written: number } | { refused: string } {
  if (existsSync(file) && readBaseline(file).problem)
    return { refused: `${file} exists and is no agent-infra baseline` };
  const problems = [
    ...new Map(
      ds
        .filter((d) => d.severity !== 'info' && d.ignored === undefined)
        .map((d) => [fingerprint(d), { severity: d.severity, code: d.code, file: d.file ?? null, message: d.message }]),
    ).entries(),
  ]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, p]) => p);
  writeFileAtomic(file, `${JSON.stringify({ [MARK]: 1, problems }, null, 2)}\n`);
  return { written: problems.length };
}

/** The known problems' fingerprints, or why the file cannot be used (absent: no problem, nothing known). */
export function readBaseline(file: string): { known: ReadonlySet<string>; problem?: string } {
  if (!existsSync(file)) return { known: new Set() };
  try {
    const j = JSON.parse(readFileSync(file, 'utf8')) as {
      [MARK]?: unknown;
      problems?: { severity?: unknown; code?: unknown; file?: unknown; message?: unknown }[];
    };
    if (j[MARK] !== 1 || !Array.isArray(j.problems))
      return { known: new Set(), problem: 'it is no agent-infra baseline' };
    return {
      known: new Set(
        j.problems
          .filter((p) => typeof p.code === 'string' && typeof p.message === 'string')
          .map((p) =>
            fingerprint({
              severity: p.severity === 'error' ? 'error' : 'warning',
              code: p.code as Diagnostic['code'],
              file: typeof p.file === 'string' ? p.file : undefined,
              message: p.message as string,
            }),
          ),
      ),
    };
  } catch (e) {
    return { known: new Set(), problem: `it cannot be read (${(e as Error).message.split('\n')[0]})` };
  }
}

/** The diagnostics the baseline does not know, and how many it hid. */
export function newProblems(
  ds: readonly Diagnostic[],
  known: ReadonlySet<string>,
): { shown: Diagnostic[]; hidden: number } {
  const shown = ds.filter((d) => d.severity === 'info' || !known.has(fingerprint(d)));
  return { shown, hidden: ds.length - shown.length };
}
