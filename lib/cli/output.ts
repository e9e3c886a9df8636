/** What the commands print: diagnostics for people, the plan summary, the JSON of `check`. */
import { styleText } from 'node:util';
import { formatDiagnostic, visible, type Diagnostic } from '../diagnostics.ts';
import type { PipelineResult } from '../pipeline.ts';

type Style = Parameters<typeof styleText>[0];

/** Styled for the stream it is written to: colours only where that stream is a terminal (and NO_COLOR is unset). */
const styled = (stream: NodeJS.WriteStream) => (style: Style, s: string) => styleText(style, s, { stream });
const onStderr = styled(process.stderr);
const onStdout = styled(process.stdout);

/** Prints diagnostics for people on stderr, errors first; with `quiet`, the errors alone. */
export function printDiagnostics(ds: readonly Diagnostic[], quiet = false): void {
  const tag = { error: onStderr('red', 'error'), warning: onStderr('yellow', 'warning') };
  for (const sev of quiet ? (['error'] as const) : (['error', 'warning'] as const)) {
    for (const d of ds.filter((x) => x.severity === sev)) console.error(`${tag[sev]} ${formatDiagnostic(d)}`);
  }
  const infos = ds.filter((d) => d.severity === 'info').length;
  if (infos > 0 && !quiet) console.error(onStderr('dim', `(${infos} notes not shown; --format json lists them)`));
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
  };
}

/** The plan summary that `check` prints on stdout. */
export function summary(r: PipelineResult): string {
  const p = r.plan;
  const lines: string[] = [];
  const counts = (sev: string) => r.diagnostics.filter((d) => d.severity === sev).length;
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
  lines.push(
    `start levels: ${p.startLevels.length} (${elide(
      p.startLevels.map((l) => String(l.length)),
      ' + ',
    )} agents)`,
  );
  lines.push(
    `critical path: ${p.criticalPath.seconds} s (${elide(p.criticalPath.agents, ' -> ')}); sequential start: ${p.sequentialSeconds} s`,
  );
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
    binds: f.binds.map((b) => ({ endpoint: b.text, port: b.port ?? null, file: b.file, line: b.line })),
    connects: f.connects.map((c) => ({
      endpoint: c.text,
      host: c.host,
      port: c.port ?? null,
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
