/** One agent's definition from a startup config: name, script, ports, requirement, dependencies, config map. */
import { diag, type Diagnostic, type SourceRef } from '../diagnostics.ts';
import { evaluateBoolean, evaluatePort, substitute, type Variables } from './expr.ts';
import { type AgentConfig, type ConfigProblem, type ExtraPort, type Located } from './model.ts';
import { joinPath, type YamlSource } from '../io/yaml-source.ts';
import { commentText, relativePathProblem } from './grammar.ts';
import { AGENT_FIELDS, describe, isObj, type AgentContext, type AgentNode } from './values.ts';
import { collectSecretRefs } from './secrets.ts';
import { readAgentPorts } from './agent-ports.ts';

/** What an agent may be called: it names DNS labels, environment values, report rows and graph nodes. */
const AGENT_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/;

/** `config` keys that declare an extra listener. */
const EXTRA_PORT_KEYS = new Set([
  'zmq_port',
  'grpc_port',
  'rest_port',
  'metrics_port',
  'prometheus_port',
  'http_port',
  'ws_port',
  'pub_port',
]);

/** Why an agent may not have `name`, or undefined. */
function agentNameProblem(name: string): string | undefined {
  if (!AGENT_NAME.test(name))
    return `agent name '${commentText(name).slice(0, 80)}' ${name.length > 63 ? 'is longer than 63 characters' : 'has characters an agent name may not have'}; agent names are words of letters, digits, _ . - (starting with a letter, at most 63), such as CodeGenerator`;
  // Its DNS name keys the endpoints ConfigMap, and cdk8s cannot render an object with a key 'constructor'.
  if (/^constructor$/i.test(name))
    return `agent name '${name}' is reserved (the Kubernetes output cannot hold a key 'constructor'); rename the agent`;
  return undefined;
}

export function readAgent(
  node: AgentNode,
  machine: string,
  src: YamlSource,
  vars: Variables,
  dockerGroups: readonly string[],
  ds: Diagnostic[],
): AgentConfig | undefined {
  const { name, group, value, path } = node;
  const here = src.locate(node.container, node.key, path);
  const nameProblem = agentNameProblem(name);
  if (nameProblem) {
    ds.push(diag('invalid-value', 'error', nameProblem, here));
    return undefined;
  }
  if (!isObj(value)) {
    ds.push(
      diag(
        'invalid-value',
        'error',
        `agent '${name}' must be a mapping with 'script_path' and 'port', got ${describe(value)}; write '${name}: {script_path: ..., port: ...}'`,
        here,
      ),
    );
    return undefined;
  }
  // Names older layouts of the system used for a field, read as that field where it is absent.
  const renamed = Object.entries(RENAMED).filter(
    ([old, field]) => value[old] !== undefined && value[field] === undefined,
  );
  const fields = renamed.length
    ? { ...value, ...Object.fromEntries(renamed.map(([old, f]) => [f, value[old]])) }
    : value;
  for (const [old, field] of renamed)
    ds.push(
      diag(
        'renamed-field',
        'warning',
        `agent '${name}' has '${old}' and no '${field}': read as its ${field}, as older layouts of the system wrote it; rename it`,
        src.at(joinPath(path, old)),
      ),
    );
  const ctx: AgentContext = { name, path, value: fields, here, vars, src, ds };
  const ports = readAgentPorts(ctx);
  const required = readRequired(ctx);
  const dependencies = readDependencies(ctx);
  const scriptPath = readScriptPath(ctx, machine);
  for (const k of Object.keys(value)) {
    if (AGENT_FIELDS.has(k) || renamed.some(([old]) => old === k)) continue;
    // A near miss of a field the agent lacks is said where it bites: a health port the plan derives.
    const near = ['health_check_port', 'script_path', 'dependencies', 'port'].find(
      (f) => value[f] === undefined && nearMiss(k, f),
    );
    if (near === 'health_check_port' && ports?.health.derived)
      ds.push(
        diag(
          'renamed-field',
          'warning',
          `agent '${name}' has no health_check_port, so the plan uses port + 1000 = ${ports.health.value}; it has '${k}': rename it to health_check_port if that is its health port`,
          src.at(joinPath(path, k)),
        ),
      );
    else if (near !== undefined && near !== 'script_path')
      ds.push(
        diag(
          'unknown-key',
          'warning',
          `unknown agent field '${k}' is ignored; did you mean '${near}'?`,
          src.at(joinPath(path, k)),
        ),
      );
    else if (near === undefined)
      ds.push(diag('unknown-key', 'info', `unknown agent field '${k}' is ignored`, src.at(joinPath(path, k))));
  }
  const hints = readConfigMap(ctx);
  if (!ports || required === undefined || !dependencies) return undefined;
  const ownPorts = new Set([ports.port.value, ports.health.value]);
  const extras = hints.extraPorts
    .filter((e) => !ownPorts.has(e.port))
    .filter((e, i, all) => all.findIndex((x) => x.port === e.port) === i)
    .sort((a, b) => a.port - b.port);
  return {
    name,
    machine,
    group,
    at: here,
    port: ports.port,
    healthCheckPort: ports.health,
    extraPorts: extras,
    required,
    dependencies,
    dockerGroups: [...dockerGroups].sort(),
    cudaHint: hints.cudaHint,
    secretRefs: hints.secretRefs,
    ...('problem' in scriptPath
      ? { unstartable: scriptPath.problem }
      : { scriptPath: scriptPath.path, scriptAt: src.at(joinPath(path, 'script_path')) }),
    ...(hints.vramMiBHint !== undefined ? { vramMiBHint: hints.vramMiBHint, vramAt: hints.vramAt! } : {}),
  };
}

