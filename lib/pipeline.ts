/** load -> source (when a source tree is given) -> normalize -> plan, as one call for the CLI, the cdk8s app and the tests. */
import { hasErrors, sortDiagnostics, type Diagnostic } from './diagnostics.ts';
import { loadSystem, type LoadedSystem, type LoadOptions } from './config/load.ts';
import { plan } from './plan/plan.ts';
import type { SystemPlan } from './plan/types.ts';
import { initPython } from './source/python.ts';
import { requirementWarnings } from './source/requirements.ts';
import { readSources, type SourceStage } from './source/stage.ts';

export interface PipelineResult {
  readonly loaded: LoadedSystem;
  /** What the agents' code does, when a source tree was read. */
  readonly source?: SourceStage;
  readonly plan: SystemPlan;
  /** Every diagnostic of every stage, in a stable order. */
  readonly diagnostics: readonly Diagnostic[];
  readonly unusable: boolean;
  readonly ok: boolean;
}

/** Every stage after the io of loading. With a source tree, the Python reader must be ready ({@link runPipelineAsync}). */
export function runPipeline(opts: LoadOptions): PipelineResult {
  return afterLoad(loadSystem(opts), opts);
}

/** {@link runPipeline}, loading the Python reader first when the system names a source tree. */
export async function runPipelineAsync(opts: LoadOptions): Promise<PipelineResult> {
  const loaded = loadSystem(opts);
  if (loaded.sourceRoot && !loaded.unusable) await initPython();
  return afterLoad(loaded, opts);
}

function afterLoad(loaded: LoadedSystem, opts: LoadOptions): PipelineResult {
  const source = loaded.sourceRoot && !loaded.unusable ? readSources(loaded.spec, loaded.configs, loaded.sourceRoot, opts.cwd ?? process.cwd()) : undefined;
  const closures = source ? new Map([...source.facts].filter(([, f]) => f.compiles).map(([k, f]) => [k, f.closure])) : undefined;
  const p = plan(loaded.spec, source?.configs ?? loaded.configs, loaded.lock, closures);
  const requirements = source ? requirementWarnings(p, source, loaded.sourceRoot!, opts.cwd ?? process.cwd()) : [];
  const diagnostics = sortDiagnostics([...loaded.diagnostics, ...(source?.diagnostics ?? []), ...requirements, ...p.diagnostics]);
  return { loaded, ...(source ? { source } : {}), plan: p, diagnostics, unusable: loaded.unusable, ok: !loaded.unusable && !hasErrors(diagnostics) };
}
