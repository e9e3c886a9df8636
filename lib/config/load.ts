/** The io end of loading: reads the spec, each machine's startup config and the port lock. */
import { realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { relativePathProblem } from './grammar.ts';
import { diag, type Diagnostic } from '../diagnostics.ts';
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
  /** `name=file` pairs that replace or add machine configs. */
  readonly machines?: readonly string[];
  /** Directory that relative paths in messages are shown from. */
  readonly cwd?: string;
  /** The system's source tree (overrides the spec's `source`), relative to `cwd`. */
  readonly source?: string;
  /** The spec's text, read instead of the file `spec` (which still says where it is: paths are relative to its folder). */
  readonly specText?: string;
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
}

/** Reads and normalizes everything. Never throws for bad input: problems become diagnostics. */
export function loadSystem(opts: LoadOptions): LoadedSystem {
  const cwd = opts.cwd ?? process.cwd();
  const show = (p: string) => relative(cwd, p) || p;
  const ds: Diagnostic[] = [];
  let unusable = false;
  let raw: unknown = CONVENTIONAL_SPEC;
  let specSource: YamlSource | undefined;
  let baseDir = cwd;
  let specFile: string | undefined;
  if (opts.spec) {
    specFile = resolve(cwd, opts.spec);
    baseDir = dirname(specFile);
    const text =
      opts.specText ??
      readFile(
        specFile,
        show(specFile),
        { missing: 'spec file not found; pass an existing file to --spec', fix: 'pass the spec file to --spec' },
        ds,
      );
    if (text === undefined) return fail();
    specSource = parseYamlSource(show(specFile), text);
    ds.push(...specSource.diagnostics);
    if (specSource.diagnostics.some((d) => d.severity === 'error')) return fail();
    raw = specSource.data;
  }
  const parsed = DeploymentSpecSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    for (const outer of parsed.error.issues) {
      // A bad record key (a machine's name) carries the reason in its own issues.
      const issue = outer.code === 'invalid_key' && outer.issues[0] ? { ...outer.issues[0], path: outer.path } : outer;
      const path = issue.path.reduce<string>((p, k) => joinPath(p, typeof k === 'number' ? k : String(k)), '');
      const at = specSource?.at(path) ?? { file: '(built-in spec)', line: 0, column: 0, path };
      ds.push(
        diag(
          'invalid-spec',
          'error',
          `${issue.message.charAt(0).toLowerCase()}${issue.message.slice(1)}; see the spec reference in the README`,
          { ...at, path },
        ),
      );
    }
    return fail();
  }
  const spec = structuredClone(parsed.data);
  // Without a spec file, --machine names exactly the machines to load (conventional settings by name).
  if (!specFile && (opts.machines ?? []).length > 0) {
    const named = new Set((opts.machines ?? []).map((m) => m.split('=')[0]));
    for (const name of Object.keys(spec.machines)) if (!named.has(name)) delete spec.machines[name];
  }
  const given = new Set<string>();
  for (const pair of opts.machines ?? []) {
    const m = new RegExp(`^(${MACHINE_NAME.source.slice(1, -1)})=(.+)$`).exec(pair);
    if (!m) {
      ds.push(
        diag(
          'invalid-spec',
          'error',
          `--machine takes NAME=FILE, got '${pair}'; NAME is a lowercase word of at most 31 characters, for example --machine pc2=pc2_code/config/startup_config.yaml`,
        ),
      );
      return fail();
    }
    if (RESERVED_MACHINE_NAMES.has(m[1]!)) {
      ds.push(
        diag(
          'invalid-spec',
          'error',
          `--machine ${m[1]}: the name is one of the system's own outputs (${[...RESERVED_MACHINE_NAMES].join(', ')}); name the machine otherwise`,
        ),
      );
      return fail();
    }
    if (given.has(m[1]!)) {
      ds.push(diag('invalid-spec', 'error', `--machine ${m[1]} is given twice; give each machine once`));
      return fail();
    }
    given.add(m[1]!);
    const name = m[1]!;
    const file = resolve(cwd, m[2]!);
    const existing = spec.machines[name];
    spec.machines[name] = existing
      ? { ...existing, config: relative(baseDir, file) }
      : MachineSpecSchema.parse({
          config: relative(baseDir, file),
          addressEnv: `${name.toUpperCase().replace(/-/g, '_')}_IP`,
        });
  }
  const addressVariables: Record<string, string> = {};
  for (const [name, ms] of Object.entries(spec.machines))
    for (const a of ms.legacyAddresses) addressVariables[a] = ms.addressEnv ?? name;

  // One file read as two machines would plan every agent twice, on both.
  const byFile = new Map<string, string>();
  for (const name of Object.keys(spec.machines).sort()) {
    const file = resolve(baseDir, spec.machines[name]!.config);
    const other = byFile.get(file);
    if (other) {
      ds.push(
        diag(
          'invalid-spec',
          'error',
          `machines ${other} and ${name} both read ${show(file)}; give each machine its own startup config`,
          specSource?.at(joinPath(joinPath('machines', name), 'config')) ?? {
            file: show(file),
            line: 0,
            column: 0,
            path: '',
          },
        ),
      );
      return fail();
    }
    byFile.set(file, name);
  }
  const configs: MachineConfig[] = [];
  // The root of the code, where the agents read their startup configs from: the source tree, else the spec's folder.
  const codeRoot = opts.source ? resolve(cwd, opts.source) : spec.source ? resolve(baseDir, spec.source) : baseDir;
  for (const name of Object.keys(spec.machines).sort()) {
    const file = resolve(baseDir, spec.machines[name]!.config);
    const fix = `fix machines.${name}.config or pass --machine ${name}=FILE`;
    const text = readFile(
      file,
      show(file),
      { missing: `startup config of machine '${name}' not found; ${fix}`, fix },
      ds,
    );
    if (text === undefined) {
      unusable = true;
      continue;
    }
    const src = parseYamlSource(show(file), text);
    ds.push(...src.diagnostics);
    if (src.diagnostics.some((d) => d.code === 'parse-error')) {
      unusable = true;
      continue;
    }
    const n = normalize(src, {
      machine: name,
      variables: spec.variables,
      addressVariables,
      quoteContent: isInside(baseDir, file),
    });
    ds.push(...n.diagnostics);
    const codePath = relative(codeRoot, file).split(sep).join('/');
    // Mounted at that path in the containers: only a plain relative path inside the code root.
    configs.push({
      ...n.config,
      text,
      ...(!isAbsolute(codePath) && !relativePathProblem(codePath) ? { codePath } : {}),
    });
  }
  const lockFile = resolve(baseDir, LOCK_FILE);
  const { lock, diagnostics: lockDiagnostics } = readLock(lockFile, show(lockFile));
  ds.push(...lockDiagnostics);
  const sourceRoot = opts.source ? resolve(cwd, opts.source) : spec.source ? resolve(baseDir, spec.source) : undefined;
  if (sourceRoot && !isDirectory(sourceRoot)) {
    const where = opts.source ? '--source' : 'source';
    ds.push(
      diag(
        'missing-file',
        'error',
        `the source tree ${show(sourceRoot)} is not a folder; fix ${where} (the root of the system's code)`,
        specSource && !opts.source ? specSource.at('source') : undefined,
      ),
    );
    unusable = true;
  }
  return {
    spec,
    ...(specFile ? { specFile } : {}),
    lockFile,
    lock,
    configs,
    ...(sourceRoot ? { sourceRoot } : {}),
    diagnostics: ds,
    unusable,
  };

  function fail(): LoadedSystem {
    return {
      spec: DeploymentSpecSchema.parse(CONVENTIONAL_SPEC),
      lockFile: resolve(baseDir, LOCK_FILE),
      lock: EMPTY_LOCK,
      configs: [],
      diagnostics: ds,
      unusable: true,
    };
  }
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
