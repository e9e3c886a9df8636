/** The dependency graph: cycles, start levels and the critical path of startup seconds. Pure. */
import { byString } from './names.ts';

export interface GraphNode {
  readonly id: string;
  /** Ids this node depends on. */
  readonly deps: readonly string[];
  readonly seconds: number;
}

export interface GraphAnalysis {
  /** Each cycle as a closed walk of ids, starting at its smallest id: [a, b, c] means a -> b -> c -> a. */
  readonly cycles: readonly (readonly string[])[];
  readonly level: ReadonlyMap<string, number>;
  readonly levels: readonly (readonly string[])[];
  readonly criticalPath: { readonly seconds: number; readonly agents: readonly string[] };
  readonly sequentialSeconds: number;
}

/**
 * Strongly connected components (Tarjan, iterative) over node indices, in reverse topological order
 * (dependencies first). `deps[i]` are the indices node `i` depends on, visited in id order, and roots
 * are taken in id order, so the result depends only on the graph, never on the input order.
 */
function components(order: readonly number[], deps: readonly (readonly number[])[]): number[][] {
  const n = deps.length;
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const stack: number[] = [];
  const out: number[][] = [];
  const workNode: number[] = [];
  const workEdge: number[] = [];
  let counter = 0;
  for (const root of order) {
    if (index[root] !== -1) continue;
    index[root] = low[root] = counter++;
    stack.push(root);
    onStack[root] = 1;
    workNode.push(root);
    workEdge.push(0);
    while (workNode.length > 0) {
      const top = workNode[workNode.length - 1]!;
      const ds = deps[top]!;
      const e = workEdge[workEdge.length - 1]!;
      if (e < ds.length) {
        workEdge[workEdge.length - 1] = e + 1;
        const next = ds[e]!;
        if (index[next] === -1) {
          index[next] = low[next] = counter++;
          stack.push(next);
          onStack[next] = 1;
          workNode.push(next);
          workEdge.push(0);
        } else if (onStack[next]) {
          low[top] = Math.min(low[top]!, index[next]!);
        }
        continue;
      }
      workNode.pop();
      workEdge.pop();
      if (workNode.length > 0) {
        const parent = workNode[workNode.length - 1]!;
        low[parent] = Math.min(low[parent]!, low[top]!);
      }
      if (low[top] === index[top]) {
        const comp: number[] = [];
        for (;;) {
          const x = stack.pop()!;
          onStack[x] = 0;
          comp.push(x);
          if (x === top) break;
        }
        out.push(comp);
      }
    }
  }
  return out;
}

/** A shortest cycle through `start` inside one component (breadth-first, deterministic). */
function cycleThrough(
  start: string,
  members: ReadonlySet<string>,
  deps: ReadonlyMap<string, readonly string[]>,
): string[] {
  const prev = new Map<string, string>();
  const queue = [start];
  const seen = new Set([start]);
  while (queue.length > 0) {
    const cur = queue.shift()!;
    for (const next of [...(deps.get(cur) ?? [])].sort(byString)) {
      if (!members.has(next)) continue;
      if (next === start) {
        const path = [cur];
        while (path[0] !== start) path.unshift(prev.get(path[0]!)!);
        return path;
      }
      if (!seen.has(next)) {
        seen.add(next);
        prev.set(next, cur);
        queue.push(next);
      }
    }
  }
  return [start];
}

/** Cycles, start levels (a node starts one level after its deepest dependency) and the critical path. */
export function analyzeGraph(nodes: readonly GraphNode[]): GraphAnalysis {
  const indexOf = new Map<string, number>();
  nodes.forEach((node, i) => indexOf.set(node.id, i));
  const ids = nodes.map((node) => node.id);
  // Dependencies as indices, unknown ids dropped, in id order.
  const order = ids.map((_, i) => i).sort((a, b) => byString(ids[a]!, ids[b]!));
  const rank = new Int32Array(nodes.length);
  order.forEach((i, r) => (rank[i] = r));
  const byRank = (a: number, b: number) => rank[a]! - rank[b]!;
  const deps = nodes.map((node) => {
    const out: number[] = [];
    for (const d of node.deps) {
      const j = indexOf.get(d);
      if (j !== undefined) out.push(j);
    }
    return out.length > 1 ? out.sort(byRank) : out;
  });
  // Each component as indices and as ids, both in id order.
  const compIndices = components(order, deps).map((c) => (c.length > 1 ? c.sort(byRank) : c));
  const comps = compIndices.map((c) => c.map((i) => ids[i]!));
  const compOf = new Int32Array(nodes.length);
  compIndices.forEach((c, i) => c.forEach((x) => (compOf[x] = i)));
  const cycles: string[][] = [];
  const depIds = (id: string) => deps[indexOf.get(id)!]!.map((j) => ids[j]!);
  comps.forEach((c, i) => {
    const first = compIndices[i]![0]!;
    const selfLoop = c.length === 1 && deps[first]!.includes(first);
    if (c.length > 1 || selfLoop) {
      const members = new Set(c);
      cycles.push(cycleThrough(c[0]!, members, new Map(c.map((id) => [id, depIds(id)]))));
    }
  });
  // Components come out of Tarjan in reverse topological order: dependencies first.
  const compLevel: number[] = [];
  const compFinish: number[] = [];
  const compNext: (number | undefined)[] = [];
  compIndices.forEach((c, i) => {
    let level = 0;
    let finishDep = 0;
    let next: number | undefined;
    let own = -Infinity;
    for (const x of c) {
      own = Math.max(own, nodes[x]!.seconds);
      for (const d of deps[x]!) {
        const j = compOf[d]!;
        if (j === i) continue;
        level = Math.max(level, compLevel[j]! + 1);
        if (
          compFinish[j]! > finishDep ||
          (compFinish[j] === finishDep && next !== undefined && byString(comps[j]![0]!, comps[next]![0]!) < 0)
        ) {
          finishDep = compFinish[j]!;
          next = j;
        }
      }
    }
    compLevel[i] = level;
    compFinish[i] = finishDep + own;
    compNext[i] = next;
  });
  const level = new Map<string, number>();
  const levels: string[][] = [];
  comps.forEach((c, i) =>
    c.forEach((id) => {
      level.set(id, compLevel[i]!);
      (levels[compLevel[i]!] ??= []).push(id);
    }),
  );
  for (const l of levels) l.sort(byString);
  let end: number | undefined;
  comps.forEach((c, i) => {
    if (
      end === undefined ||
      compFinish[i]! > compFinish[end]! ||
      (compFinish[i] === compFinish[end] && byString(c[0]!, comps[end]![0]!) < 0)
    )
      end = i;
  });
  const path: string[] = [];
  for (let i = end; i !== undefined; i = compNext[i]) {
    // Within a cycle the slowest member stands for the component (the first in id order among equals).
    let slowest = compIndices[i]![0]!;
    for (const x of compIndices[i]!) if (nodes[x]!.seconds > nodes[slowest]!.seconds) slowest = x;
    path.push(ids[slowest]!);
  }
  path.reverse();
  return {
    cycles,
    level,
    levels,
    criticalPath: { seconds: end === undefined ? 0 : compFinish[end]!, agents: path },
    sequentialSeconds: nodes.reduce((s, n) => s + n.seconds, 0),
  };
}
