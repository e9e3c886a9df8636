/** load -> normalize -> plan, as one call for the CLI, the cdk8s app and the tests. */
import { hasErrors, sortDiagnostics, type Diagnostic } from './diagnostics.ts';
import { loadSystem, type LoadedSystem, type LoadOptions } from './config/load.ts';
import { plan } from './plan/plan.ts';
import type { SystemPlan } from './plan/types.ts';

export interface PipelineResult {
  readonly loaded: LoadedSystem;
  readonly plan: SystemPlan;
  /** Every diagnostic of every stage, in a stable order. */
  readonly diagnostics: readonly Diagnostic[];
  readonly unusable: boolean;
  readonly ok: boolean;
}

/** Runs every pure stage after the io of loading. */
export function runPipeline(opts: LoadOptions): PipelineResult {
  const loaded = loadSystem(opts);
  const p = plan(loaded.spec, loaded.configs, loaded.lock);
  const diagnostics = sortDiagnostics([...loaded.diagnostics, ...p.diagnostics]);
  return { loaded, plan: p, diagnostics, unusable: loaded.unusable, ok: !loaded.unusable && !hasErrors(diagnostics) };
}
