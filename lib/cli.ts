/** The `agent-infra` command line: check, scan-ips, synth, report. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { formatDiagnostic, type Diagnostic } from './diagnostics.ts';
import { runPipeline, type PipelineResult } from './pipeline.ts';
import { scanIps } from './scan-ips.ts';
import { writeFileAtomic } from './write.ts';
import { toFlowMap } from './emit/yaml.ts';
import type { PortLock } from './plan/ports.ts';

const USAGE = `usage: agent-infra <command> [options]   (agent-infra --version prints the version)

commands:
  check      [--spec FILE] [--machine NAME=FILE ...] [--format text|json] [--frozen-lock]
             load every machine's startup config, report problems, print the plan summary
  synth      [--spec FILE] [--machine NAME=FILE ...] [--out DIR] [--only k8s|compose|docker|reports]
             write Kubernetes manifests, compose files, Dockerfiles and reports to DIR (default dist)
  report     [--spec FILE] [--machine NAME=FILE ...] [--out DIR]
             write the reports (dependency graph, ports, startup plan, GPUs) even when the configs have errors
  images     --context DIR [--spec FILE] [--base-map IMAGE=LOCAL ...] [--naive] [--no-cache] [--family NAME ...]
             [--label KEY=VALUE ...] [--baseline FILE] [--max-growth RATIO] [--json FILE] [--markdown FILE]
             build every image family on a Docker engine; report sizes, wasted bytes, shared layers
  scan-ips   DIR [--map ADDRESS=VARIABLE ...] [--fix] [--format text|json]
             find hard-coded IPv4 addresses in Python sources; --fix rewrites them to os.environ.get

exit codes: 0 ok, 1 the configs have errors, 2 the input is unusable (missing file, parse error, bad usage)`;

const color = (code: number, s: string) => (process.stdout.isTTY && !process.env['NO_COLOR'] ? `\x1b[${code}m${s}\x1b[0m` : s);

/** Runs the CLI; returns the exit code. Never lets an exception reach the user as a stack trace. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'check':
        return check(rest);
      case 'scan-ips':
        return scanIpsCommand(rest);
      case 'images': {
        const { imagesCommand } = await import('./images/command.ts');
        return await imagesCommand(rest);
      }
      case 'synth': {
        const { synthCommand } = await import('./synth.ts');
        return await synthCommand(rest);
      }
      case 'report': {
        const { reportCommand } = await import('./synth.ts');
        return await reportCommand(rest);
      }
      case '--version':
      case '-V': {
        const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
        console.log(pkg.version);
        return 0;
      }
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        console.log(USAGE);
        return command === undefined ? 2 : 0;
      default:
        console.error(`agent-infra: unknown command '${command}'; run 'agent-infra --help' [usage]`);
        return 2;
    }
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`agent-infra: ${e.message} [usage]`);
      return 2;
    }
    console.error(`agent-infra: internal error: ${e instanceof Error ? e.message : String(e)}; please report it with the input that caused it [internal]`);
    return 70;
  }
}

export class UsageError extends Error {}

export function parse(args: readonly string[], options: NonNullable<ParseArgsConfig['options']>, positionals = false) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: positionals, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message.replace(/\.$/, '').replace(/^./, (c) => c.toLowerCase())}; run 'agent-infra --help'`);
  }
}

/** Prints diagnostics for people, errors first, grouped by file. */
export function printDiagnostics(ds: readonly Diagnostic[], out: (s: string) => void = (s) => console.error(s)) {
  const tag = { error: color(31, 'error'), warning: color(33, 'warning'), info: color(36, 'info') };
  for (const sev of ['error', 'warning'] as const) {
    for (const d of ds.filter((x) => x.severity === sev)) out(`${tag[sev]} ${formatDiagnostic(d)}`);
  }
  const infos = ds.filter((d) => d.severity === 'info').length;
  if (infos > 0) out(color(2, `(${infos} notes not shown; --format json lists them)`));
}

/** The plan summary that `check` prints. */
export function summary(r: PipelineResult): string {
  const p = r.plan;
  const lines: string[] = [];
  const counts = (sev: string) => r.diagnostics.filter((d) => d.severity === sev).length;
  lines.push(`${color(1, p.name)}: ${p.agents.length} agents on ${p.machines.length} machines`);
  for (const m of p.machines) {
    const gpu = m.gpus.map((g) => `GPU ${g.device} ${g.model} ${g.usedGiB}/${g.vramGiB} GiB`).join(', ');
    lines.push(`  ${m.name.padEnd(8)} ${String(m.agents.length).padStart(3)} agents  ${m.file}${gpu ? `  (${gpu})` : ''}`);
  }
  lines.push(`start levels: ${p.startLevels.length} (${elide(p.startLevels.map((l) => String(l.length)), ' + ')} agents)`);
  lines.push(`critical path: ${p.criticalPath.seconds} s (${elide(p.criticalPath.agents, ' -> ')}); sequential start: ${p.sequentialSeconds} s`);
  lines.push(`single host: ${p.singleHostReady ? 'ready' : 'blocked by port conflicts'}`);
  lines.push(`${counts('error')} errors, ${counts('warning')} warnings`);
  return lines.join('\n');
}

