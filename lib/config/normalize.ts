/** Turns one parsed startup config, whatever its layout, into a `MachineConfig`. Pure. */
import { diag, type Diagnostic, type SourceRef } from '../diagnostics.ts';
import { evaluateBoolean, evaluatePort, substitute, type Variables } from './expr.ts';
import type { AgentConfig, ExtraPort, Located, MachineConfig, MachineSettings, PortRange } from './model.ts';
import { joinPath, YamlTimestamp, type YamlSource } from '../io/yaml-source.ts';
import { findIPv4, isAnyOrLoopback } from '../ipv4.ts';
import { commentText, envNameProblem, relativePathProblem } from './grammar.ts';

export interface NormalizeOptions {
  readonly machine: string;
  readonly variables: Variables;
  /** Address literal -> the variable that should replace it (for `hardcoded-ip`). */
  readonly addressVariables: Readonly<Record<string, string>>;
  /**
   * Whether messages about a file that is no startup config may quote what it holds: not for a file
   * outside the spec's folder (a link to a password file must not print its lines). @default true
   */
  readonly quoteContent?: boolean;
}

/** Top-level keys that hold settings, never agents. */
const SETTINGS_KEYS = new Set([
  'global_settings',
  'environment',
  'resource_limits',
  'volumes',
  'health_checks',
  'network',
  'pc2_network',
  'error_bus_port',
  'hybrid_inference_policy',
  'docker_groups',
]);

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

const AGENT_FIELDS = new Set([
  'name',
  'script_path',
  'port',
  'health_check_port',
  'required',
  'dependencies',
  'host',
  'config',
  'params',
  'module',
  'class',
  'startup_priority',
  'description',
  'env',
  'environment',
  'agent_name',
]);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isDockerGroupShape = (v: unknown): v is Obj =>
  isObj(v) && 'agents' in v && Object.keys(v).every((k) => k === 'agents' || k === 'description');

/** Normalizes one machine's startup config. Never throws on bad input: problems become diagnostics. */
export function normalize(
  src: YamlSource,
  opts: NormalizeOptions,
): { config: MachineConfig; diagnostics: Diagnostic[] } {
  const ds: Diagnostic[] = [];
  const { machine, variables } = opts;
  const file = src.file;
  const at = (p: string) => src.at(p);
  const empty: MachineConfig = {
    machine,
    file,
    layout: 'agent-groups',
    agents: [],
    settings: { environment: [], healthChecks: {}, portRanges: [], secretRefs: [] },
  };
  if (src.data === null || src.data === undefined) {
    ds.push(
      diag(
        'unsupported-layout',
        'error',
        `the file is empty; expected 'agent_groups' or top-level lists of agents`,
        at(''),
      ),
    );
    return { config: empty, diagnostics: ds };
  }
  if (!isObj(src.data)) {
    ds.push(
      diag(
        'unsupported-layout',
        'error',
        `the top level is a ${Array.isArray(src.data) ? 'list' : typeof src.data}, not a mapping; expected 'agent_groups' or top-level lists of agents`,
        at(''),
      ),
    );
    return { config: empty, diagnostics: ds };
  }
  const root = src.data;
  reportHardcodedIps(root, opts.addressVariables, at, ds);
  const docker = dockerGroupReader(at, ds);
  if (root['docker_groups'] !== undefined) {
    const dg = root['docker_groups'];
    if (isObj(dg)) for (const [g, v] of Object.entries(dg)) docker.read(g, v, joinPath('docker_groups', g));
    else if (dg !== null)
      ds.push(
        diag(
          'invalid-value',
          'error',
          `'docker_groups' must be a mapping of group names, got ${describe(dg)}; write 'docker_groups: {name: {agents: [...]}}'`,
          at('docker_groups'),
        ),
      );
  }
  const found = findAgents(root, docker, at, ds, opts.quoteContent !== false, src.writtenAt);
  if (!found) return { config: { ...empty, layout: 'group-lists' }, diagnostics: ds };
  const dockerGroupsOf = new Map<string, string[]>();
  for (const { group, agents } of docker.members) {
    for (const a of agents) {
      const list = dockerGroupsOf.get(a.value) ?? [];
      if (!list.includes(group)) list.push(group);
      dockerGroupsOf.set(a.value, list);
    }
  }
  const settings = readSettings(root, at, variables, ds);
  const agents: AgentConfig[] = [];
  const byName = new Map<string, AgentConfig>();
  for (const node of found.nodes) {
    const agent = readAgent(node, machine, src, variables, dockerGroupsOf.get(node.name) ?? [], ds);
    if (!agent) continue;
    const prev = byName.get(agent.name);
    if (prev) {
      ds.push(
        diag(
          'duplicate-agent',
          'error',
          `agent '${agent.name}' is defined twice on ${machine}: in group '${prev.group}' (line ${prev.at.line}) and in group '${agent.group}'; keep one definition`,
          agent.at,
        ),
      );
      continue;
    }
    byName.set(agent.name, agent);
    agents.push(agent);
  }
  for (const { group, agents: members } of docker.members) {
    for (const a of members) {
      if (!byName.has(a.value))
        ds.push(
          diag(
            'unknown-dependency',
            'warning',
            `docker group '${group}' lists '${a.value}', which is defined nowhere on ${machine}; remove it from the group`,
            a.at,
          ),
        );
    }
  }
  return { config: { machine, file, layout: found.layout, agents, settings }, diagnostics: ds };
}

