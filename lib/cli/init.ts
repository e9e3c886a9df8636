/** `agent-infra init [DIR]`: writes a commented agent-infra.yaml for the repository in DIR, and says what it found. */
import { init, type InitResult } from '../init/init.ts';
import { OUTPUT_OPTIONS, outputArgs, parse, UsageError } from './args.ts';
import { diagnosticJson, printDiagnostics } from './output.ts';

export async function initCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    { force: { type: 'boolean', default: false }, source: { type: 'string' }, ...OUTPUT_OPTIONS },
    true,
  );
  const output = outputArgs(values);
  if (positionals.length > 1)
    throw new UsageError(`init takes one folder, got ${positionals.length}: ${positionals.join(' ')}`);
  const r = await init({
    ...(positionals[0] ? { dir: positionals[0] } : {}),
    force: values.force === true,
    ...(typeof values.source === 'string' ? { source: values.source } : {}),
  });
  if (output.json)
    console.log(
      JSON.stringify(
        { ok: r.code === 0, written: r.written ?? null, diagnostics: r.diagnostics.map(diagnosticJson) },
        null,
        2,
      ),
    );
  else {
    printDiagnostics(r.diagnostics, output.quiet, output.verbose);
    if (r.written && !output.quiet) console.log(describe(r.written));
  }
  return r.code;
}

/** What init wrote, for people. */
function describe(w: NonNullable<InitResult['written']>): string {
  const lines = [`agent-infra: wrote ${w.spec}${w.backup ? ` (the old one is ${w.backup})` : ''}`];
  for (const m of w.machines) {
    const gpus = m.gpus.map((g) => `${g.model} ${g.vramGiB} GiB`).join(', ') || 'no GPU';
    lines.push(
      `  ${m.name.padEnd(8)} ${String(m.agents).padStart(3)} agents  ${m.config}  (${gpus}; ${m.gpuSource === 'nvidia-smi' ? 'from nvidia-smi' : m.gpuSource === 'default' ? 'two-PC default' : 'unknown'})`,
    );
  }
  if (w.gpuGroups.length) lines.push(`  GPU groups: ${w.gpuGroups.join(', ')}`);
  if (w.vram.length)
    lines.push(`  VRAM from the configs: ${w.vram.map((v) => `${v.agent} ${v.vramGiB} GiB`).join(', ')}`);
  const reqs = Object.entries(w.requirements);
  if (reqs.length) lines.push(`  requirements: ${reqs.map(([f, files]) => `${f} ${files.join(', ')}`).join('; ')}`);
  if (w.source !== undefined) lines.push(`  source: ${w.source}${w.framework ? `, framework ${w.framework}` : ''}`);
  lines.push(
    `  ${w.todos} TODO${w.todos === 1 ? '' : 's'} to confirm; check finds ${w.check.errors} errors and ${w.check.warnings} warnings in the configs`,
    `  next: npx agent-infra check --spec ${w.spec}, then npx agent-infra synth --spec ${w.spec} (writes dist/)`,
  );
  return lines.join('\n');
}
