/** The io of `agent-infra init`: the startup configs below a repository, and this host's GPUs. */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import { MACHINE_NAME, RESERVED_MACHINE_NAMES } from '../config/spec.ts';

/** Where the two-PC system keeps its machines' configs, and what each machine is called. */
export const CONVENTIONAL_CONFIGS: readonly { readonly machine: string; readonly file: string }[] = [
  { machine: 'mainpc', file: 'main_pc_code/config/startup_config.yaml' },
  { machine: 'pc2', file: 'pc2_code/config/startup_config.yaml' },
];

/** One machine's startup config found below the repository. */
export interface FoundConfig {
  readonly machine: string;
  /** Relative to the repository, with `/`. */
  readonly file: string;
  /** Why the machine has this name, when it is a guess to confirm. */
  readonly todo?: string;
}

export interface Discovery {
  readonly configs: readonly FoundConfig[];
  /** Other startup configs seen and left out (a second config beside a machine's own). */
  readonly skipped: readonly string[];
  readonly conventional: boolean;
}

const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'build', '__pycache__', 'venv', 'site-packages']);
const CONFIG_FILE = /^startup_config[\w.-]*\.ya?ml$/;
const MAX_DEPTH = 8;
const MAX_ENTRIES = 50_000;

/** Every file below `root` whose name `wanted` accepts (hidden folders, dependencies and outputs skipped; symbolic links not followed), sorted. */
function walk(root: string, wanted: (name: string) => boolean = (n) => CONFIG_FILE.test(n)): string[] {
  const found: string[] = [];
  let seen = 0;
  const visit = (dir: string, depth: number) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (++seen > MAX_ENTRIES) return;
      if (e.isDirectory() && depth < MAX_DEPTH && !e.name.startsWith('.') && !SKIPPED_DIRS.has(e.name))
        visit(join(dir, e.name), depth + 1);
      else if (e.isFile() && wanted(e.name)) found.push(relative(root, join(dir, e.name)).split(sep).join('/'));
    }
  };
  visit(root, 0);
  return found;
}

/** A machine name for a config at `file`: `main_pc_code/...` -> `mainpc`, `startup_config_pc3.yaml` -> `pc3`, else its folder's name. */
function machineNameOf(file: string): string {
  const parts = file.split('/');
  const code = parts.find((p) => /_code$/.test(p));
  const suffix = /^startup_config[_.-](\w[\w-]*)\.ya?ml$/.exec(basename(file))?.[1];
  const folder =
    parts.length > 1 ? (parts.at(-2) === 'config' && parts.length > 2 ? parts.at(-3)! : parts.at(-2)!) : 'main';
  const raw = code ? code.replace(/_code$/, '') : (suffix ?? folder);
  const name = raw
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .replace(/^[^a-z]+/, '');
  return name || 'machine';
}

/**
 * The startup configs below `root`: the two-PC system's conventional paths when there, else every
 * `startup_config*.yaml`, one per folder (the plain `startup_config.yaml` first), each named after its
 * place in the tree.
 */
export function discoverConfigs(root: string): Discovery {
  const exists = (f: string) => {
    try {
      return statSync(join(root, f)).isFile();
    } catch {
      return false;
    }
  };
  const conventional = CONVENTIONAL_CONFIGS.filter((c) => exists(c.file));
  if (conventional.length > 0) return { configs: conventional, skipped: [], conventional: true };
  const byFolder = new Map<string, string[]>();
  for (const f of walk(root)) byFolder.set(dirname(f), [...(byFolder.get(dirname(f)) ?? []), f]);
  const configs: FoundConfig[] = [];
  const skipped: string[] = [];
  const taken = new Set<string>();
  for (const files of byFolder.values()) {
    const [first, ...rest] = [...files].sort(
      (a, b) =>
        Number(!/\/?startup_config\.ya?ml$/.test(a)) - Number(!/\/?startup_config\.ya?ml$/.test(b)) || (a < b ? -1 : 1),
    );
    skipped.push(...rest);
    let name = machineNameOf(first!).slice(0, 28);
    let todo: string | undefined = files.length > 1 ? `also in its folder: ${rest.join(', ')}` : undefined;
    if (!MACHINE_NAME.test(name) || RESERVED_MACHINE_NAMES.has(name) || taken.has(name)) {
      const base = RESERVED_MACHINE_NAMES.has(name) ? `${name}-machine` : name;
      let n = 2;
      while (taken.has(`${base}${n}`)) n++;
      name = taken.has(base) || !MACHINE_NAME.test(base) ? `${base.replace(/[^a-z0-9-]/g, '') || 'machine'}${n}` : base;
      todo = `the name '${name}' is a guess; rename the machine`;
    }
    taken.add(name);
    configs.push({ machine: name, file: first!, ...(todo ? { todo } : {}) });
  }
  return {
    configs: configs.sort((a, b) => (a.machine < b.machine ? -1 : 1)),
    skipped: skipped.sort(),
    conventional: false,
  };
}

/** A GPU as `nvidia-smi --query-gpu=name,memory.total,index --format=csv` reports it. */
export interface DetectedGpu {
  readonly model: string;
  readonly vramGiB: number;
  readonly device: number;
}

