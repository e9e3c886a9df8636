/** `agent-infra synth` and `agent-infra report`: the command lines around lib/synth.ts, and what they print. */
import { relative } from 'node:path';
import { OUTPUTS, synthesize, writeReports, type Output, type SynthOptions, type SynthResult } from '../synth.ts';
import { LOAD_OPTIONS, loadArgs, OUTPUT_OPTIONS, outputArgs, parse, UsageError, type OutputArgs } from './args.ts';
import { diagnosticJson, printDiagnostics } from './output.ts';

/** Prints what a synthesis did (also for the cdk8s app): for people, or as JSON; returns its exit code. */
export function printSynthResult(
  r: SynthResult,
  cwd = process.cwd(),
  out: OutputArgs = { json: false, quiet: false },
): number {
  const where = r.written ? relative(cwd, r.written.out) || '.' : undefined;
  if (out.json) {
    const written = r.written
      ? {
          out: where,
          files: r.written.paths.map((p) => `${where}/${p}`),
          agents: r.written.agents,
          only: r.written.only,
          lockWritten: r.lockWritten,
        }
      : null;
    console.log(
      JSON.stringify(
        { ok: r.code === 0, code: r.code, written, diagnostics: r.diagnostics.map(diagnosticJson) },
        null,
        2,
      ),
    );
    return r.code;
  }
  printDiagnostics(r.diagnostics, out.quiet, out.verbose);
  if (r.code === 1) console.error(`agent-infra: nothing written: fix the errors above first`);
  if (r.written && !out.quiet)
    console.log(
      `agent-infra: wrote ${r.written.files} files for ${r.written.agents} agents to ${where}/{${r.written.only.join(',')}}${r.lockWritten ? ' and the port lock' : ''}`,
    );
  return r.code;
}

export async function synthCommand(args: readonly string[]): Promise<number> {
  const { values } = parse(args, {
    ...LOAD_OPTIONS,
    ...OUTPUT_OPTIONS,
    out: { type: 'string' },
    only: { type: 'string', multiple: true },
  });
  const output = outputArgs(values);
  const only = ((values.only as string[] | undefined) ?? []).flatMap((o) => o.split(','));
  for (const o of only)
    if (!(OUTPUTS as readonly string[]).includes(o))
      throw new UsageError(`--only takes ${OUTPUTS.join(', ')}, got '${o}'`);
  const opts: SynthOptions = {
    ...loadArgs(values),
    ...(typeof values.out === 'string' ? { out: values.out } : {}),
    ...(only.length ? { only: only as Output[] } : {}),
  };
  return printSynthResult(await synthesize(opts), process.cwd(), output);
}

export async function reportCommand(args: readonly string[]): Promise<number> {
  const { values } = parse(args, { ...LOAD_OPTIONS, ...OUTPUT_OPTIONS, out: { type: 'string' } });
  const output = outputArgs(values);
  const r = await writeReports({ ...loadArgs(values), ...(typeof values.out === 'string' ? { out: values.out } : {}) });
  const dir = r.written ? relative(process.cwd(), r.written.dir) || '.' : undefined;
  if (output.json) {
    console.log(
      JSON.stringify(
        {
          ok: r.code === 0,
          code: r.code,
          written: r.written ? { files: r.written.paths.map((p) => `${dir}/${p.replace(/^reports\//, '')}`) } : null,
          diagnostics: r.diagnostics.map(diagnosticJson),
        },
        null,
        2,
      ),
    );
    return r.code;
  }
  printDiagnostics(r.diagnostics, output.quiet, output.verbose);
  if (r.written && !output.quiet) console.log(`agent-infra: wrote ${r.written.files} reports to ${dir}`);
  return r.code;
}
