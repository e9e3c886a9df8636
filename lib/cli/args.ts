/** Argument parsing shared by the commands: one error type for bad usage, the load options. */
import { existsSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { machineNameProblem, type LoadOptions, type MachineFile } from '../config/load.ts';
import { MACHINE_NAME } from '../config/spec.ts';

/** Bad usage: the CLI prints it with `[usage]` and exits 2. */
export class UsageError extends Error {}

export function parse(args: readonly string[], options: NonNullable<ParseArgsConfig['options']>, positionals = false) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: positionals, strict: true });
  } catch (e) {
    throw new UsageError(
      `${(e as Error).message.replace(/\.$/, '').replace(/^./, (c) => c.toLowerCase())}; run 'agent-infra --help'`,
    );
  }
}

/** `--spec` and `--machine`, which every command that loads a system takes. */
export const LOAD_OPTIONS = {
  spec: { type: 'string' },
  machine: { type: 'string', multiple: true },
  source: { type: 'string' },
  strict: { type: 'boolean' },
} as const;

/** The load options of `--spec` / `--machine` (an `agent-infra.yaml` in the working folder when neither is given). */
export function loadArgs(values: {
  spec?: string | boolean | (string | boolean)[];
  machine?: string | boolean | (string | boolean)[];
  source?: string | boolean | (string | boolean)[];
  strict?: string | boolean | (string | boolean)[];
}): LoadOptions & { machines: readonly MachineFile[] } {
  const spec =
    typeof values.spec === 'string' ? values.spec : existsSync('agent-infra.yaml') ? 'agent-infra.yaml' : undefined;
  return {
    ...(spec ? { spec } : {}),
    ...(typeof values.source === 'string' ? { source: values.source } : {}),
    ...(values.strict === true ? { strict: true } : {}),
    machines: machineArgs((values.machine as string[] | undefined) ?? []),
  };
}

/** `--machine NAME=FILE ...`: each name once, a name a machine may have, a file. */
export function machineArgs(pairs: readonly string[]): MachineFile[] {
  const seen = new Set<string>();
  return pairs.map((pair) => {
    const m = /^([^=]+)=(.+)$/s.exec(pair);
    if (!m || !MACHINE_NAME.test(m[1]!))
      throw new UsageError(
        `--machine takes NAME=FILE, got '${pair}'; NAME is a lowercase word of at most 31 characters, for example --machine pc2=pc2_code/config/startup_config.yaml`,
      );
    const [, name, file] = m as unknown as [string, string, string];
    const problem = machineNameProblem(name);
    if (problem) throw new UsageError(`--machine ${name}: ${problem}`);
    if (seen.has(name)) throw new UsageError(`--machine ${name} is given twice; give each machine once`);
    seen.add(name);
    return { name, file };
  });
}

/** `--format text|json` and `--quiet`, which every command that prints more than a line takes. */
export const OUTPUT_OPTIONS = {
  format: { type: 'string', default: 'text' },
  quiet: { type: 'boolean', short: 'q', default: false },
  verbose: { type: 'boolean', default: false },
} as const;

export interface OutputArgs {
  readonly json: boolean;
  /** Print errors only (and, in JSON, everything: JSON is for programs). */
  readonly quiet: boolean;
  /** Print every error and warning, however many (the default fits them on a screen). */
  readonly verbose?: boolean;
}

export function outputArgs(values: {
  format?: string | boolean | (string | boolean)[];
  quiet?: string | boolean | (string | boolean)[];
  verbose?: string | boolean | (string | boolean)[];
}): OutputArgs {
  if (values.format !== undefined && values.format !== 'text' && values.format !== 'json')
    throw new UsageError(`--format takes text or json, got '${String(values.format)}'`);
  return { json: values.format === 'json', quiet: values.quiet === true, verbose: values.verbose === true };
}
