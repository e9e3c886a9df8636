/**
 * `agent-infra init`: a commented `agent-infra.yaml` for the repository in a folder, from what is there:
 * its startup configs, this host's GPUs, the VRAM figures in the configs, GPU groups, and (when the
 * agents' code is below it) the source tree and the agents' framework. Guesses are marked TODO.
 */
import { copyFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import { diag, formatDiagnostic, type Diagnostic } from '../diagnostics.ts';
import type { AgentConfig, MachineConfig } from '../config/model.ts';
import { CONVENTIONAL_SPEC, GpuSchema } from '../config/spec.ts';
import { GPU_GROUP_RE, vramGiBOfHint } from '../plan/phases/drafts.ts';
import { runPipelineAsync, type PipelineResult } from '../pipeline.ts';
import { writeFileAtomic } from '../write.ts';
import {
  detectGpus,
  discoverConfigs,
  discoverDockerfileHints,
  discoverRequirementFiles,
  type DetectedGpu,
  type Discovery,
  type DockerfileHints,
} from './discover.ts';

export const SPEC_FILE = 'agent-infra.yaml';

export interface InitOptions {
  /** The repository. @default process.cwd() */
  readonly dir?: string;
  /** Replace an existing spec (kept as `agent-infra.yaml.bak`). @default false */
  readonly force?: boolean;
  /** The agents' source tree, relative to the working folder. @default - the repository when the configs' scripts are below it */
  readonly source?: string;
  /** Environment that nvidia-smi is looked up and run in. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

/** What init found and wrote, for the command line to print (text or JSON). */
export interface InitResult {
  readonly code: 0 | 2;
  readonly diagnostics: readonly Diagnostic[];
  readonly written?: {
    readonly spec: string;
    readonly backup?: string;
    readonly machines: readonly {
      readonly name: string;
      readonly config: string;
      readonly agents: number;
      readonly gpus: readonly DetectedGpu[];
      readonly gpuSource: 'nvidia-smi' | 'default' | 'none';
    }[];
    readonly vram: readonly { readonly agent: string; readonly vramGiB: number; readonly from: string }[];
    readonly gpuGroups: readonly string[];
    /** Requirement files per image family it proposes. */
    readonly requirements: Readonly<Record<string, readonly string[]>>;
    /** What the repository's own Dockerfiles install (written as comments to confirm). */
    readonly dockerfileHints: readonly DockerfileHints[];
    readonly source?: string;
    readonly framework?: string;
    readonly todos: number;
    /** What `check` says of the written spec. */
    readonly check: { readonly errors: number; readonly warnings: number };
  };
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const YAML_11_WORDS = /^(y|n|yes|no|on|off|true|false|null|~)$/i;
/** A YAML scalar for a string: plain where that reads back as the same string, else double-quoted. */
// YAML 1.1 reads `.` and `.5` as numbers: a leading dot is quoted.
const scalar = (s: string) => (/^[A-Za-z_][A-Za-z0-9_./-]*$/.test(s) && !YAML_11_WORDS.test(s) ? s : JSON.stringify(s));
/** A comment's text: one line, no control characters. */
const comment = (s: string) => s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();

/** A DNS label from a folder's name (`voice-assistant-prod`). */
function systemName(dir: string): string {
  const n = basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return n && !['default', 'kube-system', 'kube-public', 'kube-node-lease'].includes(n) ? n : 'agent-system';
}

interface MachineDraft {
  readonly name: string;
  readonly config: string;
  readonly todo?: string;
  readonly addressEnv: string;
  readonly addressTodo: boolean;
  readonly legacyAddresses: readonly string[];
  readonly gpus: readonly DetectedGpu[];
  readonly gpuNote: string;
  readonly gpuSource: 'nvidia-smi' | 'default' | 'none';
}

/** The machines with their address variables and GPUs: this host's (nvidia-smi) on the machine it matches, the two-PC defaults elsewhere. */
function machineDrafts(found: Discovery, detected: { gpus: readonly DetectedGpu[]; why?: string }): MachineDraft[] {
  const known = CONVENTIONAL_SPEC.machines as Record<
    string,
    { addressEnv: string; legacyAddresses?: string[]; gpus?: { model: string; vramGiB: number; device?: number }[] }
  >;
  const defaults = (name: string) =>
    Object.hasOwn(known, name)
      ? (known[name]!.gpus ?? []).map((g) => ({ model: g.model, vramGiB: g.vramGiB, device: g.device ?? 0 }))
      : [];
  // The host init runs on is the machine whose default GPUs it has; else the only machine; else the first.
  let host: string | undefined;
  if (detected.gpus.length > 0) {
    host =
      found.configs.find((c) => defaults(c.machine).some((g) => detected.gpus.some((d) => d.model === g.model)))
        ?.machine ?? found.configs[0]?.machine;
  }
  return found.configs.map((c) => {
    const conv = Object.hasOwn(known, c.machine) ? known[c.machine] : undefined;
    const base = {
      name: c.machine,
      config: c.file,
      ...(c.todo ? { todo: c.todo } : {}),
      addressEnv: conv?.addressEnv ?? `${c.machine.toUpperCase().replace(/-/g, '_')}_IP`,
      addressTodo: !conv,
      legacyAddresses: conv?.legacyAddresses ?? [],
    };
    if (c.machine === host) {
      const sure =
        found.configs.length === 1 || defaults(c.machine).some((g) => detected.gpus.some((d) => d.model === g.model));
      return {
        ...base,
        gpus: detected.gpus,
        gpuSource: 'nvidia-smi' as const,
        gpuNote: `this host's GPUs (nvidia-smi)${sure ? '' : `; TODO: this host was taken to be ${c.machine}: move them to the machine it is`}`,
      };
    }
    const d = defaults(c.machine);
    const why =
      detected.gpus.length > 0 ? 'nvidia-smi here shows another machine' : (detected.why ?? 'nvidia-smi found nothing');
    if (d.length)
      return {
        ...base,
        gpus: d,
        gpuSource: 'default' as const,
        gpuNote: `the two-PC system's default, not detected (${why}); TODO: confirm with nvidia-smi on ${c.machine}`,
      };
    return {
      ...base,
      gpus: [],
      gpuSource: 'none' as const,
      gpuNote: `TODO: no GPU known (${why}); list them as nvidia-smi --query-gpu=name,memory.total,index --format=csv on ${c.machine} does`,
    };
  });
}

/** The detected GPUs the spec can hold (a product name that is a node label, a size above 0); the others are left out, with the reason. */
function usableGpus(d: { gpus: readonly DetectedGpu[]; why?: string }): { gpus: readonly DetectedGpu[]; why?: string } {
  const ok = d.gpus.filter((g) => GpuSchema.safeParse(g).success);
  const left = d.gpus.filter((g) => !ok.includes(g));
  if (left.length === 0) return d;
  const why = `nvidia-smi reports GPUs a spec cannot name (${left.map((g) => comment(g.model).slice(0, 60)).join(', ')})`;
  return { gpus: ok, why: d.why ? `${d.why}; ${why}` : why };
}

/** An agent's VRAM figure from its config, in GiB as the plan converts it. */
function vramOf(a: AgentConfig): { vramGiB: number; from: string } | undefined {
  if (a.vramMiBHint === undefined || !a.vramAt) return undefined;
  return {
    vramGiB: Math.max(0.1, vramGiBOfHint(a.vramMiBHint)),
    from: `${a.vramAt.file}:${a.vramAt.line} ${a.vramAt.key}: ${a.vramAt.key.endsWith('_gb') ? a.vramMiBHint / 1024 : a.vramMiBHint}`,
  };
}

interface Draft {
  readonly name: string;
  readonly machines: readonly MachineDraft[];
  readonly portOffset: boolean;
  readonly source?: string;
  readonly framework?: { readonly value: 'baseagent' | 'http'; readonly note: string };
  readonly gpuGroups: readonly string[];
  readonly vram: readonly { readonly key: string; readonly vramGiB: number; readonly from: string }[];
  /** VRAM of a GPU agent whose config gives no figure, when the schema's default would not fit the cards. */
  readonly vramDefault?: {
    readonly vramGiB: number;
    readonly note: string;
    /** When the configs' figures leave too little to share: the GPU agents without a figure, each a TODO. */
    readonly unmeasured?: readonly string[];
  };
  readonly skipped: readonly string[];
  /** Requirement files per image family, each with why it is there; none found: no `images:` written. */
  readonly requirements?: readonly FamilyRequirements[];
  /** What the repository's own Dockerfiles install: hints, written as comments. */
  readonly dockerfileHints?: readonly DockerfileHints[];
}

interface FamilyRequirements {
  readonly family: 'cpu' | 'gpu';
  readonly files: readonly { readonly file: string; readonly why: string }[];
}

/** The spec's text: every value written as YAML that reads back as itself, every guess marked TODO. */
function render(d: Draft): string {
  const out: string[] = [];
  out.push(`# agent-infra deployment spec, written by 'agent-infra init' from what this repository holds.`);
  out.push(
    `# Next: npx agent-infra check (the configs' own problems), then npx agent-infra synth (writes dist/: Kubernetes, compose, Dockerfiles, reports).`,
  );
  out.push(`# The spec reference is in agent-infra's README. Lines marked TODO are guesses to confirm.`);
  out.push(`name: ${d.name}`);
  out.push(`namespace: ${d.name}`);
  if (d.portOffset) out.push('variables:', '  PORT_OFFSET: 0  # the configs write ports as ${PORT_OFFSET}+NNNN');
  if (d.source !== undefined)
    out.push(`source: ${scalar(d.source)}  # the agents' code: read by check and synth (ports, health, imports)`);
  out.push('machines:');
  for (const m of d.machines) {
    out.push(`  ${m.name}:${m.todo ? `  # TODO: ${comment(m.todo)}` : ''}`);
    out.push(`    config: ${scalar(m.config)}`);
    out.push(
      `    addressEnv: ${m.addressEnv}${m.addressTodo ? "  # TODO: the variable the code reads this machine's address from" : ''}`,
    );
    if (m.legacyAddresses.length)
      out.push(
        `    legacyAddresses: [${m.legacyAddresses.join(', ')}]  # its old LAN address: reported where a file still has it`,
      );
    if (m.gpus.length === 0) out.push(`    gpus: []  # ${comment(m.gpuNote)}`);
    else {
      out.push(`    gpus:  # ${comment(m.gpuNote)}`);
      for (const g of m.gpus)
        out.push(`      - {model: ${scalar(g.model)}, vramGiB: ${g.vramGiB}, device: ${g.device}}`);
    }
  }
  for (const s of d.skipped)
    out.push(`  # TODO: also found ${comment(s)}: a machine of its own? (machines.<name>.config)`);
  out.push('defaults:');
  if (d.framework) out.push(`  framework: ${d.framework.value}  # ${comment(d.framework.note)}`);
  else
    out.push(
      `  framework: http  # TODO: baseagent if the agents subclass BaseAgent (ZMQ health socket, HTTP /health at health + 1); init --source DIR reads it from their code`,
    );
  if (d.vramDefault) out.push(`  vramGiB: ${d.vramDefault.vramGiB}  # TODO: ${comment(d.vramDefault.note)}`);
  if (d.gpuGroups.length) {
    out.push('groups:  # groups named *_gpu run on a GPU, in the gpu image family');
    for (const g of d.gpuGroups) out.push(`  ${scalar(g)}: {family: gpu}`);
  }
  if (d.requirements?.length) {
    out.push('images:  # what each family installs: the requirement files init found for its agents');
    for (const f of d.requirements) {
      out.push(`  ${f.family}:`);
      if (f.family === 'gpu') out.push('    gpu: true');
      out.push('    builderBase: python:3.11-slim-bookworm', '    runtimeBase: python:3.11-slim-bookworm');
      out.push('    requirements:');
      for (const r of f.files) out.push(`      - ${scalar(r.file)}  # ${comment(r.why)}`);
    }
  }
  if (d.dockerfileHints?.length) {
    out.push(
      "# TODO: the repository's own Dockerfiles install these; give a family what it needs (runtimePackages, buildPackages, pip: {extraIndexUrls: [...]}):",
    );
    for (const h of d.dockerfileHints)
      out.push(
        `#   ${comment(h.file)}: ${[
          ...(h.aptPackages.length ? [`apt ${h.aptPackages.join(' ')}`] : []),
          ...(h.indexUrls.length ? [`pip index ${h.indexUrls.join(' ')}`] : []),
        ]
          .map(comment)
          .join('; ')}`,
      );
  }
  if (d.vram.length || d.vramDefault?.unmeasured?.length) {
    out.push("agents:  # VRAM from the configs' own figures");
    for (const v of d.vram) out.push(`  ${scalar(v.key)}: {vramGiB: ${v.vramGiB}}  # ${comment(v.from)}`);
    const unmeasured = d.vramDefault?.unmeasured ?? [];
    if (unmeasured.length)
      out.push(
        `  # TODO: no figure for the VRAM of these GPU agents, and too little left to share out: measure each (nvidia-smi while it runs) and uncomment its line`,
      );
    for (const n of unmeasured) out.push(`  # ${scalar(n)}: {vramGiB: TODO}`);
  }
  return `${out.join('\n')}\n`;
}

const fail = (ds: Diagnostic[]): InitResult => ({ code: 2, diagnostics: ds });

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Writes `agent-infra.yaml` for the repository in `opts.dir`; refuses to replace one unless `force`. */
export async function init(opts: InitOptions = {}): Promise<InitResult> {
  const cwd = opts.cwd ?? process.cwd();
  const dir = resolve(cwd, opts.dir ?? '.');
  const shown = (p: string) => relative(cwd, p) || '.';
  const st = statSync(dir, { throwIfNoEntry: false });
  if (!st?.isDirectory())
    return fail([diag('missing-file', 'error', `${shown(dir)} is not a folder; pass the repository's folder to init`)]);
  const specFile = join(dir, SPEC_FILE);
  if (existsSync(specFile) && !opts.force) {
    return fail([
      diag(
        'spec-exists',
        'error',
        `${shown(specFile)} exists and is left as it is; edit it, or run init --force to replace it (the old one is kept as ${SPEC_FILE}.bak)`,
        { file: shown(specFile), line: 1, column: 1, path: '' },
      ),
    ]);
  }
  const found = discoverConfigs(dir);
  if (found.configs.length === 0) {
    return fail([
      diag(
        'no-startup-config',
        'error',
        `no startup config below ${shown(dir)} (looked for main_pc_code/config/startup_config.yaml, pc2_code/config/startup_config.yaml and any startup_config*.yaml); run init in the system's repository, or write agent-infra.yaml by hand (README)`,
      ),
    ]);
  }
  if (opts.source !== undefined && !statSync(resolve(cwd, opts.source), { throwIfNoEntry: false })?.isDirectory()) {
    return fail([
      diag('missing-file', 'error', `--source ${opts.source} is not a folder; pass the root of the agents' code`),
    ]);
  }
  const detected = usableGpus(detectGpus(opts.env));
  const machines = machineDrafts(found, detected);
  const name = systemName(dir);
  const bare: Draft = { name, machines, portOffset: false, gpuGroups: [], vram: [], skipped: found.skipped };
  const first = await runPipelineAsync({ spec: specFile, specText: render(bare), cwd: dir });
  const configs = first.loaded.configs;
  const agents = configs.flatMap((c) => c.agents);
  const portOffset = found.configs.some((c) => readText(join(dir, c.file)).includes('${PORT_OFFSET'));

  // The source tree: the one given, else the repository when the configs' scripts are below it.
  let source: string | undefined;
  if (opts.source !== undefined) {
    source = relative(dir, resolve(cwd, opts.source)).split(sep).join('/') || '.';
  } else if (agents.some((a) => a.scriptPath && existsSync(join(dir, a.scriptPath)))) {
    source = '.';
  }
  const gpuGroups = [
    ...new Set(agents.flatMap((a) => [a.group, ...a.dockerGroups]).filter((g) => GPU_GROUP_RE.test(g))),
  ].sort(byString);
  const vram = vramDrafts(configs);
  const vramDefault = unknownVram(first, configs);
  let draft: Draft = {
    ...bare,
    portOffset,
    gpuGroups,
    vram,
    ...(vramDefault ? { vramDefault } : {}),
    ...(source !== undefined ? { source } : {}),
  };
  let r: PipelineResult = first;
  if (source !== undefined) {
    r = await runPipelineAsync({ spec: specFile, specText: render(draft), cwd: dir });
    const framework = frameworkOf(r);
    if (framework) draft = { ...draft, framework };
  }
  const codeRoot = source !== undefined ? resolve(dir, source) : dir;
  const requirements = familyRequirements(r, agents, gpuGroups, discoverRequirementFiles(codeRoot));
  if (requirements.length) draft = { ...draft, requirements };
  const dockerfileHints = discoverDockerfileHints(codeRoot, (f) => readText(join(codeRoot, f)));
  if (dockerfileHints.length) draft = { ...draft, dockerfileHints };
  const text = render(draft);
  r = await runPipelineAsync({ spec: specFile, specText: text, cwd: dir });
  // What init writes is a spec the loader takes; the configs' own problems are for check to report.
  const specProblems = r.diagnostics.filter(
    (d) =>
      d.code === 'invalid-spec' ||
      (d.file !== undefined && resolve(dir, d.file) === specFile && d.severity === 'error'),
  );
  if (specProblems.length)
    throw new Error(`init wrote a spec that does not load: ${specProblems.map(formatDiagnostic).join('; ')}`);
  let backup: string | undefined;
  try {
    if (existsSync(specFile)) {
      backup = `${specFile}.bak`;
      for (let n = 1; existsSync(backup); n++) backup = `${specFile}.bak.${n}`;
      copyFileSync(specFile, backup);
    }
    writeFileAtomic(specFile, text);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (typeof err.code !== 'string') throw e;
    return fail([
      diag(
        'unwritable-output',
        'error',
        `cannot write ${shown(specFile)} (${err.code}${err.path ? ` of ${shown(err.path)}` : ''}); nothing was changed there: make the folder writable or run init where you can write`,
      ),
    ]);
  }
  const count = (sev: string) => r.diagnostics.filter((d) => d.severity === sev).length;
  return {
    code: 0,
    diagnostics: [],
    written: {
      spec: shown(specFile),
      ...(backup ? { backup: shown(backup) } : {}),
      machines: machines.map((m) => ({
        name: m.name,
        config: m.config,
        agents: configs.find((c) => c.machine === m.name)?.agents.length ?? 0,
        gpus: m.gpus,
        gpuSource: m.gpuSource,
      })),
      vram: vram.map((v) => ({ agent: v.key, vramGiB: v.vramGiB, from: v.from })),
      gpuGroups,
      requirements: Object.fromEntries((draft.requirements ?? []).map((f) => [f.family, f.files.map((x) => x.file)])),
      dockerfileHints: draft.dockerfileHints ?? [],
      ...(source !== undefined ? { source } : {}),
      ...(draft.framework ? { framework: draft.framework.value } : {}),
      todos: text.split('\n').filter((l) => l.includes('TODO')).length,
      check: { errors: count('error'), warnings: count('warning') },
    },
  };
}

/** Per-agent VRAM overrides: by name, or `<machine>/<name>` where an agent of that name is on two machines. */
function vramDrafts(configs: readonly MachineConfig[]): Draft['vram'] {
  const rows = configs
    .flatMap((c) => c.agents.map((a) => ({ machine: c.machine, name: a.name, v: vramOf(a) })))
    .filter((x) => x.v !== undefined);
  const machinesOf = (n: string) =>
    new Set(configs.filter((c) => c.agents.some((a) => a.name === n)).map((c) => c.machine)).size;
  const out = rows.map((x) => ({
    key: machinesOf(x.name) > 1 ? `${x.machine}/${x.name}` : x.name,
    vramGiB: x.v!.vramGiB,
    from: x.v!.from,
  }));
  return [...new Map(out.map((o) => [o.key, o])).values()].sort((a, b) => byString(a.key, b.key));
}

/** The least VRAM a GPU agent can run in (a CUDA context alone takes a few hundred MiB), GiB. */
const LEAST_GPU_AGENT_GIB = 0.5;

/**
 * The VRAM to plan for each GPU agent whose config gives no figure: what the configs' own figures leave
 * of each machine's cards, shared among those agents; none when the schema's default fits every machine.
 * Where that share is below what a GPU agent can run in, the figures cannot all be needs (a coordinator's
 * soft limit is a budget for the models it manages, not proof that the others need nothing): that is
 * said plainly, each such agent is a TODO, and the share only keeps the plan within the card meanwhile.
 */
function unknownVram(r: PipelineResult, configs: readonly MachineConfig[]): Draft['vramDefault'] {
  const fallback = r.loaded.spec.defaults.vramGiB;
  let share = Infinity;
  let tightest = '';
  let unmeasured: string[] = [];
  for (const m of r.plan.machines) {
    const config = configs.find((c) => c.machine === m.name);
    const withFigure = config?.agents.filter((a) => a.vramAt) ?? [];
    const figures = new Set(withFigure.map((a) => a.name));
    const gpuAgents = r.plan.agents.filter((a) => a.machine === m.name && a.gpu);
    const known = gpuAgents.filter((a) => figures.has(a.name)).reduce((n, a) => n + a.gpu!.vramGiB, 0);
    const without = gpuAgents.filter((a) => !figures.has(a.name));
    const total = m.gpus.reduce((n, g) => n + g.vramGiB, 0);
    if (without.length === 0 || known + without.length * fallback <= total) continue;
    const exact = (total - known) / without.length;
    const s = Math.max(0.1, Math.floor(exact * 10) / 10);
    if (s >= share) continue;
    share = s;
    const named = withFigure
      .filter((a) => gpuAgents.some((g) => g.name === a.name))
      .map((a) => `${a.name}'s ${a.vramAt!.key}`);
    if (exact < LEAST_GPU_AGENT_GIB) {
      unmeasured = without.map((a) => a.name).sort(byString);
      tightest = `the figures cannot fit: ${m.name}'s ${total} GiB less the ${Math.round(known * 10) / 10} GiB its configs name (${named.join(', ')}) leaves ${Math.round(Math.max(0, total - known) * 10) / 10} GiB for ${without.length} GPU agents that name none, ${Math.round(Math.max(0, exact) * 100) / 100} GiB each, less than a GPU agent runs in; a figure like a coordinator's soft limit may be a budget for the models it manages rather than its own need. ${s} GiB is no estimate: it only keeps the plan within the card until each agent below is measured`;
    } else {
      unmeasured = [];
      tightest =
        known > 0
          ? `${m.name}'s ${total} GiB less the ${Math.round(known * 10) / 10} GiB its configs name, shared by its ${without.length} GPU agents that name none; measure them (nvidia-smi while they run) and set agents.<name>.vramGiB`
          : `${m.name}'s ${total} GiB shared by its ${without.length} GPU agents (no config names a figure); measure them (nvidia-smi while they run) and set agents.<name>.vramGiB`;
    }
  }
  if (!Number.isFinite(share)) return undefined;
  return { vramGiB: share, note: tightest, ...(unmeasured.length ? { unmeasured } : {}) };
}

/** The framework most of the agents' code uses, with how many scripts say so; none when no script was read. */
function frameworkOf(r: PipelineResult): Draft['framework'] {
  // One fact per agent; counted per script (two machines may start the same one).
  const scripts = new Map([...(r.source?.facts.values() ?? [])].map((f) => [f.script, f]));
  const facts = [...scripts.values()];
  const read = facts.filter((f) => f.compiles);
  if (read.length === 0) return undefined;
  const base = read.filter((f) => f.framework !== 'none').length;
  const broken = facts.filter((f) =>
    f.problems.some((p) => p.code === 'script-syntax-error' && p.file === f.script),
  ).length;
  const counted = `${base} of the ${read.length} scripts read subclass BaseAgent${broken ? ` (${broken} more do not compile)` : ''}`;
  return base * 2 >= read.length
    ? { value: 'baseagent', note: `${counted}: ZMQ health socket, HTTP /health at health + 1` }
    : { value: 'http', note: `${counted}: an HTTP /health on the health port` };
}

/** The folders from a file's own up to the root (`a/b/c.py` -> `a/b`, `a`, ``). */
function foldersUp(file: string): string[] {
  const parts = file.split('/').slice(0, -1);
  return parts.map((_, i) => parts.slice(0, parts.length - i).join('/')).concat('');
}

const folderOf = (file: string) => (file.includes('/') ? file.slice(0, file.lastIndexOf('/')) : '');

/**
 * The requirement files of each family init proposes: for each agent, the nearest one to its script (in
 * its folder or the closest above: `requirements.txt`, else `pyproject.toml`, else a folder's only
 * requirement file) and those of the packages its code imports (a folder below the root holding one);
 * each family the union of its agents', with who needs each file.
 */
function familyRequirements(
  r: PipelineResult,
  agents: readonly AgentConfig[],
  gpuGroups: readonly string[],
  found: readonly string[],
): FamilyRequirements[] {
  if (found.length === 0) return [];
  const byFolder = new Map<string, string[]>();
  for (const f of found) byFolder.set(folderOf(f), [...(byFolder.get(folderOf(f)) ?? []), f]);
  const choose = (folder: string): string | undefined => {
    const here = byFolder.get(folder) ?? [];
    const named = (n: string) => here.find((f) => f === (folder ? `${folder}/${n}` : n));
    return named('requirements.txt') ?? named('pyproject.toml') ?? (here.length === 1 ? here[0] : undefined);
  };
  const need = new Map<string, Map<string, Set<string>>>(); // family -> file -> agents
  const add = (family: string, file: string, agent: string) => {
    const files = need.get(family) ?? new Map<string, Set<string>>();
    files.set(file, (files.get(file) ?? new Set()).add(agent));
    need.set(family, files);
  };
  const why = new Map<string, string>();
  for (const a of agents) {
    if (!a.scriptPath) continue;
    const family = [a.group, ...a.dockerGroups].some((g) => gpuGroups.includes(g)) ? 'gpu' : 'cpu';
    const nearest = foldersUp(a.scriptPath)
      .map(choose)
      .find((f) => f !== undefined);
    if (nearest) {
      add(family, nearest, a.name);
      if (!why.has(nearest)) why.set(nearest, 'nearest to the script of');
    }
    // The packages its code imports: a folder below the root with a requirement file of its own.
    const closure = r.source?.facts.get(`${a.machine}/${a.name}`)?.closure ?? [];
    for (const file of closure)
      for (const folder of foldersUp(file).filter((f) => f !== '')) {
        const own = choose(folder);
        if (own && own !== nearest) {
          add(family, own, a.name);
          if (!why.has(own)) why.set(own, `what ${folder}/ needs, imported by`);
        }
      }
  }
  return (['cpu', 'gpu'] as const)
    .filter((f) => need.has(f))
    .map((family) => ({
      family,
      files: [...need.get(family)!]
        .sort(([a], [b]) => byString(a, b))
        .map(([file, who]) => {
          const names = [...who].sort(byString);
          return {
            file,
            why: `${why.get(file)} ${names.slice(0, 3).join(', ')}${names.length > 3 ? ` and ${names.length - 3} more` : ''}`,
          };
        }),
    }));
}
