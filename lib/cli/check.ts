/** `agent-infra check`: loads and plans the system, reports every problem, prints the plan summary. Writes nothing. */
import { relative } from 'node:path';
import { sortDiagnostics } from '../diagnostics.ts';
import { lockOutdated } from '../lock.ts';
import { runPipelineAsync } from '../pipeline.ts';
import { LOAD_OPTIONS, loadArgs, OUTPUT_OPTIONS, outputArgs, parse } from './args.ts';
import { checkJson, printDiagnostics, summary } from './output.ts';

export async function checkCommand(args: readonly string[]): Promise<number> {
  const { values } = parse(args, {
    ...LOAD_OPTIONS,
    ...OUTPUT_OPTIONS,
    'frozen-lock': { type: 'boolean', default: false },
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
  if (out.json) {
    console.log(JSON.stringify(checkJson(r), null, 2));
  } else {
    printDiagnostics(r.diagnostics, out.quiet, out.verbose);
    if (!r.unusable && !out.quiet) console.log(summary(r));
  }
  if (r.unusable) return 2;
  return r.ok ? 0 : 1;
}
