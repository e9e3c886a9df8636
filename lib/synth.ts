/** Synthesis: load -> plan -> every emitter -> dist/, written only when everything succeeded. */
import type { MachineFile } from './config/load.ts';
import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { readInput } from './io/read-input.ts';
import { dirname, join, relative, resolve } from 'node:path';
import { diag, type Diagnostic } from './diagnostics.ts';
import { writeLock } from './lock.ts';
import { runPipelineAsync, type PipelineResult } from './pipeline.ts';
import { emitKubernetes } from './emit/k8s.ts';
import { emitCompose } from './emit/compose.ts';
import { emitDockerfiles } from './emit/dockerfile.ts';
import { emitReports, type ImagesReportInput } from './emit/reports.ts';
import type { SourceStage } from './source/stage.ts';
import { checkOutputRoot, gitWorkTree, makeDir, OutputError, writeOutput, type GuardedPath } from './write.ts';
import type { SystemPlan } from './plan/types.ts';

export const OUTPUTS = ['k8s', 'compose', 'docker', 'reports'] as const;
export type Output = (typeof OUTPUTS)[number];

export interface SynthOptions {
  readonly spec?: string;
  /** Machines whose startup config is given here (what `--machine NAME=FILE` gives). */
  readonly machines?: readonly MachineFile[];
  /** Root of the output tree. @default dist */
  readonly out?: string;
  readonly only?: readonly Output[];
  /** Where `cdk8s synth` expects the Kubernetes manifests (CDK8S_OUTDIR), when it runs us. */
  readonly cdk8sOutdir?: string;
  readonly cwd?: string;
  /** The system's source tree, overriding the spec's `source`. */
  readonly source?: string;
  /** Any agent that cannot start blocks everything (overrides the spec's `strict`). */
  readonly strict?: boolean;
}

/** Every synchronous emitter's files for a plan (all but reports), keyed by path below the output root. Pure. */
export function emitAll(plan: SystemPlan, input: string, only: readonly Output[] = OUTPUTS): Map<string, string> {
  const files = new Map<string, string>();
  if (only.includes('k8s')) for (const [k, v] of emitKubernetes(plan, input)) files.set(k, v);
  if (only.includes('compose')) for (const [k, v] of emitCompose(plan, input)) files.set(k, v);
  if (only.includes('docker')) for (const [k, v] of emitDockerfiles(plan, input)) files.set(k, v);
  return files;
}

/** Every emitter's files, reports included. */
export async function emitEverything(
  plan: SystemPlan,
  input: string,
  only: readonly Output[] = OUTPUTS,
  images?: ImagesReportInput,
  source?: SourceStage,
): Promise<Map<string, string>> {
  // Reports first: their graph layout runs on a worker thread while the other emitters run here.
  const reports = only.includes('reports')
    ? emitReports(plan, input, images, source)
    : Promise.resolve(new Map<string, string>());
  const files = emitAll(plan, input, only);
  for (const [k, v] of await reports) files.set(k, v);
  return files;
}

/**
 * How generated files name their input in their header line: the spec relative to the working
 * folder, else the machines' startup configs as the spec holds them (relative, never absolute).
 */
function inputName(cwd: string, spec: string | undefined, r: PipelineResult): string {
  return spec
    ? relative(cwd, resolve(cwd, spec)) || spec
    : Object.values(r.loaded.spec.machines)
        .map((m) => m.config)
        .join(', ');
}

const Bytes = z
  .number()
  .min(0)
  .max(2 ** 53);
/** What the reports read of `dist/images/report.json` (written by `agent-infra images`; other fields are ignored). */
const ImagesReportSchema = z.object({
  families: z.array(
    z.object({
      family: z.string().regex(/^[a-z0-9][-a-z0-9]{0,62}$/),
      sizeBytes: Bytes,
      wastedBytes: Bytes,
      naive: z.object({ sizeBytes: Bytes }).optional(),
    }),
  ),
  sharing: z.object({ uniqueBytes: Bytes, sumBytes: Bytes, ratio: z.number().min(0).max(1e6) }).optional(),
});

