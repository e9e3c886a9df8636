/** Turns one parsed startup config, whatever its layout, into a `MachineConfig`. Pure. */
import { diag, type Diagnostic, type SourceRef } from '../diagnostics.ts';
import { type Variables } from './expr.ts';
import { type AgentConfig, type MachineConfig } from './model.ts';
import { joinPath, type YamlSource } from '../io/yaml-source.ts';
import { findIPv4, isAnyOrLoopback } from '../ipv4.ts';
import { describe, isObj, type Obj } from './values.ts';
import { dockerGroupReader, findAgents } from './layouts.ts';
import { readSettings } from './settings.ts';
import { readAgent } from './agent.ts';

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
