/** The `agent-infra` command line: dispatches to the commands, turns every failure into a message and an exit code. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../package-root.ts';
import { UsageError } from './args.ts';

const USAGE = `usage: agent-infra <command> [options]   (agent-infra --version prints the version)

commands:
  check      [--spec FILE] [--machine NAME=FILE ...] [--source DIR] [--strict] [--format text|json] [--quiet|--verbose] [--frozen-lock]
             [--write-baseline | --no-baseline] [--baseline FILE]
             load every machine's startup config, report problems, print the plan summary
  synth      [--spec FILE] [--machine NAME=FILE ...] [--source DIR] [--strict] [--out DIR] [--only k8s|compose|docker|reports] [--format text|json] [--quiet|--verbose]
             write Kubernetes manifests, compose files, Dockerfiles and reports to DIR (default dist)
  report     [--spec FILE] [--machine NAME=FILE ...] [--source DIR] [--strict] [--out DIR] [--format text|json] [--quiet|--verbose]
             write the reports (dependency graph, ports, startup plan, GPUs) even when the configs have errors
  images     --context DIR [--spec FILE] [--source DIR] [--base-map IMAGE=LOCAL ...] [--naive] [--no-cache] [--family NAME ...]
             [--label KEY=VALUE ...] [--baseline FILE] [--max-growth RATIO] [--json FILE] [--markdown FILE] [--format text|json] [--quiet]
             build every image family on a Docker engine; report sizes, wasted bytes, shared layers
  scan-ips   DIR [--map ADDRESS=VARIABLE ...] [--fix | --dry-run] [--format text|json] [--quiet]
             find hard-coded IPv4 addresses in Python sources; --fix rewrites them to os.environ.get
             (only where the file still compiles), --dry-run prints that rewrite as a diff
  init       [DIR] [--source DIR] [--force] [--format text|json] [--quiet]
             write a commented agent-infra.yaml for the repository in DIR (default .) from its startup configs

--quiet prints errors only; --format json prints one JSON document on stdout (diagnostics included).
exit codes: 0 ok, 1 the configs have errors, 2 the input is unusable (missing file, parse error, bad usage)`;

const COMMANDS = ['check', 'synth', 'report', 'images', 'scan-ips', 'init'];

/** One command's lines of the usage text. */
function usageOf(command: string): string {
  const lines = USAGE.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`  ${command} `));
  const end = lines.findIndex((l, i) => i > start && (/^ {2}\S/.test(l) || l === ''));
  return `usage: agent-infra ${lines
    .slice(start, end < 0 ? undefined : end)
    .join('\n')
    .trim()
    .replace(/^(\S+) +/, '$1 ')}`;
}

/** The process's address-space limit (`ulimit -v`) in bytes, when it has one. */
function addressSpaceLimit(): number | undefined {
  try {
    const m = /^Max address space\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m && m[1] !== 'unlimited' ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** What to tell the user when `e` is the process running out of memory or address space, else undefined. */
export function resourceLimit(e: unknown): string | undefined {
  const message = e instanceof Error ? e.message : String(e);
  if (
    !(e instanceof RangeError) ||
    !/could not allocate memory|Array buffer allocation failed|Out of memory|Maximum call stack size exceeded/i.test(
      message,
    )
  )
    return undefined;
  if (/call stack/i.test(message))
    return `the input nests deeper than this process's stack allows (${message}); please report the input that caused it`;
  const limit = addressSpaceLimit();
  const shown =
    limit === undefined
      ? 'no address-space limit is set'
      : `the address-space limit (ulimit -v) is ${Math.round(limit / 1024)} KiB`;
  return `not enough memory (${message}; ${shown}); raise the limit (ulimit -v) or free memory, and run the command again`;
}

/** Runs the CLI; returns the exit code. Never lets an exception reach the user as a stack trace. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const commandUsage =
    command && COMMANDS.includes(command) && (rest.includes('--help') || rest.includes('-h'))
      ? usageOf(command)
      : undefined;
  if (commandUsage) {
    console.log(commandUsage);
    return 0;
  }
  try {
    switch (command) {
      case 'check':
        return await (await import('./check.ts')).checkCommand(rest);
      case 'scan-ips':
        return await (await import('./scan-ips.ts')).scanIpsCommand(rest);
      case 'images':
        return await (await import('./images.ts')).imagesCommand(rest);
      case 'synth':
        return await (await import('./synth.ts')).synthCommand(rest);
      case 'init':
        return await (await import('./init.ts')).initCommand(rest);
      case 'report':
        return await (await import('./synth.ts')).reportCommand(rest);
      case '--version':
      case '-V': {
        const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
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
    const limit = resourceLimit(e);
    if (limit) {
      console.error(`agent-infra: ${limit} [resource-limit]`);
      return 2;
    }
    console.error(
      `agent-infra: internal error: ${e instanceof Error ? e.message : String(e)}; please report it with the input that caused it [internal]`,
    );
    return 70;
  }
}
