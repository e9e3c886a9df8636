/** `agent-infra synth` and `agent-infra report`: the command lines around lib/synth.ts, and what they print. */
import { relative } from 'node:path';
import { OUTPUTS, synthesize, writeReports, type Output, type SynthOptions, type SynthResult } from '../synth.ts';
import { LOAD_OPTIONS, loadArgs, parse, UsageError } from './args.ts';
import { printDiagnostics } from './output.ts';

/** Prints what a synthesis did (also for the cdk8s app); returns its exit code. */
export function printSynthResult(r: SynthResult, cwd = process.cwd()): number {
  printDiagnostics(r.diagnostics);
  if (r.code === 1) console.error(`agent-infra: nothing written: fix the errors above first`);
  if (r.written) console.log(`agent-infra: wrote ${r.written.files} files for ${r.written.agents} agents to ${relative(cwd, r.written.out) || '.'}/{${r.written.only.join(',')}}${r.lockWritten ? ' and the port lock' : ''}`);
  return r.code;
}

export async function synthCommand(args: readonly string[]): Promise<number> {
  const { values } = parse(args, { ...LOAD_OPTIONS, out: { type: 'string' }, only: { type: 'string', multiple: true } });
  const only = ((values.only as string[] | undefined) ?? []).flatMap((o) => o.split(','));
  for (const o of only) if (!(OUTPUTS as readonly string[]).includes(o)) throw new UsageError(`--only takes ${OUTPUTS.join(', ')}, got '${o}'`);
  const opts: SynthOptions = { ...loadArgs(values), ...(typeof values.out === 'string' ? { out: values.out } : {}), ...(only.length ? { only: only as Output[] } : {}) };
  return printSynthResult(await synthesize(opts));
}

export async function reportCommand(args: readonly string[]): Promise<number> {
  const { values } = parse(args, { ...LOAD_OPTIONS, out: { type: 'string' } });
  const r = await writeReports({ ...loadArgs(values), ...(typeof values.out === 'string' ? { out: values.out } : {}) });
  printDiagnostics(r.diagnostics);
  if (r.written) console.log(`agent-infra: wrote ${r.written.files} reports to ${relative(process.cwd(), r.written.dir)}`);
  return r.code;
}
