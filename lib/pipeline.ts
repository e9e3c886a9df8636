/** load -> source (when a source tree is given) -> normalize -> plan, as one call for the CLI, the cdk8s app and the tests. */
import { diag, hasErrors, sortDiagnostics, type Diagnostic } from './diagnostics.ts';
import { loadSystem, type LoadedSystem, type LoadOptions } from './config/load.ts';
import { plan } from './plan/plan.ts';
import { applyIgnores } from './config/ignore.ts';
import { unreadCodeDiagnostic } from './source/unread.ts';
import { requirementProblems } from './source/requirement-files.ts';
import { join, relative } from 'node:path';
import { DEFAULT_IMAGES, declaresInstalls } from './config/spec.ts';
import type { LeftOutAgent, StartProblem, SystemPlan } from './plan/types.ts';
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
  /** The stage, already read. */
  source: SourceStage;
  requirementCauses: typeof import('./source/requirements.ts').requirementCauses;
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
  const source = await stage.readSourcesAsync(
    loaded.spec,
    loaded.configs,
    loaded.sourceRoot,
    opts.cwd ?? process.cwd(),
  );
  return afterLoad(loaded, opts, { source, requirementCauses: requirements.requirementCauses });
}

function afterLoad(loaded: LoadedSystem, opts: LoadOptions, modules?: SourceModules): PipelineResult {
  const source = modules?.source;
  const closures = source
    ? new Map([...source.facts].filter(([, f]) => f.compiles).map(([k, f]) => [k, f.closure]))
    : undefined;
  const strict = opts.strict ?? loaded.spec.strict;
  const configs = source?.configs ?? loaded.configs;
  const cwd = opts.cwd ?? process.cwd();
  const families = { ...DEFAULT_IMAGES, ...(loaded.spec.images ?? {}) };
  // Where a family says what it installs, a module its image lacks can stop an agent: every agent is
  // planned (its family decided) to know which, and the first failure of each start wins. Where none
  // says, missing modules are only warnings, and one plan without what the code stops is enough.
  const declared = Object.values(families).some(declaresInstalls);
  // An agent whose own config entry cannot start it (no script to run) stops before any of its code.
  const configStops = new Map<string, StartProblem>(
    configs
      .flatMap((c) => c.agents)
      .flatMap((a) => (a.unstartable ? [[`${a.machine}/${a.name}`, { ...a.unstartable, step: -1 }] as const] : [])),
  );
  const codeStops = new Map([...(source?.cannotStart ?? []), ...configStops]);
  const first = plan(loaded.spec, configs, loaded.lock, closures, strict || declared ? undefined : codeStops);
  const requirements =
    source && modules ? modules.requirementCauses(first, families, source, loaded.sourceRoot!, cwd) : undefined;
  const cannotStart = new Map(codeStops);
  // An agent dies of the first failure of its start: a problem of its code or a module its image lacks.
  for (const [key, r] of requirements?.cannotStart ?? [])
    if ((r.step ?? Infinity) < (cannotStart.get(key)?.step ?? Infinity)) cannotStart.set(key, r);
  const planned =
    strict || !declared || cannotStart.size === 0
      ? first
      : plan(loaded.spec, configs, loaded.lock, closures, cannotStart);
  // The requirement files each image copies, read where the images are built from.
  const reqRoot = loaded.sourceRoot ?? loaded.codeRoot;
  const req = loaded.unusable
    ? undefined
    : requirementProblems(planned, reqRoot, (f) => relative(cwd, join(reqRoot, f)) || f);
  const p: SystemPlan = req ? { ...planned, images: req.images } : planned;
  const diagnostics = sortDiagnostics(
    applyIgnores(
      [
        ...leftOutDiagnostics(
          [...loaded.diagnostics, ...(source?.diagnostics ?? []), ...(requirements?.diagnostics ?? [])],
          p,
        ),
        ...p.diagnostics,
        ...(req?.diagnostics ?? []),
        ...(source || loaded.unusable ? [] : [unreadCodeDiagnostic(p, loaded.codeRoot, loaded.specAt?.(''))]).filter(
          (d): d is Diagnostic => d !== undefined,
        ),
      ],
      loaded.spec,
      configs,
      (i) => loaded.specAt?.(`diagnostics.ignore[${i}]`),
    ),
  );
  return {
    loaded,
    ...(source ? { source } : {}),
    plan: p,
    diagnostics,
    unusable: loaded.unusable,
    ok: !loaded.unusable && !hasErrors(diagnostics),
  };
}

/**
 * Without `--strict`: a problem that stops only agents the plan leaves out is a warning (what is
 * deployed can run), and one more warning names the left-out agents, grouped by what stops them.
 * Every agent left out is an error: nothing would be deployed.
 */
function leftOutDiagnostics(ds: readonly Diagnostic[], p: SystemPlan): Diagnostic[] {
  if (p.leftOut.length === 0) return [...ds];
  const out = new Set(p.leftOut.map((l) => l.key));
  const downgraded = ds.map((d) =>
    d.severity === 'error' && d.stops?.length && d.stops.every((k) => out.has(k))
      ? { ...d, severity: 'warning' as const }
      : d,
  );
  const none = p.agents.length === 0;
  return [...downgraded, diag('left-out', none ? 'error' : 'warning', leftOutMessage(p.leftOut, none))];
}

/** `N agents left out: ...`, one clause per problem code, the blocked ones with what blocks them. */
export function leftOutMessage(leftOut: readonly LeftOutAgent[], none: boolean): string {
  const cannot = leftOut.filter((l) => l.reason === 'cannot-start');
  const blocked = leftOut.filter((l) => l.reason === 'blocked');
  const byCode = new Map<string, string[]>();
  for (const l of cannot) byCode.set(l.problem.code, [...(byCode.get(l.problem.code) ?? []), l.name]);
  const clauses = [...byCode]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([code, names]) => `${code}: ${list(names)}`);
  if (blocked.length)
    clauses.push(`blocked (a dependency is left out): ${list(blocked.map((l) => `${l.name} (needs ${l.chain[0]})`))}`);
  const head = none
    ? `every agent (${leftOut.length}) is left out: nothing can be deployed`
    : `${leftOut.length} agent${leftOut.length === 1 ? '' : 's'} left out of what is deployed, ${cannot.length} that cannot start and ${blocked.length} blocked by them`;
  return `${head}; ${clauses.join('; ')}; fix the problems above (reports/agents.md lists each with its line), or pass --strict to make any of them block everything`;
}

const list = (names: readonly string[]) =>
  names.length > 8 ? `${names.slice(0, 8).join(', ')} and ${names.length - 8} more` : names.join(', ');
