/** `agent-infra scan-ips DIR`: hard-coded IPv4 addresses in Python sources, and `--fix`. */
import { existsSync, statSync } from 'node:fs';
import { isIPv4 } from '../ipv4.ts';
import { scanIps } from '../scan-ips.ts';
import { OUTPUT_OPTIONS, outputArgs, parse, UsageError } from './args.ts';

export async function scanIpsCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      map: { type: 'string', multiple: true },
      fix: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      ...OUTPUT_OPTIONS,
    },
    true,
  );
  const output = outputArgs(values);
  if (positionals.length !== 1) throw new UsageError(`scan-ips takes one directory, got ${positionals.length}`);
  const dir = positionals[0]!;
  if (!existsSync(dir)) {
    console.error(`${dir}: directory not found; pass the root of the Python sources [missing-file]`);
    return 2;
  }
  if (!statSync(dir).isDirectory()) {
    console.error(`${dir}: not a directory; pass the root of the Python sources [unreadable-file]`);
    return 2;
  }
  const mapping: Record<string, string> = { '192.168.100.16': 'MAIN_PC_IP', '192.168.100.17': 'PC2_IP' };
  for (const m of (values.map as string[] | undefined) ?? []) {
    const x = /^([\d.]+)=([A-Za-z_][A-Za-z0-9_]*)$/.exec(m);
    if (!x || !isIPv4(x[1]!)) throw new UsageError(`--map takes ADDRESS=VARIABLE, got '${m}'`);
    mapping[x[1]!] = x[2]!;
  }
  if (values.fix === true && values['dry-run'] === true)
    throw new UsageError('--fix and --dry-run exclude each other: --dry-run prints what --fix would write');
  const mode = values.fix === true ? 'fix' : values['dry-run'] === true ? 'dry-run' : 'scan';
  const result = await scanIps(dir, mapping, mode);
  if (output.json) console.log(JSON.stringify({ ...result, diffBytes: undefined }, null, 2));
  else if (!output.quiet) {
    for (const f of result.findings) {
      const action = f.fixed
        ? 'fixed'
        : !f.variable
          ? 'no variable mapped; pass --map ADDRESS=VARIABLE'
          : mode !== 'scan' && f.reason
            ? `use ${f.variable}; not rewritten: ${f.reason}`
            : `use ${f.variable}`;
      console.log(`${f.file}:${f.line}:${f.column} ${f.address}: ${action}`);
    }
    if (result.diffBytes?.length) process.stdout.write(result.diffBytes);
    console.log(
      `${result.findings.length} hard-coded addresses in ${result.filesWithFindings} of ${result.filesScanned} Python files${mode === 'fix' ? `; ${result.findings.filter((f) => f.fixed).length} fixed` : ''}`,
    );
  }
  return result.findings.some((f) => !f.fixed) ? 1 : 0;
}