/** `hardcoded-ip` for every IPv4 literal of the file but the any and loopback addresses, with the variable to use. */
function reportHardcodedIps(
  root: Obj,
  addressVariables: Readonly<Record<string, string>>,
  at: (p: string) => SourceRef,
  ds: Diagnostic[],
): void {
  scanIps(root, '', (ip, prefix, p) => {
    if (isAnyOrLoopback(ip)) return;
    if (prefix) {
      ds.push(
        diag(
          'hardcoded-ip',
          'warning',
          `hard-coded subnet ${ip}${prefix}; leave address ranges to the container engine or cluster (the generated networks set none)`,
          at(p),
        ),
      );
      return;
    }
    const variable = addressVariables[ip];
    const fix = variable
      ? `use \${${variable}} instead`
      : `use an address variable such as \${MAIN_PC_IP} or \${PC2_IP} instead`;
    ds.push(diag('hardcoded-ip', 'warning', `hard-coded address ${ip}; ${fix}`, at(p)));
  });
}

/** Docker groups (`{description, agents: [...]}`), read wherever they sit: top-level, or spilled under agent_groups. */
function dockerGroupReader(at: (p: string) => SourceRef, ds: Diagnostic[]) {
  const members: { group: string; agents: Located<string>[] }[] = [];
  const read = (name: string, value: unknown, p: string) => {
    if (value === null) {
      ds.push(diag('empty-group', 'info', `docker group '${name}' is empty`, at(p)));
      return;
    }
    if (!isObj(value)) {
      ds.push(
        diag(
          'invalid-value',
          'error',
          `docker group '${name}' must be a mapping with 'agents', got ${describe(value)}; write '{description: ..., agents: [...]}'`,
          at(p),
        ),
      );
      return;
    }
    const list = value['agents'];
    if (list === null || list === undefined) {
      ds.push(diag('empty-group', 'info', `docker group '${name}' lists no agents`, at(p)));
      return;
    }
    if (!Array.isArray(list)) {
      ds.push(
        diag(
          'invalid-value',
          'error',
          `'agents' must be a list of agent names, got ${describe(list)}; write 'agents: [AgentName, ...]'`,
          at(joinPath(p, 'agents')),
        ),
      );
      return;
    }
    const agents: Located<string>[] = [];
    list.forEach((a, i) => {
      if (typeof a === 'string') agents.push({ value: a, at: at(joinPath(joinPath(p, 'agents'), i)) });
      else
        ds.push(
          diag(
            'invalid-value',
            'error',
            `an agent name must be a string, got ${describe(a)}; list agents by name`,
            at(joinPath(joinPath(p, 'agents'), i)),
          ),
        );
    });
    members.push({ group: name, agents });
  };
  return { read, members };
}

type DockerGroups = ReturnType<typeof dockerGroupReader>;

/**
 * Where the file's agents are: under `agent_groups` (and in top-level lists beside it), or in
 * top-level lists only. Undefined, with an `unsupported-layout` error, when there are none.
 */
