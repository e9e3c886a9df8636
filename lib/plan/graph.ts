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

/** Strongly connected components (Tarjan, iterative), each sorted, in reverse topological order. */
function components(nodes: readonly GraphNode[]): string[][] {
  const deps = new Map(nodes.map((n) => [n.id, [...n.deps].sort(byString)]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  let counter = 0;
  for (const root of [...deps.keys()].sort(byString)) {
    if (index.has(root)) continue;
    const work: { id: string; i: number }[] = [{ id: root, i: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      const ds = deps.get(top.id) ?? [];
      if (top.i < ds.length) {
        const next = ds[top.i++]!;
        if (!deps.has(next)) continue;
        if (!index.has(next)) {
          index.set(next, counter);
          low.set(next, counter++);
          stack.push(next);
          onStack.add(next);
          work.push({ id: next, i: 0 });
        } else if (onStack.has(next)) {
          low.set(top.id, Math.min(low.get(top.id)!, index.get(next)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.id, Math.min(low.get(parent.id)!, low.get(top.id)!));
      if (low.get(top.id) === index.get(top.id)) {
        const comp: string[] = [];
        for (;;) {
          const x = stack.pop()!;
          onStack.delete(x);
          comp.push(x);
          if (x === top.id) break;
        }
        out.push(comp.sort(byString));
      }
    }
  }
  return out;
}

/** A shortest cycle through `start` inside one component (breadth-first, deterministic). */
function cycleThrough(start: string, members: ReadonlySet<string>, deps: ReadonlyMap<string, readonly string[]>): string[] {
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
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const deps = new Map(nodes.map((n) => [n.id, n.deps.filter((d) => byId.has(d))]));
  const comps = components(nodes);
  const compOf = new Map<string, number>();
  comps.forEach((c, i) => c.forEach((id) => compOf.set(id, i)));
  const cycles: string[][] = [];
  for (const c of comps) {
    const members = new Set(c);
    const selfLoop = c.length === 1 && (deps.get(c[0]!) ?? []).includes(c[0]!);
    if (c.length > 1 || selfLoop) cycles.push(cycleThrough(c[0]!, members, deps));
  }
  // Components come out of Tarjan in reverse topological order: dependencies first.
  const compLevel: number[] = [];
  const compFinish: number[] = [];
  const compNext: (number | undefined)[] = [];
  comps.forEach((c, i) => {
    let level = 0;
    let finishDep = 0;
    let next: number | undefined;
    for (const id of c) {
      for (const d of deps.get(id) ?? []) {
        const j = compOf.get(d)!;
        if (j === i) continue;
        level = Math.max(level, compLevel[j]! + 1);
        if (compFinish[j]! > finishDep || (compFinish[j] === finishDep && next !== undefined && byString(comps[j]![0]!, comps[next]![0]!) < 0)) {
          finishDep = compFinish[j]!;
          next = j;
        }
      }
    }
    const own = Math.max(...c.map((id) => byId.get(id)!.seconds));
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
    if (end === undefined || compFinish[i]! > compFinish[end]! || (compFinish[i] === compFinish[end] && byString(c[0]!, comps[end]![0]!) < 0)) end = i;
  });
  const path: string[] = [];
  for (let i = end; i !== undefined; i = compNext[i]) {
    // Within a cycle the slowest member stands for the component.
    const c = comps[i]!;
    const slowest = [...c].sort((a, b) => byId.get(b)!.seconds - byId.get(a)!.seconds || byString(a, b))[0]!;
    path.unshift(slowest);
  }
  return {
    cycles,
    level,
    levels,
    criticalPath: { seconds: end === undefined ? 0 : compFinish[end]!, agents: path },
    sequentialSeconds: nodes.reduce((s, n) => s + n.seconds, 0),
  };
}