/**
 * The report of the last `agent-infra images` run, when there is one below the output root; one that
 * cannot be read is left out of the reports, with a warning.
 */
function lastImagesReport(out: string, shown: string): { report?: ImagesReportInput; diagnostics: Diagnostic[] } {
  const f = join(out, 'images', 'report.json');
  const read = readInput(f);
  if (!read.ok && read.code === 'missing-file') return { diagnostics: [] };
  let why = read.ok ? '' : `it ${read.reason}`;
  if (read.ok) {
    try {
      const parsed = ImagesReportSchema.safeParse(JSON.parse(read.text));
      if (parsed.success) return { report: parsed.data, diagnostics: [] };
      const issue = parsed.error.issues[0]!;
      why = `${issue.path.length ? `at ${issue.path.join('.')}: ` : ''}${issue.message}`;
    } catch (e) {
      why = `it is not JSON: ${(e as Error).message}`;
    }
  }
  return {
    diagnostics: [
      diag(
        'parse-error',
        'warning',
        `the images report cannot be read and is left out of reports/images.md (${why}); run 'agent-infra images' again to rewrite it`,
        { file: join(shown, 'images', 'report.json'), line: 1, column: 1, path: '' },
      ),
    ],
  };
}

/** What a synthesis did, for the caller to print: nothing here prints. */
export interface SynthResult {
  /** 0 written, 1 the configs have errors (nothing written), 2 the input is unusable. */
  readonly code: 0 | 1 | 2;
  readonly diagnostics: readonly Diagnostic[];
  /** Set when files were written. */
  readonly written?: {
    readonly files: number;
    /** The files written, relative to `out`, sorted. */
    readonly paths: readonly string[];
    readonly agents: number;
    readonly out: string;
    readonly only: readonly Output[];
  };
  /** Whether the port lock was (re)written. */
  readonly lockWritten: boolean;
}

/** The pipeline over what the options name: the spec or the machines' configs, the source tree, strictness. */
function pipelineOf(opts: Pick<SynthOptions, 'spec' | 'machines' | 'source' | 'strict'>, cwd: string) {
  return runPipelineAsync({
    ...(opts.spec ? { spec: opts.spec } : {}),
    ...(opts.source ? { source: opts.source } : {}),
    ...(opts.strict !== undefined ? { strict: opts.strict } : {}),
    machines: opts.machines ?? [],
    cwd,
  });
}

/** Runs the whole synthesis. Nothing is written unless the configs are clean; then the lock too. */
export async function synthesize(opts: SynthOptions): Promise<SynthResult> {
  const cwd = opts.cwd ?? process.cwd();
  const r = await pipelineOf(opts, cwd);
  if (r.unusable) return { code: 2, diagnostics: r.diagnostics, lockWritten: false };
  if (!r.ok) return { code: 1, diagnostics: r.diagnostics, lockWritten: false };
  const input = inputName(cwd, opts.spec, r);
  const only = opts.only ?? OUTPUTS;
  const out = resolve(cwd, opts.out ?? 'dist');
  const images = lastImagesReport(out, relative(cwd, out) || '.');
  const files = await emitEverything(r.plan, input, only, images.report, r.source);
  let lockWritten = false;
  const failed =
    writing(opts.out ?? 'dist', () => {
      checkOutputRoot(out, guardedPaths(r, cwd));
      writeOutput(out, files, only);
      if (opts.cdk8sOutdir && only.includes('k8s')) {
        const target = resolve(cwd, opts.cdk8sOutdir);
        // `output: dist` in cdk8s.yaml: the CLI lists the manifests where they are written.
        if (target !== join(out, 'k8s') && target !== out) {
          makeDir(target);
          for (const [k, v] of files)
            if (k.startsWith('k8s/') && k.endsWith('.yaml') && k !== 'k8s/kustomization.yaml')
              writeFileSync(join(target, k.slice(4).replace(/\.yaml$/, '.k8s.yaml')), v);
        }
      }
    }) ??
    writing(relative(cwd, r.loaded.lockFile), () => {
      // Last: a lock that names ports of output that was never written would be a lie.
      lockWritten = writeLock(r.loaded.lockFile, r.plan.lock);
    });
  if (failed) return { code: 2, diagnostics: [...r.diagnostics, ...images.diagnostics, failed], lockWritten: false };
  return {
    code: 0,
    diagnostics: [...r.diagnostics, ...images.diagnostics],
    written: { files: files.size, paths: [...files.keys()].sort(), agents: r.plan.agents.length, out, only },
    lockWritten,
  };
}