function findAgents(
  root: Obj,
  docker: DockerGroups,
  at: (p: string) => SourceRef,
  ds: Diagnostic[],
  quoteContent: boolean,
  writtenAt: (p: string) => string | undefined,
): { nodes: AgentNode[]; layout: MachineConfig['layout'] } | undefined {
  const nodes: AgentNode[] = [];
  const topKeys = Object.keys(root);
  const pushListAgents = (group: string) => {
    const list = root[group];
    if (!Array.isArray(list)) return;
    list.forEach((item, i) => {
      const p = joinPath(group, i);
      const name = isObj(item) ? item['name'] : undefined;
      if (typeof name !== 'string' || name === '') {
        ds.push(
          diag(
            'invalid-value',
            'error',
            `an agent needs a 'name', got ${describe(name, writtenAt(joinPath(p, 'name')))}; add 'name: AgentName'`,
            at(p),
          ),
        );
        return;
      }
      nodes.push({ name, group, value: item, path: p, container: list, key: i });
    });
  };
  if ('agent_groups' in root) {
    readAgentGroups(root['agent_groups'], docker, nodes, at, ds);
    for (const k of topKeys) {
      if (k === 'agent_groups' || SETTINGS_KEYS.has(k)) continue;
      if (isAgentList(root[k])) pushListAgents(k);
      else
        ds.push(
          diag(
            'unknown-key',
            'warning',
            `unknown top-level key '${k}' is ignored; remove it or move agents under 'agent_groups'`,
            at(k),
          ),
        );
    }
    return { nodes, layout: 'agent-groups' };
  }
  const groupKeys = topKeys.filter((k) => !SETTINGS_KEYS.has(k) && isAgentList(root[k]));
  if (groupKeys.length === 0) {
    const seen = !topKeys.length
      ? 'none'
      : !quoteContent
        ? `${topKeys.length} (not shown: the file is outside the spec's folder)`
        : topKeys.map((k) => `'${k}'`).join(', ');
    ds.push(
      diag(
        'unsupported-layout',
        'error',
        `no agents found: expected 'agent_groups' or top-level lists of agents with 'name', got top-level keys ${seen}; use one of the layouts in the README`,
        at(''),
      ),
    );
    return undefined;
  }
  for (const k of topKeys) {
    if (SETTINGS_KEYS.has(k)) continue;
    if (groupKeys.includes(k)) pushListAgents(k);
    else
      ds.push(
        diag(
          'unknown-key',
          'warning',
          `unknown top-level key '${k}' is ignored; remove it or make it a list of agents`,
          at(k),
        ),
      );
  }
  return { nodes, layout: 'group-lists' };
}

/** The groups under `agent_groups`, into `nodes`; docker groups misplaced there are read as docker groups, and reported. */
function readAgentGroups(
  groups: unknown,
  docker: DockerGroups,
  nodes: AgentNode[],
  at: (p: string) => SourceRef,
  ds: Diagnostic[],
): void {
  if (!isObj(groups)) {
    ds.push(
      diag(
        'invalid-value',
        'error',
        `'agent_groups' must be a mapping of groups, got ${describe(groups)}; write 'agent_groups: {group: {AgentName: {...}}}'`,
        at('agent_groups'),
      ),
    );
    return;
  }
  for (const [group, members] of Object.entries(groups)) {
    const gp = joinPath('agent_groups', group);
    if (members === null) {
      ds.push(diag('empty-group', 'info', `group '${group}' has no agents (all of them may be commented out)`, at(gp)));
      continue;
    }
    if (isDockerGroupShape(members)) {
      ds.push(
        diag(
          'misplaced-group',
          'warning',
          `'${group}' is shaped like a docker group ({description, agents}) but sits under agent_groups; it is read as a docker group, not as agents: move it under a top-level 'docker_groups'`,
          at(gp),
        ),
      );
      docker.read(group, members, gp);
      continue;
    }
    if (
      group === 'docker_groups' &&
      isObj(members) &&
      Object.values(members).every((v) => v === null || isDockerGroupShape(v))
    ) {
      ds.push(
        diag(
          'misplaced-group',
          'warning',
          `'docker_groups' is indented under agent_groups; its groups are read as docker groups, not as agents: move it to the top level`,
          at(gp),
        ),
      );
      for (const [g, v] of Object.entries(members)) docker.read(g, v, joinPath(gp, g));
      continue;
    }
    if (!isObj(members)) {
      ds.push(
        diag(
          'invalid-value',
          'error',
          `group '${group}' must be a mapping of agent names to definitions, got ${describe(members)}; write '${group}: {AgentName: {script_path: ..., port: ...}}'`,
          at(gp),
        ),
      );
      continue;
    }
    readGroupMembers(group, members, gp, [], nodes, at, ds);
  }
}

