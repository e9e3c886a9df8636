/** Where a startup config keeps its agents: the layouts the real configs use (groups, docker groups, lists). */
import { diag, type Diagnostic, type SourceRef } from '../diagnostics.ts';
import { type Located, type MachineConfig } from './model.ts';
import { joinPath } from '../io/yaml-source.ts';
import { AGENT_FIELDS, describe, isObj, type AgentNode, type Obj } from './values.ts';

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

const isDockerGroupShape = (v: unknown): v is Obj =>
  isObj(v) && 'agents' in v && Object.keys(v).every((k) => k === 'agents' || k === 'description');

/** Docker groups (`{description, agents: [...]}`), read wherever they sit: top-level, or spilled under agent_groups. */
export function dockerGroupReader(at: (p: string) => SourceRef, ds: Diagnostic[]) {
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
export function findAgents(
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

/** A mapping with the fields that make an agent definition. */
const isAgentShape = (v: unknown): v is Obj => isObj(v) && ('script_path' in v || 'port' in v);

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