/** What the output root may be neither nor hold: the run's inputs and the git work tree they are in. */
function guardedPaths(r: PipelineResult, cwd: string): GuardedPath[] {
  const { specFile, lockFile, configs, sourceRoot } = r.loaded;
  const tree = gitWorkTree(specFile ? dirname(specFile) : cwd);
  return [
    ...(specFile ? [{ path: specFile, what: 'the spec' }] : []),
    { path: resolve(cwd, lockFile), what: 'the port lock' },
    ...configs.map((c) => ({ path: resolve(cwd, c.file), what: `the startup config of ${c.machine}` })),
    ...(sourceRoot ? [{ path: sourceRoot, what: 'the source tree' }] : []),
    ...(tree ? [{ path: tree, what: 'the git work tree of the spec' }] : []),
  ];
}

/** Runs `write`; a failure of the file system (a full or read-only disk, a file where a folder goes) becomes `unwritable-output`. */
function writing(shown: string, write: () => void): Diagnostic | undefined {
  try {
    write();
    return undefined;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (!(e instanceof OutputError) && typeof err.code !== 'string') throw e;
    const why =
      e instanceof OutputError
        ? e.message
        : `${err.code}${err.syscall ? ` on ${err.syscall}` : ''}${err.path ? ` of ${err.path}` : ''}`;
    const hint =
      e instanceof OutputError
        ? e.hint
        : err.code === 'ENOSPC' || err.code === 'EDQUOT'
          ? 'free some disk space'
          : err.code === 'EFBIG'
            ? 'raise the file size limit (ulimit -f)'
            : err.code === 'EROFS' || err.code === 'EACCES' || err.code === 'EPERM'
              ? 'choose a writable --out or fix its permissions'
              : 'choose another --out';
    return diag(
      e instanceof OutputError ? e.code : 'unwritable-output',
      'error',
      `cannot write ${shown} (${why}); nothing was changed there: ${hint}`,
    );
  }
}

/** What `agent-infra report` did. */
export interface ReportResult {
  readonly code: 0 | 1 | 2;
  readonly diagnostics: readonly Diagnostic[];
  readonly written?: { readonly files: number; readonly paths: readonly string[]; readonly dir: string };
}

/** The reports alone, written even when the configs have errors (cycles show red); not when unusable. */
export async function writeReports(
  opts: Pick<SynthOptions, 'spec' | 'machines' | 'out' | 'cwd' | 'source' | 'strict'>,
): Promise<ReportResult> {
  const cwd = opts.cwd ?? process.cwd();
  const r = await pipelineOf(opts, cwd);
  if (r.unusable) return { code: 2, diagnostics: r.diagnostics };
  const out = resolve(cwd, opts.out ?? 'dist');
  const images = lastImagesReport(out, relative(cwd, out) || '.');
  const files = await emitReports(r.plan, inputName(cwd, opts.spec, r), images.report, r.source);
  const dir = join(out, 'reports');
  const failed = writing(opts.out ?? 'dist', () => {
    checkOutputRoot(out, guardedPaths(r, cwd));
    writeOutput(out, files, ['reports']);
  });
  const diagnostics = [...r.diagnostics, ...images.diagnostics];
  if (failed) return { code: 2, diagnostics: [...diagnostics, failed] };
  return { code: r.ok ? 0 : 1, diagnostics, written: { files: files.size, paths: [...files.keys()].sort(), dir } };
}