/** This host's GPUs from nvidia-smi, or why there are none to report (no program, an error, no devices). */
export function detectGpus(env: NodeJS.ProcessEnv = process.env): { gpus: readonly DetectedGpu[]; why?: string } {
  const r = spawnSync('nvidia-smi', ['--query-gpu=name,memory.total,index', '--format=csv'], {
    encoding: 'utf8',
    env,
    timeout: 10_000,
  });
  if (r.error)
    return {
      gpus: [],
      why:
        (r.error as NodeJS.ErrnoException).code === 'ENOENT'
          ? 'nvidia-smi is not on PATH'
          : `nvidia-smi failed (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})`,
    };
  if (r.status !== 0)
    return {
      gpus: [],
      why: `nvidia-smi exited with ${r.status}: ${(r.stdout + r.stderr).trim().split('\n')[0] ?? ''}`,
    };
  return parseNvidiaSmi(r.stdout);
}

/** The rows of nvidia-smi's CSV (`name, memory.total [MiB], index` and its units); rows it cannot read are left out, with a reason. */
export function parseNvidiaSmi(csv: string): { gpus: readonly DetectedGpu[]; why?: string } {
  const lines = csv
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  const gpus: DetectedGpu[] = [];
  const bad: string[] = [];
  for (const line of lines) {
    if (/^name\s*,/.test(line)) continue;
    const m = /^(.+?),\s*(\d+(?:\.\d+)?)\s*(MiB|GiB)?\s*,\s*(\d+)$/.exec(line);
    if (!m || gpus.some((g) => g.device === Number(m[4])) || Number(m[4]) > 63) {
      bad.push(line);
      continue;
    }
    const mib = Number(m[2]) * (m[3] === 'GiB' ? 1024 : 1);
    gpus.push({ model: m[1]!.trim(), vramGiB: Math.round((mib / 1024) * 10) / 10, device: Number(m[4]) });
  }
  const sorted = gpus.sort((a, b) => a.device - b.device);
  if (bad.length)
    return { gpus: sorted, why: `nvidia-smi printed rows that are not GPUs: ${bad.slice(0, 2).join(' | ')}` };
  return sorted.length ? { gpus: sorted } : { gpus: [], why: 'nvidia-smi reports no GPU' };
}

/** A requirement file's name: `requirements.txt`, `requirements-gpu.txt`, `requirements.common.lock.txt`... */
const REQUIREMENT_FILE = /^requirements([-_.][\w.-]*)?\.txt$/;
/** Names of files for development, not for running: `requirements-dev.txt`, `requirements.test.txt`. */
const DEVELOPMENT = /(^|[-_.])(dev|devel|develop|test|tests|testing|lint|docs|ci|typing)([-_.]|$)/;

/**
 * The runtime requirement files below `root` (relative, `/`-separated, sorted): `requirements*.txt` but
 * those for development or tests, and `pyproject.toml` files.
 */
export function discoverRequirementFiles(root: string): string[] {
  return walk(
    root,
    (n) => n === 'pyproject.toml' || (REQUIREMENT_FILE.test(n) && !DEVELOPMENT.test(n.replace(/^requirements/, ''))),
  );
}

/** A Dockerfile's name: `Dockerfile`, `Dockerfile.gpu`, `torch.Dockerfile`. */
const DOCKERFILE = /^(Dockerfile([.-][\w.-]+)?|[\w.-]+\.Dockerfile)$/;

/** What a repository's own Dockerfile says about installing: Debian packages, pip's index URLs. */
export interface DockerfileHints {
  readonly file: string;
  readonly aptPackages: readonly string[];
  readonly indexUrls: readonly string[];
}

/**
 * The repository's own Dockerfiles (relative paths, sorted) and what they install: `apt-get install`
 * packages and pip's `--index-url`/`--extra-index-url`. Hints for a person to confirm, never values:
 * which of them a family needs is not something a Dockerfile says.
 */
export function discoverDockerfileHints(root: string, read: (file: string) => string): DockerfileHints[] {
  return walk(root, (n) => DOCKERFILE.test(n))
    .map((file) => {
      // Continuation lines joined: an instruction is one logical line.
      const text = read(file).replace(/\\\r?\n/g, ' ');
      const apt = new Set<string>();
      const urls = new Set<string>();
      for (const m of text.matchAll(/apt-get\s+(?:-\S+\s+)*install\s+([^&|;\n]+)/g))
        for (const w of m[1]!.split(/\s+/))
          if (/^[a-z0-9][a-z0-9+.-]+(=[\w.:~+-]+)?$/.test(w) && !w.startsWith('-')) apt.add(w);
      for (const m of text.matchAll(/--(?:extra-)?index-url[=\s]+(https?:\/\/[^\s"'\\]+)/g)) urls.add(m[1]!);
      return { file, aptPackages: [...apt].sort(), indexUrls: [...urls].sort() };
    })
    .filter((h) => h.aptPackages.length > 0 || h.indexUrls.length > 0);
}
