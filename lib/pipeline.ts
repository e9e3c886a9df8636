/** load -> source (when a source tree is given) -> normalize -> plan, as one call for the CLI, the cdk8s app and the tests. */
import { hasErrors, sortDiagnostics, type Diagnostic } from './diagnostics.ts';
import { loadSystem, type LoadedSystem, type LoadOptions } from './config/load.ts';
import { plan } from './plan/plan.ts';
import type { SystemPlan } from './plan/types.ts';
import type { SourceStage } from './source/stage.ts';

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

/** The source stage's modules, loaded (with the Python parser) only when a system names a source tree. */
type SourceModules = {
  readSources: typeof import('./source/stage.ts').readSources;
  requirementWarnings: typeof import('./source/requirements.ts').requirementWarnings;
};

/** Every stage after the io of loading, for a system without a source tree ({@link runPipelineAsync} reads one). */
export function runPipeline(opts: LoadOptions): PipelineResult {
  const loaded = loadSystem(opts);
  if (loaded.sourceRoot && !loaded.unusable)
    throw new Error(
      `the spec names a source tree (${loaded.sourceRoot}), and reading Python code is asynchronous: plan the system with 'await planSystem(...)' and pass its plan`,
    );
  return afterLoad(loaded, opts);
}

/** {@link runPipeline}, reading the agents' code first when the system names a source tree. */
export async function runPipelineAsync(opts: LoadOptions): Promise<PipelineResult> {
  const loaded = loadSystem(opts);
  if (!loaded.sourceRoot || loaded.unusable) return afterLoad(loaded, opts);
  const [python, stage, requirements] = await Promise.all([
    import('./source/python.ts'),
    import('./source/stage.ts'),
    import('./source/requirements.ts'),
  ]);
  await python.initPython();
  return afterLoad(loaded, opts, {
    readSources: stage.readSources,
    requirementWarnings: requirements.requirementWarnings,
  });
}

function afterLoad(loaded: LoadedSystem, opts: LoadOptions, modules?: SourceModules): PipelineResult {
  const source =
    modules && loaded.sourceRoot
      ? modules.readSources(loaded.spec, loaded.configs, loaded.sourceRoot, opts.cwd ?? process.cwd())
      : undefined;
  const closures = source
    ? new Map([...source.facts].filter(([, f]) => f.compiles).map(([k, f]) => [k, f.closure]))
    : undefined;
  const p = plan(loaded.spec, source?.configs ?? loaded.configs, loaded.lock, closures);
  const requirements =
    source && modules ? modules.requirementWarnings(p, source, loaded.sourceRoot!, opts.cwd ?? process.cwd()) : [];
  const diagnostics = sortDiagnostics([
    ...loaded.diagnostics,
    ...(source?.diagnostics ?? []),
    ...requirements,
    ...p.diagnostics,
  ]);
  return {
    loaded,
    ...(source ? { source } : {}),
    plan: p,
    diagnostics,
    unusable: loaded.unusable,
    ok: !loaded.unusable && !hasErrors(diagnostics),
  };
}
