/**
 * Left out: the agents that are not deployed because they cannot start (their code says so), and the
 * agents blocked by them (a dependency, followed transitively, is one of those: its entrypoint would
 * wait for it and exit). Everything else is planned as if they were not there.
 */
import type { AgentConfig, MachineConfig } from '../../config/model.ts';
import type { DeploymentSpec } from '../../config/spec.ts';
import { byString } from '../names.ts';
import type { LeftOutAgent, StartProblem } from '../types.ts';
import { overrideFor } from './drafts.ts';

export type { LeftOutAgent, StartProblem } from '../types.ts';

const keyOf = (a: AgentConfig) => `${a.machine}/${a.name}`;

/**
 * The agents left out, sorted by machine and name. A dependency resolves as the plan resolves it (the
 * agent of that name on the same machine first, else on another), among the agents the spec enables.
 */
export function leaveOut(
  spec: DeploymentSpec,
  configs: readonly MachineConfig[],
  cannotStart: ReadonlyMap<string, StartProblem>,
): LeftOutAgent[] {
  const agents = configs.flatMap((c) => c.agents).filter((a) => !overrideFor(spec, a).disabled);
  const byName = new Map<string, AgentConfig[]>();
  for (const a of agents) byName.set(a.name, [...(byName.get(a.name) ?? []), a]);
  const resolve = (from: AgentConfig, name: string) => {
    const candidates = byName.get(name) ?? [];
    return candidates.find((x) => x.machine === from.machine) ?? candidates[0];
  };
  const out = new Map<string, LeftOutAgent>();
  for (const a of agents) {
    const problem = cannotStart.get(keyOf(a));
    if (problem)
      out.set(keyOf(a), {
        machine: a.machine,
        name: a.name,
        key: keyOf(a),
        reason: 'cannot-start',
        problem,
        chain: [],
        ...(a.scriptPath !== undefined ? { script: a.scriptPath } : {}),
      });
  }
  // Blocked, to a fixed point: each round adds the agents that need one left out in an earlier round,
  // so every chain is a shortest one.
  for (;;) {
    const round: LeftOutAgent[] = [];
    // Each round sees only what earlier rounds left out: the order within a round changes nothing.
    for (const a of agents) {
      if (out.has(keyOf(a))) continue;
      const dep = [...a.dependencies]
        .map((d) => resolve(a, d.value))
        .find((t): t is AgentConfig => t !== undefined && out.has(keyOf(t)));
      if (!dep) continue;
      const by = out.get(keyOf(dep))!;
      round.push({
        machine: a.machine,
        name: a.name,
        key: keyOf(a),
        reason: 'blocked',
        problem: by.problem,
        chain: [dep.name, ...by.chain],
        ...(a.scriptPath !== undefined ? { script: a.scriptPath } : {}),
      });
    }
    if (round.length === 0) break;
    for (const l of round) out.set(l.key, l);
  }
  return [...out.values()].sort((x, y) => byString(x.key, y.key));
}
