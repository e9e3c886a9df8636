/** What the commands print: diagnostics for people, the plan summary, the JSON of `check`. */
import { styleText } from 'node:util';
import { formatDiagnostic, visible, type Diagnostic } from '../diagnostics.ts';
import type { PipelineResult } from '../pipeline.ts';

type Style = Parameters<typeof styleText>[0];

/** Styled for the stream it is written to: colours only where that stream is a terminal (and NO_COLOR is unset). */
const styled = (stream: NodeJS.WriteStream) => (style: Style, s: string) => styleText(style, s, { stream });
const onStderr = styled(process.stderr);
const onStdout = styled(process.stdout);

/** Warnings shown one by one up to this many; above it, one line per code (`--verbose` shows each). */
export const WARNINGS_SHOWN = 15;
/** Errors shown one by one up to this many; the rest are counted. */
export const ERRORS_SHOWN = 15;

/**
 * Prints diagnostics for people on stderr, errors first, so that they fit a screen: every error (up to
 * {@link ERRORS_SHOWN}), the warnings one by one when they are few, else one line per code with its count
 * and first instance, the `left-out` summary always whole; then where the full list is. `verbose`:
 * every error, warning and note. `quiet`: the errors alone.
 */
export function printDiagnostics(all: readonly Diagnostic[], quiet = false, verbose = false): void {
  const tag = { error: onStderr('red', 'error'), warning: onStderr('yellow', 'warning') };
  const ds = all.filter((d) => d.ignored === undefined);
  const ignored = all.length - ds.length;
  const errors = ds.filter((d) => d.severity === 'error');
  const warnings = quiet ? [] : ds.filter((d) => d.severity === 'warning');
  const shownErrors = verbose ? errors : errors.slice(0, ERRORS_SHOWN);
  for (const d of shownErrors) console.error(`${tag.error} ${formatDiagnostic(d)}`);
  if (shownErrors.length < errors.length)
    console.error(`${tag.error} ... and ${errors.length - shownErrors.length} more errors`);
  const hidden: string[] = [];
  if (verbose || warnings.length <= WARNINGS_SHOWN) {
    for (const d of warnings) console.error(`${tag.warning} ${formatDiagnostic(d)}`);
  } else {
    const byCode = new Map<string, Diagnostic[]>();
    for (const d of warnings) if (d.code !== 'left-out') byCode.set(d.code, [...(byCode.get(d.code) ?? []), d]);
    const groups = [...byCode].sort(([a, x], [b, y]) => y.length - x.length || (a < b ? -1 : 1));
    for (const [code, list] of groups) {
      const first = formatDiagnostic(list[0]!).replace(` [${code}]`, '');
      const short = first.length > 150 ? `${first.slice(0, 149)}…` : first;
      console.error(`${tag.warning} ${String(list.length).padStart(3)} × [${code}] e.g. ${short}`);
    }
    for (const d of warnings.filter((x) => x.code === 'left-out'))
      console.error(`${tag.warning} ${formatDiagnostic(d)}`);
    hidden.push(
      `${warnings.length} warnings in ${groups.length + (warnings.some((d) => d.code === 'left-out') ? 1 : 0)} groups`,
    );
  }
  const infos = quiet ? [] : ds.filter((d) => d.severity === 'info');
  if (verbose) for (const d of infos) console.error(`${onStderr('dim', 'note')} ${formatDiagnostic(d)}`);
  else if (infos.length > 0) hidden.push(`${infos.length} notes`);
  if (hidden.length)
    console.error(onStderr('dim', `(${hidden.join(', ')}: --verbose shows each, --format json lists them all)`));
  if (ignored > 0 && !quiet)
    console.error(
      onStderr(
        'dim',
        `(${ignored} silenced by the spec's diagnostics.ignore, each with its reason: --format json lists them)`,
      ),
    );
}

/** A diagnostic in the commands' JSON. */
export function diagnosticJson(d: Diagnostic) {
  return {
    code: d.code,
    severity: d.severity,
    message: visible(d.message),
    file: d.file === undefined ? null : visible(d.file),
    line: d.line ?? null,
    column: d.column ?? null,
    path: d.path === undefined ? null : visible(d.path),
    ...(d.stops ? { stops: d.stops } : {}),
    ...(d.ignored !== undefined ? { ignored: visible(d.ignored) } : {}),
  };
}

