/** `agent-infra check`: loads and plans the system, reports every problem, prints the plan summary. Writes nothing but the baseline it is asked for (`--write-baseline`). */
import { relative } from 'node:path';
import { sortDiagnostics } from '../diagnostics.ts';
import { lockOutdated } from '../lock.ts';
import { runPipelineAsync } from '../pipeline.ts';
import { LOAD_OPTIONS, loadArgs, OUTPUT_OPTIONS, outputArgs, parse } from './args.ts';
import { baselinePath, newProblems, readBaseline, writeBaseline } from './baseline.ts';
import { checkJson, printDiagnostics, summary } from './output.ts';

export async function checkCommand(args: readonly string[]): Promise<number> {
  const { values } = parse(args, {
    ...LOAD_OPTIONS,
    ...OUTPUT_OPTIONS,
    'frozen-lock': { type: 'boolean', default: false },
    baseline: { type: 'string' },
    'write-baseline': { type: 'boolean', default: false },
    'no-baseline': { type: 'boolean', default: false },
  });
  const out = outputArgs(values);
  const r0 = await runPipelineAsync(loadArgs(values));
  // The lock is synth's to write; check says whether it would change (an error with --frozen-lock).
  const stale = r0.ok
    ? lockOutdated(
        r0.loaded.lockFile,
        relative(process.cwd(), r0.loaded.lockFile) || r0.loaded.lockFile,
        r0.loaded.lock,
        r0.plan.lock,
        values['frozen-lock'] === true,
      )
    : undefined;
  const diagnostics = stale ? sortDiagnostics([...r0.diagnostics, stale]) : r0.diagnostics;
  const r = { ...r0, diagnostics, ok: r0.ok && stale?.severity !== 'error' };
  const load = loadArgs(values);
  const baseline = baselinePath(
    process.cwd(),
    load.spec,
    typeof values.baseline === 'string' ? values.baseline : undefined,
  );
  const shownPath = relative(process.cwd(), baseline) || baseline;
  if (values['write-baseline'] === true && !r.unusable) {
    const w = writeBaseline(baseline, r.diagnostics);
    if ('refused' in w) {
      console.error(`agent-infra: ${w.refused}; move it away or pass --baseline FILE [output-not-ours]`);
      return 2;
    }
    console.error(`agent-infra: wrote ${shownPath}: ${w.written} known problems`);
  }
  if (out.json) {
    console.log(JSON.stringify(checkJson(r), null, 2));
  } else {
    // The baseline hides the problems it knows from people; the exit code still counts them.
    const base =
      values['no-baseline'] === true || values['write-baseline'] === true ? undefined : readBaseline(baseline);
    if (base?.problem) console.error(`agent-infra: the baseline ${shownPath} is not used: ${base.problem}`);
    const { shown, hidden } = newProblems(r.diagnostics, base?.known ?? new Set());
    printDiagnostics(shown, out.quiet, out.verbose);
    if (hidden > 0 && !out.quiet)
      console.error(`(${hidden} known problems of the baseline ${shownPath} not shown: --no-baseline shows them)`);
    if (!r.unusable && !out.quiet) console.log(summary(r));
  }
  if (r.unusable) return 2;
  return r.ok ? 0 : 1;
}