/**
 * The agents of one group under agent_groups. A member that holds agents instead of being one is a
 * group indented too deep: it is read as a group of its own (so that no agent is lost behind it)
 * and reported, however deep it sits.
 */
function readGroupMembers(
  group: string,
  members: Obj,
  gp: string,
  parents: readonly string[],
  nodes: AgentNode[],
  at: (p: string) => SourceRef,
  ds: Diagnostic[],
): void {
  for (const [name, value] of Object.entries(members)) {
    const path = joinPath(gp, name);
    const nested = nestedGroupMembers(name, value);
    if (!nested) {
      nodes.push({ name, group, value, path, container: members, key: name });
      continue;
    }
    const chain = [...parents, group];
    const inside =
      chain.length > 1
        ? `group '${group}' (itself inside ${chain
            .slice(0, -1)
            .map((g) => `'${g}'`)
            .join(' inside ')})`
        : `group '${group}'`;
    const held = nested.agents.length ? `holds agents (${nested.agents.join(', ')})` : 'holds no agents';
    const read = nested.agents.length ? 'its agents are read as the group' : 'it is read as an empty group';
    ds.push(
      diag(
        'misplaced-group',
        'warning',
        `'${name}' sits inside ${inside} but ${held}; ${read} '${name}': dedent it to sit beside '${chain[0]}' directly under agent_groups`,
        at(path),
      ),
    );
    if (nested.members) readGroupMembers(name, nested.members, path, chain, nodes, at, ds);
  }
}

interface AgentNode {
  readonly name: string;
  readonly group: string;
  readonly value: unknown;
  readonly path: string;
  /** The mapping or list that holds the agent, and its key there. */
  readonly container: object;
  readonly key: string | number;
}

/** A mapping with the fields that make an agent definition. */
const isAgentShape = (v: unknown): v is Obj => isObj(v) && ('script_path' in v || 'port' in v);

/** What an agent may be called: it names DNS labels, environment values, report rows and graph nodes. */
const AGENT_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/;

/** Group names are snake_case (`utility_services`), agent names PascalCase (`CodeGenerator`). */
const GROUP_NAME = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$/;

/**
 * Whether a member of a group is itself a group: a mapping with no agent field whose values include
 * agent definitions (or such groups, deeper), or an empty member with a group's name. Returns the
 * names of the agents it holds directly.
 */
function nestedGroupMembers(name: string, v: unknown): { members?: Obj; agents: string[] } | undefined {
  if (v === null || (isObj(v) && Object.keys(v).length === 0))
    return GROUP_NAME.test(name) ? { agents: [] } : undefined;
  if (!isObj(v) || Object.keys(v).some((k) => AGENT_FIELDS.has(k))) return undefined;
  const holdsAgents = (x: Obj): boolean =>
    Object.values(x).some(
      (y) => isAgentShape(y) || (isObj(y) && !Object.keys(y).some((f) => AGENT_FIELDS.has(f)) && holdsAgents(y)),
    );
  if (!holdsAgents(v)) return undefined;
  return {
    members: v,
    agents: Object.entries(v)
      .filter(([, y]) => isAgentShape(y))
      .map(([k]) => k),
  };
}

function isAgentList(v: unknown): boolean {
  return Array.isArray(v) && v.length > 0 && v.some((x) => isObj(x) && 'name' in x);
}