/** `required` (default true), or undefined after an error. */
function readRequired({ path, value, vars, src, ds }: AgentContext): boolean | undefined {
  if (value['required'] === undefined) return true;
  const r = evaluateBoolean(value['required'], vars);
  if (r.ok) return r.value;
  ds.push(
    diag(
      'invalid-value',
      'error',
      `'required' must be true or false, got ${describe(value['required'])}; an expression is not evaluated: write a boolean or '\${VAR:-false}'`,
      src.at(joinPath(path, 'required')),
    ),
  );
  return undefined;
}

/** `dependencies`, each name once, or undefined after an error. */
function readDependencies({ path, value, src, ds }: AgentContext): Located<string>[] | undefined {
  const dependencies: Located<string>[] = [];
  const depsRaw = value['dependencies'];
  if (depsRaw === undefined || depsRaw === null) return dependencies;
  if (!Array.isArray(depsRaw)) {
    ds.push(
      diag(
        'invalid-value',
        'error',
        `'dependencies' must be a list of agent names, got ${describe(depsRaw)}; write 'dependencies: [AgentName]'`,
        src.at(joinPath(path, 'dependencies')),
      ),
    );
    return undefined;
  }
  let ok = true;
  depsRaw.forEach((d, i) => {
    const dp = joinPath(joinPath(path, 'dependencies'), i);
    if (typeof d !== 'string' || d === '') {
      ds.push(
        diag(
          'invalid-value',
          'error',
          `a dependency must be an agent name, got ${describe(d, src.writtenAt(dp))}; list agents by name`,
          src.at(dp),
        ),
      );
      ok = false;
    } else if (!dependencies.some((x) => x.value === d))
      dependencies.push({ value: d, at: src.locate(depsRaw, i, dp) });
  });
  return ok ? dependencies : undefined;
}

/**
 * `script_path`, a relative path inside the source tree; or, without a usable one, the problem: the agent
 * cannot start (nothing to run), an error that stops only this agent (left out without `--strict`).
 */
