/** The io end of loading: reads the spec, each machine's startup config and the port lock. */
import { realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { relativePathProblem } from './grammar.ts';
import { diag, type Diagnostic, type SourceRef } from '../diagnostics.ts';
import type { MachineConfig } from './model.ts';
import { normalize } from './normalize.ts';
import { readInput } from '../io/read-input.ts';
import {
  CONVENTIONAL_SPEC,
  DeploymentSpecSchema,
  MachineSpecSchema,
  MACHINE_NAME,
  RESERVED_MACHINE_NAMES,
  type DeploymentSpec,
} from './spec.ts';
import { joinPath, parseYamlSource, type YamlSource } from '../io/yaml-source.ts';
import { EMPTY_LOCK, LOCK_FILE, readLock, type PortLock } from '../lock.ts';

export interface LoadOptions {
  /** Path of `agent-infra.yaml`; without it the conventional two-PC paths are used. */
  readonly spec?: string;
  /**
   * Machines whose startup config is given here: each replaces the spec's file for a machine of that name,
   * or adds the machine. Without a spec file they are exactly the machines loaded.
   */
  readonly machines?: readonly MachineFile[];
  /** Directory that relative paths in messages are shown from. */
  readonly cwd?: string;
  /** The system's source tree (overrides the spec's `source`), relative to `cwd`. */
  readonly source?: string;
  /** The spec's text, read instead of the file `spec` (which still says where it is: paths are relative to its folder). */
  readonly specText?: string;
  /** Any agent that cannot start blocks everything (overrides the spec's `strict`). */
  readonly strict?: boolean;
}

/** A machine and its startup config file (relative to `cwd`), as `--machine NAME=FILE` gives them. */
export interface MachineFile {
  readonly name: string;
  readonly file: string;
}

/** Why `name` cannot name a machine, or undefined. */
export function machineNameProblem(name: string): string | undefined {
  if (!MACHINE_NAME.test(name)) return 'machine names are lowercase words of at most 31 characters, such as pc2';
  if (RESERVED_MACHINE_NAMES.has(name))
    return `the name is one of the system's own outputs (${[...RESERVED_MACHINE_NAMES].join(', ')}); name the machine otherwise`;
  return undefined;
}

export interface LoadedSystem {
  readonly spec: DeploymentSpec;
  readonly specFile?: string;
  readonly lockFile: string;
  readonly lock: PortLock;
  readonly configs: readonly MachineConfig[];
  /** The source tree to read the agents' code from (absolute), when the spec or `--source` names one. */
  readonly sourceRoot?: string;
  readonly diagnostics: readonly Diagnostic[];
  /** Whether the input is unusable (missing file, parse error, invalid spec). */
  readonly unusable: boolean;
  /** The root of the system's code: the source tree, else the spec's folder. */
  readonly codeRoot: string;
  /** Where a config path of the spec is written (undefined for the built-in spec). */
  readonly specAt?: (path: string) => SourceRef;
}

/** Where paths are read from and shown relative to, and where problems go. */
interface LoadContext {
  readonly cwd: string;
  readonly show: (p: string) => string;
  readonly ds: Diagnostic[];
}

/** The spec as read: its file and folder (the working folder without one) and its YAML source. */
interface ReadSpec {
  readonly spec: DeploymentSpec;
  readonly specFile?: string;
  readonly baseDir: string;
  readonly specSource?: YamlSource;
}

/** Reads and normalizes everything. Never throws for bad input: problems become diagnostics. */
export function loadSystem(opts: LoadOptions): LoadedSystem {
  const cwd = opts.cwd ?? process.cwd();
  const ctx: LoadContext = { cwd, show: (p) => relative(cwd, p) || p, ds: [] };
  const read = readSpec(opts, ctx);
  if (!read) return failed(ctx.ds, opts.spec ? dirname(resolve(cwd, opts.spec)) : cwd);
  const { spec, specFile, baseDir, specSource } = read;
  if (!applyMachineFiles(spec, opts.machines ?? [], specFile !== undefined, baseDir, ctx))
    return failed(ctx.ds, baseDir);
  if (!eachMachineOwnFile(read, ctx)) return failed(ctx.ds, baseDir);
  // The root of the code, where the agents read their startup configs from: the source tree, else the spec's folder.
  const codeRoot = opts.source ? resolve(cwd, opts.source) : spec.source ? resolve(baseDir, spec.source) : baseDir;
  const addressVariables: Record<string, string> = {};
  for (const [name, ms] of Object.entries(spec.machines))
    for (const a of ms.legacyAddresses) addressVariables[a] = ms.addressEnv ?? name;
  const machines = Object.keys(spec.machines)
    .sort()
    .map((name) => readMachine(name, read, codeRoot, addressVariables, ctx));
  const configs = machines.filter((c): c is MachineConfig => c !== undefined);
  const lockFile = resolve(baseDir, LOCK_FILE);
  const { lock, diagnostics: lockDiagnostics } = readLock(lockFile, ctx.show(lockFile));
  ctx.ds.push(...lockDiagnostics);
  const sourceRoot = opts.source ? resolve(cwd, opts.source) : spec.source ? resolve(baseDir, spec.source) : undefined;
  const sourceMissing = sourceRoot !== undefined && !isDirectory(sourceRoot);
  if (sourceMissing)
    ctx.ds.push(
      diag(
        'missing-file',
        'error',
        `the source tree ${ctx.show(sourceRoot)} is not a folder; fix ${opts.source ? '--source' : 'source'} (the root of the system's code)`,
        specSource && !opts.source ? specSource.at('source') : undefined,
      ),
    );
  return {
    spec,
    ...(specFile ? { specFile } : {}),
    lockFile,
    lock,
    configs,
    ...(sourceRoot ? { sourceRoot } : {}),
    diagnostics: ctx.ds,
    unusable: configs.length < machines.length || sourceMissing,
    codeRoot,
    ...(specSource ? { specAt: (path: string) => specSource.at(path) } : {}),
  };
}

/** The unusable result: the built-in spec, no configs, the problems found. */
function failed(ds: Diagnostic[], baseDir: string): LoadedSystem {
  return {
    spec: DeploymentSpecSchema.parse(CONVENTIONAL_SPEC),
    lockFile: resolve(baseDir, LOCK_FILE),
    lock: EMPTY_LOCK,
    configs: [],
    diagnostics: ds,
    unusable: true,
    codeRoot: baseDir,
  };
}

/** The spec file (or the given text, or the conventional spec without one), parsed and checked against the schema. */
function readSpec(opts: LoadOptions, ctx: LoadContext): ReadSpec | undefined {
  let raw: unknown = CONVENTIONAL_SPEC;
  let specSource: YamlSource | undefined;
  const specFile = opts.spec ? resolve(ctx.cwd, opts.spec) : undefined;
  if (specFile) {
    const text =
      opts.specText ??
      readFile(
        specFile,
        ctx.show(specFile),
        { missing: 'spec file not found; pass an existing file to --spec', fix: 'pass the spec file to --spec' },
        ctx.ds,
      );
    if (text === undefined) return undefined;
    specSource = parseYamlSource(ctx.show(specFile), text, '1.2');
    ctx.ds.push(...specSource.diagnostics);
    if (specSource.diagnostics.some((d) => d.severity === 'error')) return undefined;
    raw = specSource.data;
  }
  const parsed = DeploymentSpecSchema.safeParse(raw ?? {});
  if (parsed.success)
    return {
      spec: structuredClone(parsed.data),
      ...(specFile ? { specFile } : {}),
      baseDir: specFile ? dirname(specFile) : ctx.cwd,
      ...(specSource ? { specSource } : {}),
    };
  for (const outer of parsed.error.issues) {
    // A bad record key (a machine's name) carries the reason in its own issues.
    const issue = outer.code === 'invalid_key' && outer.issues[0] ? { ...outer.issues[0], path: outer.path } : outer;
    const path = issue.path.reduce<string>((p, k) => joinPath(p, typeof k === 'number' ? k : String(k)), '');
    const at = specSource?.at(path) ?? { file: '(built-in spec)', line: 0, column: 0, path };
    ctx.ds.push(
      diag(
        'invalid-spec',
        'error',
        `${issue.message.charAt(0).toLowerCase()}${issue.message.slice(1)}; see the spec reference in the README`,
        { ...at, path },
      ),
    );
  }
  return undefined;
}

/**
 * The machines given with their files: each replaces a machine's file or adds the machine; without a
 * spec file they are exactly the machines loaded (conventional settings by name). False after an error.
 */
function applyMachineFiles(
  spec: DeploymentSpec,
  given: readonly MachineFile[],
  hasSpecFile: boolean,
  baseDir: string,
  ctx: LoadContext,
): boolean {
  if (!hasSpecFile && given.length > 0) {
    const named = new Set(given.map((m) => m.name));
    for (const name of Object.keys(spec.machines)) if (!named.has(name)) delete spec.machines[name];
  }
  const seen = new Set<string>();
  for (const { name, file: path } of given) {
    const problem =
      machineNameProblem(name) ?? (seen.has(name) ? 'it is given twice; give each machine once' : undefined);
    if (problem) {
      ctx.ds.push(diag('invalid-spec', 'error', `machine '${name}': ${problem}`));
      return false;
    }
    seen.add(name);
    const config = relative(baseDir, resolve(ctx.cwd, path));
    const existing = spec.machines[name];
    spec.machines[name] = existing
      ? { ...existing, config }
      : MachineSpecSchema.parse({ config, addressEnv: `${name.toUpperCase().replace(/-/g, '_')}_IP` });
  }
  return true;
}

/** One file read as two machines would plan every agent twice, on both. False after that error. */
function eachMachineOwnFile({ spec, baseDir, specSource }: ReadSpec, ctx: LoadContext): boolean {
  const byFile = new Map<string, string>();
  for (const name of Object.keys(spec.machines).sort()) {
    const file = resolve(baseDir, spec.machines[name]!.config);
    const other = byFile.get(file);
    if (other) {
      ctx.ds.push(
        diag(
          'invalid-spec',
          'error',
          `machines ${other} and ${name} both read ${ctx.show(file)}; give each machine its own startup config`,
          specSource?.at(joinPath(joinPath('machines', name), 'config')) ?? {
            file: ctx.show(file),
            line: 0,
            column: 0,
            path: '',
          },
        ),
      );
      return false;
    }
    byFile.set(file, name);
  }
  return true;
}

/** One machine's startup config, read and normalized; undefined when it cannot be read or parsed. */
function readMachine(
  name: string,
  { spec, baseDir }: ReadSpec,
  codeRoot: string,
  addressVariables: Readonly<Record<string, string>>,
  ctx: LoadContext,
): MachineConfig | undefined {
  const file = resolve(baseDir, spec.machines[name]!.config);
  const fix = `fix machines.${name}.config or pass --machine ${name}=FILE`;
  const text = readFile(
    file,
    ctx.show(file),
    { missing: `startup config of machine '${name}' not found; ${fix}`, fix },
    ctx.ds,
  );
  if (text === undefined) return undefined;
  const src = parseYamlSource(ctx.show(file), text);
  ctx.ds.push(...src.diagnostics);
  if (src.diagnostics.some((d) => d.code === 'parse-error')) return undefined;
  const n = normalize(src, {
    machine: name,
    variables: spec.variables,
    addressVariables,
    quoteContent: isInside(baseDir, file),
  });
  ctx.ds.push(...n.diagnostics);
  const codePath = relative(codeRoot, file).split(sep).join('/');
  // Mounted at that path in the containers: only a plain relative path inside the code root.
  return {
    ...n.config,
    text,
    ...(!isAbsolute(codePath) && !relativePathProblem(codePath) ? { codePath } : {}),
  };
}

/**
 * Reads an input file, or reports why it cannot be: `missing-file` with the `missing` message, a
 * `parse-error` at the first byte that is not UTF-8, else `unreadable-file` (a directory, a FIFO or
 * device, too large, no permission) followed by `fix`.
 */
function readFile(
  file: string,
  shown: string,
  say: { missing: string; fix: string },
  ds: Diagnostic[],
): string | undefined {
  const r = readInput(file);
  if (r.ok) return r.text;
  if (r.code === 'missing-file')
    ds.push(diag('missing-file', 'error', say.missing, { file: shown, line: 0, column: 0, path: '' }));
  else if (r.code === 'parse-error')
    ds.push(
      diag('parse-error', 'error', r.reason, { file: shown, line: r.line ?? 1, column: r.column ?? 1, path: '' }),
    );
  else
    ds.push(diag('unreadable-file', 'error', `${r.reason}; ${say.fix}`, { file: shown, line: 0, column: 0, path: '' }));
  return undefined;
}

function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/** Whether `file`, its links resolved, is inside folder `dir` (its links resolved too). */
function isInside(dir: string, file: string): boolean {
  try {
    const rel = relative(realpathSync(dir), realpathSync(file));
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  } catch {
    return false;
  }
}