function describe(v: unknown, written?: string): string {
  if (written !== undefined && typeof v !== 'string' && !(v instanceof YamlTimestamp))
    return `${written} (YAML reads it unquoted as ${typeof v === 'boolean' ? 'the boolean' : typeof v === 'number' ? 'the number' : 'the value'} ${String(v)}; quote it if it is text)`;
  if (v === null || v === undefined) return 'nothing';
  if (v instanceof YamlTimestamp)
    return `the date ${v.text} (YAML reads it unquoted as a timestamp; quote it if it is text)`;
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

/** Calls `found` for every IPv4 literal in the strings of `v`; paths are built only for what is found. */
function scanIps(v: unknown, p: string, found: (ip: string, prefix: string | undefined, path: string) => void) {
  const keys: (string | number)[] = [];
  const pathHere = () => keys.reduce<string>((acc, k) => joinPath(acc, k), p);
  const visit = (x: unknown) => {
    if (typeof x === 'string') {
      // An address has a digit, a dot and a digit; most strings are ruled out without the big pattern.
      if (!DIGIT_DOT_DIGIT.test(x)) return;
      for (const m of findIPv4(x)) found(m.address, m.prefix, pathHere());
    } else if (Array.isArray(x)) {
      for (let i = 0; i < x.length; i++) {
        keys.push(i);
        visit(x[i]);
        keys.pop();
      }
    } else if (isObj(x)) {
      for (const k in x) {
        if (!Object.prototype.hasOwnProperty.call(x, k)) continue;
        keys.push(k);
        visit(x[k]);
        keys.pop();
      }
    }
  };
  visit(v);
}
const DIGIT_DOT_DIGIT = /\d\.\d/;

/** Variable names that hold secrets by convention: `*_KEY`, `*TOKEN`, `*PASSWORD`, `*SECRET`. */
export const SECRET_NAME = /(_KEY|TOKEN|PASSWORD|SECRET)$/i;

/** A number's allowed range where it is read: `[min, max]`, whole or not. */
interface Range {
  readonly min: number;
  readonly max: number;
  readonly whole: boolean;
  readonly what: string;
}

/**
 * Number `v` at `path` when it is in `range`; else undefined, with an error (an absent value is no
 * error: the defaults apply).
 */
function bounded(
  v: unknown,
  path: string,
  range: Range,
  at: (p: string) => SourceRef,
  ds: Diagnostic[],
): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (
    typeof v === 'number' &&
    Number.isFinite(v) &&
    v >= range.min &&
    v <= range.max &&
    (!range.whole || Number.isInteger(v))
  )
    return v;
  ds.push(
    diag(
      'invalid-value',
      'error',
      `${range.what} must be ${range.whole ? 'a whole number' : 'a number'} from ${range.min} to ${range.max.toLocaleString('en-US')}, got ${describe(v)}; fix the value or remove it for the default`,
      at(path),
    ),
  );
  return undefined;
}

const SECONDS: Omit<Range, 'what'> = { min: 1, max: 86_400, whole: true };

