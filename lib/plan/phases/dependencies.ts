/** Dependencies: each agent's dependencies resolved to agents, the start order and the cycles. */
import { diag, type Diagnostic, type SourceRef } from '../../diagnostics.ts';
import { analyzeGraph, type GraphAnalysis } from '../graph.ts';
import { didYouMean } from '../names.ts';
import type { Draft } from './drafts.ts';
import { byAgentName } from './names.ts';

export interface Edge {
  readonly dep: Draft;
  readonly at: SourceRef;
}

/**
 * Resolves every dependency: the agent of that name on the same machine first, else on another
 * machine (a cross-machine edge). Returns the edges per agent id and the graph's levels and cycles.
 */
export function resolveDependencies(
  live: readonly Draft[],
  byId: ReadonlyMap<string, Draft>,
  disabled: ReadonlySet<string>,
): { edges: Map<string, Edge[]>; graph: GraphAnalysis; diagnostics: Diagnostic[] } {
  const ds: Diagnostic[] = [];
  const liveByName = byAgentName(live);
  const resolve = (d: Draft, name: string) => {
    const candidates = liveByName.get(name);
    if (!candidates) return undefined;
    return candidates.find((x) => x.cfg.machine === d.cfg.machine) ?? candidates[0];
  };
  const edges = new Map<string, Edge[]>();
  for (const d of live) {
    const list: Edge[] = [];
    for (const dep of d.cfg.dependencies) {
      const target = resolve(d, dep.value);
      if (!target) {
        if (disabled.has(dep.value)) {
          ds.push(
            diag(
              'unknown-dependency',
              'error',
              `agent '${dep.value}' is disabled in the spec but '${d.cfg.name}' depends on it; disable '${d.cfg.name}' too or remove the dependency`,
              dep.at,
            ),
          );
        } else {
          const hint = didYouMean(
            dep.value,
            live.map((x) => x.cfg.name),
          );
          ds.push(
            diag(
              'unknown-dependency',
              'error',
              `unknown agent '${dep.value}'; ${hint ? `did you mean '${hint}'?` : 'define it or remove the dependency'}`,
              dep.at,
            ),
          );
        }
        continue;
      }
      if (!list.some((x) => x.dep.id === target.id)) list.push({ dep: target, at: dep.at });
    }
    edges.set(d.id, list);
  }
  const graph = analyzeGraph(
    live.map((d) => ({ id: d.id, deps: edges.get(d.id)!.map((e) => e.dep.id), seconds: d.startupSeconds })),
  );
  for (const cycle of graph.cycles) {
    const names = cycle.map((id) => byId.get(id)!.cfg.name);
    const first = edges.get(cycle[0]!)!.find((e) => e.dep.id === (cycle[1] ?? cycle[0]));
    ds.push(
      diag(
        'dependency-cycle',
        'error',
        `dependency cycle: ${[...names, names[0]].join(' -> ')}; remove one of these dependencies`,
        first?.at ?? byId.get(cycle[0]!)!.cfg.at,
      ),
    );
  }
  return { edges, graph, diagnostics: ds };
}