/** The plan summary that `check` prints on stdout. */
export function summary(r: PipelineResult): string {
  const p = r.plan;
  const lines: string[] = [];
  const counts = (sev: string) => r.diagnostics.filter((d) => d.severity === sev && d.ignored === undefined).length;
  const ignored = r.diagnostics.filter((d) => d.ignored !== undefined).length;
  const out = p.leftOut.length;
  const blocked = p.leftOut.filter((l) => l.reason === 'blocked').length;
  lines.push(
    `${onStdout('bold', p.name)}: ${p.agents.length} agents on ${p.machines.length} machines${out ? `; ${out} left out (${out - blocked} cannot start, ${blocked} blocked)` : ''}`,
  );
  for (const m of p.machines) {
    const gpu = m.gpus.map((g) => `GPU ${g.device} ${g.model} ${g.usedGiB}/${g.vramGiB} GiB`).join(', ');
    lines.push(
      `  ${m.name.padEnd(8)} ${String(m.agents.length).padStart(3)} agents  ${m.file}${gpu ? `  (${gpu})` : ''}`,
    );
  }
  if (p.agents.length === 0) lines.push('start levels: none (no agent is deployed)');
  else {
    lines.push(
      `start levels: ${p.startLevels.length} (${elide(
        p.startLevels.map((l) => String(l.length)),
        ' + ',
      )} agents)`,
    );
    lines.push(
      `critical path: ${p.criticalPath.seconds} s (${elide(p.criticalPath.agents, ' -> ')}); sequential start: ${p.sequentialSeconds} s`,
    );
  }
  lines.push(
    `single host: ${p.agents.length === 0 ? 'nothing to deploy' : p.singleHostReady ? 'ready' : 'blocked by port conflicts'}`,
  );
  lines.push(
    `${counts('error')} errors, ${counts('warning')} warnings${ignored ? `, ${ignored} silenced by the spec` : ''}`,
  );
  return lines.join('\n');
}

/** The documented JSON shape of `check --format json`. */
export function checkJson(r: PipelineResult) {
  const p = r.plan;
  return {
    ok: r.ok,
    machines: p.machines.map((m) => ({ name: m.name, file: m.file, agents: m.agents.length })),
    diagnostics: r.diagnostics.map(diagnosticJson),
    plan: {
      agents: p.agents.map((a) => ({
        name: a.name,
        id: a.id,
        machine: a.machine,
        port: a.servicePort.port,
        healthCheckPort: a.healthPort.port,
        startLevel: a.startLevel,
        gpu: a.gpu ? { device: a.gpu.device, vramGiB: a.gpu.vramGiB } : null,
        ...(r.source ? { code: codeFacts(r, a.machine, a.name) } : {}),
      })),
      leftOut: p.leftOut.map((l) => ({
        name: l.name,
        machine: l.machine,
        reason: l.reason,
        script: l.script === undefined ? null : visible(l.script),
        code: l.problem.code,
        message: visible(l.problem.message),
        file: visible(l.problem.file),
        line: l.problem.line,
        chain: l.chain,
      })),
      startLevels: p.startLevels,
      criticalPathSeconds: p.criticalPath.seconds,
    },
  };
}

/** What the agent's code does, for `check --format json` with a source tree (null when it has no script). */
function codeFacts(r: PipelineResult, machine: string, name: string) {
  const f = r.source?.facts.get(`${machine}/${name}`);
  if (!f) return null;
  return {
    script: f.script,
    compiles: f.compiles,
    framework: f.framework,
    classChain: f.classChain,
    health: f.health ?? null,
    binds: f.binds.map((b) => ({
      endpoint: b.text,
      port: b.port ?? null,
      socket: b.socketType ?? null,
      file: b.file,
      line: b.line,
    })),
    connects: f.connects.map((c) => ({
      endpoint: c.text,
      host: c.host,
      port: c.port ?? null,
      socket: c.socketType ?? null,
      file: c.file,
      line: c.line,
    })),
    envReads: f.envReads.map((e) => ({
      name: e.name,
      default: e.default ? ('value' in e.default ? e.default.value : e.default.text) : null,
      file: e.file,
      line: e.line,
    })),
    closure: f.closure,
    external: f.external,
    problems: f.problems,
  };
}

/** Joins a list for people: a long one shows its first and last items and how many lie between. */
function elide(items: readonly string[], sep: string, keep = 8): string {
  if (items.length <= keep * 2 + 1) return items.join(sep);
  return [...items.slice(0, keep), `... ${items.length - keep * 2} more ...`, ...items.slice(-keep)].join(sep);
}