function readSettings(root: Obj, at: (p: string) => SourceRef, vars: Variables, ds: Diagnostic[]): MachineSettings {
  const gs = isObj(root['global_settings']) ? root['global_settings'] : {};
  const base = isObj(root['global_settings']) ? 'global_settings' : '';
  const pick = (k: string): [unknown, string] => (k in gs ? [gs[k], joinPath(base, k)] : [root[k], k]);
  const [envRaw, envPath] = pick('environment');
  const environment: { name: string; value: string }[] = [];
  const secretEnvironment: string[] = [];
  if (isObj(envRaw)) {
    for (const [name, value] of Object.entries(envRaw)) {
      const bad = envNameProblem(name);
      if (bad) {
        ds.push(diag('invalid-value', 'error', `'${name}' ${bad}; rename it`, at(joinPath(envPath, name))));
        continue;
      }
      if (value !== null && typeof value === 'object') {
        ds.push(
          diag(
            'invalid-value',
            'error',
            `'${name}' must have a string, number or boolean value, got ${describe(value)}; write the value on one line`,
            at(joinPath(envPath, name)),
          ),
        );
        continue;
      }
      if (SECRET_NAME.test(name)) {
        // The value never reaches an output: the agents get the name as a reference.
        secretEnvironment.push(name);
        ds.push(
          diag(
            'literal-secret',
            'warning',
            `'${name}' looks like a secret and the config holds its value; it is written to no output, the agents get it as a reference (a Secret in Kubernetes, \${${name}} from .env in compose): remove the value from the config`,
            at(joinPath(envPath, name)),
          ),
        );
        continue;
      }
      const { text, unresolved } = substitute(String(value), vars);
      if (unresolved.length > 0) {
        ds.push(
          diag(
            'unresolved-variable',
            'info',
            `'${name}' refers to ${unresolved.map((u) => `\${${u}}`).join(', ')} of the launching shell; it is left out of the generated environment`,
            at(joinPath(envPath, name)),
          ),
        );
        continue;
      }
      environment.push({ name, value: text });
    }
  }
  const [rlRaw, rlPath] = pick('resource_limits');
  const rl = isObj(rlRaw) ? rlRaw : {};
  const [hcRaw, hcPath] = pick('health_checks');
  const hc = isObj(hcRaw) ? hcRaw : {};
  const check = (o: Obj, base: string, key: string, range: Range) =>
    bounded(o[key], joinPath(base, key), range, at, ds);
  const portRanges: PortRange[] = [];
  const net = root['pc2_network'];
  if (isObj(net)) {
    for (const [key, role] of [
      ['agent_ports', 'service'],
      ['health_check_ports', 'health'],
    ] as const) {
      const r = net[key];
      if (isObj(r) && typeof r['start'] === 'number' && typeof r['end'] === 'number') {
        portRanges.push({ role, start: r['start'], end: r['end'], at: at(joinPath('pc2_network', key)) });
      }
    }
  }
  let errorBusPort: Located<number> | undefined;
  if (root['error_bus_port'] !== undefined) {
    const e = evaluatePort(root['error_bus_port'], vars);
    if (e.ok) errorBusPort = { value: e.value, at: at('error_bus_port') };
    else
      ds.push(
        diag(
          'invalid-value',
          'error',
          `${e.reason}, got ${describe(root['error_bus_port'])}; ${e.fix}`,
          at('error_bus_port'),
        ),
      );
  }
  const secretRefs = new Set<string>();
  collectSecretRefs(root, (s) => secretRefs.add(s));
  const hip = root['hybrid_inference_policy'];
  const lb = isObj(hip) && isObj(hip['local_backend']) ? hip['local_backend'] : undefined;
  const gpuDevice = typeof lb?.['gpu_device'] === 'string' ? lb['gpu_device'] : undefined;
  return {
    environment: environment.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    ...(secretEnvironment.length ? { secretEnvironment: secretEnvironment.sort() } : {}),
    memoryMiB: check(rl, rlPath, 'memory_mb', { min: 1, max: 2 ** 26, whole: true, what: 'memory_mb' }),
    cpuPercent: check(rl, rlPath, 'cpu_percent', { min: 1, max: 409_600, whole: false, what: 'cpu_percent' }),
    healthChecks: {
      intervalSeconds: check(hc, hcPath, 'interval_seconds', { ...SECONDS, what: 'interval_seconds' }),
      timeoutSeconds: check(hc, hcPath, 'timeout_seconds', { ...SECONDS, what: 'timeout_seconds' }),
      retries: check(hc, hcPath, 'retries', { min: 1, max: 1000, whole: true, what: 'retries' }),
      startPeriodSeconds: check(hc, hcPath, 'start_period_seconds', {
        ...SECONDS,
        min: 0,
        what: 'start_period_seconds',
      }),
    },
    portRanges,
    errorBusPort,
    secretRefs: [...secretRefs].sort(),
    gpuDevice,
  };
}

function collectSecretRefs(v: unknown, found: (name: string) => void) {
  if (Array.isArray(v)) v.forEach((x) => collectSecretRefs(x, found));
  else if (isObj(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (
        typeof x === 'string' &&
        k.endsWith('_env') &&
        /(^|_)(api_key|token|secret|password)_env$/.test(k) &&
        /^[A-Z_][A-Z0-9_]*$/.test(x)
      )
        found(x);
      else collectSecretRefs(x, found);
    }
  }
}

/** What the readers of one agent's fields share: where it is, and where its problems go. */
interface AgentContext {
  readonly name: string;
  readonly path: string;
  readonly value: Obj;
  readonly here: SourceRef;
  readonly vars: Variables;
  readonly src: YamlSource;
  readonly ds: Diagnostic[];
}

/** Why an agent may not have `name`, or undefined. */
function agentNameProblem(name: string): string | undefined {
  if (!AGENT_NAME.test(name))
    return `agent name '${commentText(name).slice(0, 80)}' ${name.length > 63 ? 'is longer than 63 characters' : 'has characters an agent name may not have'}; agent names are words of letters, digits, _ . - (starting with a letter, at most 63), such as CodeGenerator`;
  // Its DNS name keys the endpoints ConfigMap, and cdk8s cannot render an object with a key 'constructor'.
  if (/^constructor$/i.test(name))
    return `agent name '${name}' is reserved (the Kubernetes output cannot hold a key 'constructor'); rename the agent`;
  return undefined;
}