function readScriptPath(
  { name, path, value, here, src, ds }: AgentContext,
  machine: string,
): { path: string } | { problem: ConfigProblem } {
  const scriptPath = value['script_path'];
  const stop = (code: 'missing-field' | 'invalid-value', message: string, at: SourceRef) => {
    ds.push({ ...diag(code, 'error', message, at), stops: [`${machine}/${name}`] });
    return { problem: { code, message, file: at.file, line: at.line } };
  };
  if (scriptPath === undefined) {
    // The images start an agent by its script; nothing would start this one.
    const near = nearKey(value, 'script_path');
    return stop(
      'missing-field',
      `agent '${name}' has no script_path, so its container has nothing to start${value['module'] !== undefined ? " ('module' alone is not enough)" : ''}: ${near ? `it has '${near}': rename it to script_path` : "add 'script_path', or remove the agent"}`,
      here,
    );
  }
  const problem =
    typeof scriptPath !== 'string' ? `must be a path, got ${describe(scriptPath)}` : relativePathProblem(scriptPath);
  if (!problem) return { path: scriptPath as string };
  return stop(
    'invalid-value',
    `'script_path' ${problem}; write the script's path from the root of the source tree`,
    src.at(joinPath(path, 'script_path')),
  );
}

/** An agent's own VRAM figure in its `config` map: `vram_soft_limit_mb`, `max_vram_mb`, `vram_limit_gb`... (not a machine's `mainpc_vram_budget_mb`). */
const VRAM_KEY = /^(max_)?vram(_[a-z]+)*_(mb|gb)$/;

/** Extra listeners and hints from the agent's own `config` map: ports, `cuda:N`, VRAM figures, secret references. */
function readConfigMap({ path, value, vars, src, ds }: AgentContext): {
  extraPorts: ExtraPort[];
  vramMiBHint?: number;
  vramAt?: SourceRef & { key: string };
  cudaHint: boolean;
  secretRefs: string[];
} {
  const extraPorts: ExtraPort[] = [];
  let vramMiBHint: number | undefined;
  let vramAt: (SourceRef & { key: string }) | undefined;
  let cudaHint = false;
  const secretRefs = new Set<string>();
  const cfg = value['config'];
  if (isObj(cfg)) {
    const cp = joinPath(path, 'config');
    for (const [k, v] of Object.entries(cfg)) {
      const kp = joinPath(cp, k);
      if (EXTRA_PORT_KEYS.has(k)) {
        const e = evaluatePort(v, vars);
        if (e.ok) extraPorts.push({ name: k, port: e.value, at: src.locate(cfg, k, kp) });
        else ds.push(diag('invalid-value', 'error', `${e.reason}, got ${describe(v)}; ${e.fix}`, src.at(kp)));
      } else if (typeof v === 'string') {
        const m = /^tcp:\/\/(?:\*|0\.0\.0\.0):(\d+)$/.exec(substitute(v, vars).text);
        if (m) extraPorts.push({ name: k, port: Number(m[1]), at: src.locate(cfg, k, kp) });
        if (/^cuda(:\d+)?$/.test(v)) cudaHint = true;
      } else if (VRAM_KEY.test(k) && typeof v === 'number' && Number.isFinite(v) && v > 0) {
        const mib = k.endsWith('_gb') ? v * 1024 : v;
        if (mib > (vramMiBHint ?? 0)) {
          vramMiBHint = mib;
          vramAt = { ...src.locate(cfg, k, kp), key: k };
        }
      }
    }
    collectSecretRefs(cfg, (s) => secretRefs.add(s));
  }
  return {
    extraPorts,
    cudaHint,
    secretRefs: [...secretRefs].sort(),
    ...(vramMiBHint !== undefined ? { vramMiBHint, vramAt: vramAt! } : {}),
  };
}

/** Field names older layouts of the system used, read as today's where today's is absent. */
const RENAMED: Readonly<Record<string, string>> = { script: 'script_path', health_port: 'health_check_port' };

/** Whether `key` is a near miss of `field`: the same letters but for case and separators, or at most two edits away. */
function nearMiss(key: string, field: string): boolean {
  const squash = (x: string) => x.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (squash(key) === squash(field)) return true;
  const [a, b] = [key.toLowerCase(), field];
  if (Math.abs(a.length - b.length) > 2) return false;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]! <= 2;
}

/** A key of the agent that is a near miss of `field`, when the agent lacks `field`. */
function nearKey(value: Readonly<Record<string, unknown>>, field: string): string | undefined {
  return value[field] === undefined ? Object.keys(value).find((k) => k !== field && nearMiss(k, field)) : undefined;
}