/** The documented JSON shape of `check --format json`. */
export function checkJson(r: PipelineResult) {
  const p = r.plan;
  return {
    ok: r.ok,
    machines: p.machines.map((m) => ({ name: m.name, file: m.file, agents: m.agents.length })),
    diagnostics: r.diagnostics.map((d) => ({
      code: d.code,
      severity: d.severity,
      message: d.message,
      file: d.file ?? null,
      line: d.line ?? null,
      column: d.column ?? null,
      path: d.path ?? null,
    })),
    plan: {
      agents: p.agents.map((a) => ({
        name: a.name,
        id: a.id,
        machine: a.machine,
        port: a.servicePort.port,
        healthCheckPort: a.healthPort.port,
        startLevel: a.startLevel,
        gpu: a.gpu ? { device: a.gpu.device, vramGiB: a.gpu.vramGiB } : null,
      })),
      startLevels: p.startLevels,
      criticalPathSeconds: p.criticalPath.seconds,
    },
  };
}

const LOAD_OPTIONS = {
  spec: { type: 'string' },
  machine: { type: 'string', multiple: true },
} as const;

export function loadArgs(values: { spec?: string | boolean | (string | boolean)[]; machine?: string | boolean | (string | boolean)[] }) {
  const spec = typeof values.spec === 'string' ? values.spec : existsSync('agent-infra.yaml') ? 'agent-infra.yaml' : undefined;
  return { ...(spec ? { spec } : {}), machines: (values.machine as string[] | undefined) ?? [] };
}

/** Writes the port lock when the plan is clean and the lock changed. */
export function updateLock(r: PipelineResult, frozen: boolean): boolean {
  if (!r.ok) return true;
  const text = lockText(r.plan.lock);
  const current = existsSync(r.loaded.lockFile) ? readFileSync(r.loaded.lockFile, 'utf8') : '';
  if (current === text || (r.plan.lock.ports.length === 0 && current === '')) return true;
  if (frozen) {
    console.error(`${r.loaded.lockFile}: the port lock is out of date; run 'agent-infra check' without --frozen-lock and commit the lock [lock-outdated]`);
    return false;
  }
  writeFileAtomic(r.loaded.lockFile, text);
  return true;
}

/** The lock file's text; names are quoted wherever YAML 1.1 would read them as something else (`On`, `y`). */
export function lockText(lock: PortLock): string {
  const rows = lock.ports.map((e) => `  - ${toFlowMap(e as unknown as Record<string, string | number>)}`);
  return `# Ports of the hosts where 'onConflict: reassign' may move them; kept stable across runs.\n# Written by 'agent-infra check' and 'synth'; commit it.\nversion: 1\nports:${rows.length ? `\n${rows.join('\n')}` : ' []'}\n`;
}

function check(args: readonly string[]): number {
  const { values } = parse(args, { ...LOAD_OPTIONS, format: { type: 'string', default: 'text' }, 'frozen-lock': { type: 'boolean', default: false } });
  if (values.format !== 'text' && values.format !== 'json') throw new UsageError(`--format takes text or json, got '${String(values.format)}'`);
  const r = runPipeline(loadArgs(values));
  const lockOk = updateLock(r, values['frozen-lock'] === true);
  if (values.format === 'json') {
    console.log(JSON.stringify(checkJson(r), null, 2));
  } else {
    printDiagnostics(r.diagnostics);
    if (!r.unusable) console.log(summary(r));
  }
  if (r.unusable) return 2;
  return r.ok && lockOk ? 0 : 1;
}

function scanIpsCommand(args: readonly string[]): number {
  const { values, positionals } = parse(args, { map: { type: 'string', multiple: true }, fix: { type: 'boolean', default: false }, format: { type: 'string', default: 'text' } }, true);
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
    const x = /^(\d{1,3}(?:\.\d{1,3}){3})=([A-Za-z_][A-Za-z0-9_]*)$/.exec(m);
    if (!x) throw new UsageError(`--map takes ADDRESS=VARIABLE, got '${m}'`);
    mapping[x[1]!] = x[2]!;
  }
  const result = scanIps(dir, mapping, values.fix === true);
  if (values.format === 'json') console.log(JSON.stringify(result, null, 2));
  else {
    for (const f of result.findings) {
      const action = f.fixed ? 'fixed' : f.variable ? `use ${f.variable}` : 'no variable mapped; pass --map ADDRESS=VARIABLE';
      console.log(`${f.file}:${f.line}:${f.column} ${f.address}: ${action}`);
    }
    console.log(`${result.findings.length} hard-coded addresses in ${result.filesWithFindings} of ${result.filesScanned} Python files${values.fix ? `; ${result.findings.filter((f) => f.fixed).length} fixed` : ''}`);
  }
  return result.findings.some((f) => !f.fixed) ? 1 : 0;
}

/** Joins a list for people: a long one shows its first and last items and how many lie between. */
function elide(items: readonly string[], sep: string, keep = 8): string {
  if (items.length <= keep * 2 + 1) return items.join(sep);
  return [...items.slice(0, keep), `... ${items.length - keep * 2} more ...`, ...items.slice(-keep)].join(sep);
}