function readAgent(
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
  const ctx: AgentContext = { name, path, value, here, vars, src, ds };
  const ports = readAgentPorts(ctx);
  const required = readRequired(ctx);
  const dependencies = readDependencies(ctx);
  const scriptPath = readScriptPath(ctx);
  for (const k of Object.keys(value)) {
    if (!AGENT_FIELDS.has(k))
      ds.push(diag('unknown-key', 'info', `unknown agent field '${k}' is ignored`, src.at(joinPath(path, k))));
  }
  const hints = readConfigMap(ctx);
  if (!ports || required === undefined || !dependencies || !scriptPath) return undefined;
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
    scriptPath,
    ...(hints.vramMiBHint !== undefined ? { vramMiBHint: hints.vramMiBHint, vramAt: hints.vramAt! } : {}),
  };
}

/** `port` and `health_check_port` (also under `params`; port + 1000 when absent), or undefined after an error. */
function readAgentPorts({
  name,
  path,
  value,
  here,
  vars,
  src,
  ds,
}: AgentContext): { port: Located<number>; health: Located<number> & { derived: boolean } } | undefined {
  if (value['port'] === undefined || value['port'] === null) {
    ds.push(diag('invalid-value', 'error', `agent '${name}' has no port; add 'port: NNNN'`, here));
    return undefined;
  }
  const portAt = src.locate(value, 'port', joinPath(path, 'port'));
  const port = evaluatePort(value['port'], vars);
  const portWritten = src.writtenAt(joinPath(path, 'port'));
  if (!port.ok)
    ds.push(
      diag(
        'invalid-value',
        'error',
        `${port.reason}, got ${describe(value['port'], portWritten)}; ${port.fix}`,
        portAt,
      ),
    );
  else if (portWritten !== undefined) ds.push(readAs('port', portWritten, port.value, portAt));
  const params = isObj(value['params']) ? value['params'] : {};
  const own = value['health_check_port'] !== undefined;
  const hcRaw = own ? value['health_check_port'] : params['health_check_port'];
  const hcPath = own ? joinPath(path, 'health_check_port') : joinPath(joinPath(path, 'params'), 'health_check_port');
  if (hcRaw !== undefined && hcRaw !== null) {
    const h = evaluatePort(hcRaw, vars);
    const hcWritten = src.writtenAt(hcPath);
    if (!h.ok) {
      ds.push(
        diag('invalid-value', 'error', `${h.reason}, got ${describe(hcRaw, hcWritten)}; ${h.fix}`, src.at(hcPath)),
      );
      return undefined;
    }
    if (hcWritten !== undefined) ds.push(readAs('health_check_port', hcWritten, h.value, src.at(hcPath)));
    return port.ok
      ? {
          port: { value: port.value, at: portAt },
          health: { value: h.value, at: src.locate(own ? value : params, 'health_check_port', hcPath), derived: false },
        }
      : undefined;
  }
  if (!port.ok) return undefined;
  if (port.value + 1000 > 65535) {
    ds.push(
      diag(
        'invalid-value',
        'error',
        `agent '${name}' declares no health_check_port and port + 1000 is past 65535; add 'health_check_port'`,
        here,
      ),
    );
    return undefined;
  }
  return { port: { value: port.value, at: portAt }, health: { value: port.value + 1000, at: portAt, derived: true } };
}

/** A port written in a form YAML 1.1 reads as another number (`1:30` is 90, `0x1C20` 7200), as the agents' own loader does. */
function readAs(key: string, written: string, value: number, at: SourceRef): Diagnostic {
  return diag(
    'invalid-value',
    'warning',
    `${key} is written ${written}, which YAML 1.1 reads as ${value} (as the agents' own loader does); write ${value} if that is meant, else the port it should be`,
    at,
  );
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

/** `script_path`, a relative path inside the source tree, or undefined after an error (an agent without one cannot start). */
function readScriptPath({ name, path, value, here, src, ds }: AgentContext): string | undefined {
  const scriptPath = value['script_path'];
  if (scriptPath === undefined) {
    // The images start an agent by its script; nothing would start this one.
    ds.push(
      diag(
        'invalid-value',
        'error',
        `agent '${name}' has no script_path, so its container has nothing to start${value['module'] !== undefined ? " ('module' alone is not enough)" : ''}: add 'script_path', or remove the agent`,
        here,
      ),
    );
    return undefined;
  }
  const problem =
    typeof scriptPath !== 'string' ? `must be a path, got ${describe(scriptPath)}` : relativePathProblem(scriptPath);
  if (!problem) return scriptPath as string;
  ds.push(
    diag(
      'invalid-value',
      'error',
      `'script_path' ${problem}; write the script's path from the root of the source tree`,
      src.at(joinPath(path, 'script_path')),
    ),
  );
  return undefined;
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
