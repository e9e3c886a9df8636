/**
 * The spec's `diagnostics.ignore`: problems a system's owners know and accept, each silencing one code's
 * warnings and notes for some agents (or for all), with a reason. Errors are never silenced: `check`
 * accepts only what `synth` can build. A silenced diagnostic is kept (with its reason) for the JSON and
 * counted for people; an entry that silences nothing is said, as eslint says an unused directive.
 */
import { diag, type Diagnostic, type SourceRef } from '../diagnostics.ts';
import type { AgentConfig, MachineConfig } from './model.ts';
import type { DeploymentSpec } from './spec.ts';

type IgnoreEntry = DeploymentSpec['diagnostics']['ignore'][number];

/** Whether a config path lies inside an agent's entry (`pc2_services[0]` holds `pc2_services[0].port`). */
const inside = (path: string, root: string) =>
  path === root || path.startsWith(`${root}.`) || path.startsWith(`${root}[`);

/** The agents a diagnostic concerns: those it names, else the agent whose config entry it points into. */
function concerned(d: Diagnostic, agents: readonly AgentConfig[]): string[] {
  if (d.agents?.length) return [...d.agents];
  if (d.stops?.length) return [...d.stops];
  if (d.file === undefined || !d.path) return [];
  const owner = agents.find((a) => a.at.file === d.file && a.at.path !== '' && inside(d.path!, a.at.path));
  return owner ? [`${owner.machine}/${owner.name}`] : [];
}

/** The agents (`machine/name`) an entry selects, or undefined for every agent and the system. */
function selected(e: IgnoreEntry, agents: readonly AgentConfig[]): Set<string> | undefined {
  if (!e.agents && !e.groups) return undefined;
  const keys = agents
    .filter(
      (a) =>
        e.agents?.includes(a.name) || e.groups?.includes(a.group) || a.dockerGroups.some((g) => e.groups?.includes(g)),
    )
    .map((a) => `${a.machine}/${a.name}`);
  return new Set(keys);
}

/**
 * The diagnostics with the silenced ones marked (`ignored`: the entry's reason), and a warning per entry
 * that silences nothing (a code that no longer occurs, a name that is no agent, an error).
 * `at(i)`: where entry i is written in the spec.
 */
export function applyIgnores(
  ds: readonly Diagnostic[],
  spec: DeploymentSpec,
  configs: readonly MachineConfig[],
  at: (i: number) => SourceRef | undefined,
): Diagnostic[] {
  const entries = spec.diagnostics.ignore;
  if (entries.length === 0) return [...ds];
  // Every agent once: each diagnostic is matched against them.
  const agents = configs.flatMap((c) => c.agents);
  const selections = entries.map((e) => selected(e, agents));
  const used = entries.map(() => false);
  const out = ds.map((d) => {
    if (d.severity === 'error') return d;
    const who = concerned(d, agents);
    const i = entries.findIndex(
      (e, k) => e.code === d.code && (!selections[k] || (who.length > 0 && who.every((x) => selections[k]!.has(x)))),
    );
    if (i < 0) return d;
    used[i] = true;
    return { ...d, ignored: entries[i]!.reason };
  });
  const names = new Set(agents.map((a) => a.name));
  const groups = new Set(agents.flatMap((a) => [a.group, ...a.dockerGroups]));
  entries.forEach((e, i) => {
    if (used[i]) return;
    const strangers = [
      ...(e.agents ?? []).filter((n) => !names.has(n)).map((n) => `'${n}' is no agent of the system`),
      ...(e.groups ?? []).filter((g) => !groups.has(g)).map((g) => `'${g}' is no group of the system`),
    ];
    const errors = ds.some((d) => d.severity === 'error' && d.code === e.code);
    const why = strangers.length
      ? strangers.join(', ')
      : errors
        ? `${e.code} is an error here, and errors are not silenced (fix it, or the agent is left out)`
        : `no ${e.code} warning or note${e.agents || e.groups ? ' of those agents' : ''} occurs`;
    out.push(
      diag(
        'unused-ignore',
        'warning',
        `diagnostics.ignore[${i}] silences nothing: ${why}; remove or fix the entry`,
        at(i),
      ),
    );
  });
  return out;
}
