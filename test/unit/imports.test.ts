/**
 * The import graph of the sources has no cycle. Imports are read by TypeScript's own pre-processor
 * (static, type-only and dynamic `import()` alike), relative ones resolved to files.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { ROOT } from '../helpers.ts';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.(ts|mjs)$/.test(f) && !f.endsWith('.d.ts') ? [p] : [];
  });
}

/** file -> the project files it imports. */
function importGraph(files: readonly string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = info.importedFiles
      .map((i) => i.fileName)
      .filter((s) => s.startsWith('.'))
      .map((s) => resolve(dirname(file), s))
      .map((p) =>
        existsSync(p) && statSync(p).isFile() ? p : ([`${p}.ts`, join(p, 'index.ts')].find((c) => existsSync(c)) ?? p),
      );
    graph.set(file, [...new Set(targets)].sort());
  }
  return graph;
}

/** Strongly connected components of more than one file (or a file importing itself): the cycles (Tarjan). */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return out;
}

/**
 * The layers of the code, top to bottom (first match of a file's path wins). A file may import its own
 * layer and the layers below it. `lib/emit/k8s.ts` builds the Kubernetes output from the constructs, so
 * it sits with them, and it is the only file of lib/emit/ that does.
 */
const LAYERS: readonly { name: string; match: RegExp }[] = [
  { name: 'entry', match: /^(main\.ts|bin\/|lib\/index\.ts$)/ },
  { name: 'cli', match: /^lib\/cli\// },
  { name: 'orchestration', match: /^(constructs\/|lib\/(synth|pipeline)\.ts$|lib\/init\/|lib\/emit\/k8s\.ts$)/ },
  { name: 'emit', match: /^lib\/emit\// },
  { name: 'stages', match: /^lib\/(source|images)\/|^lib\/scan-ips\.ts$/ },
  { name: 'contract', match: /^lib\/contract\// },
  { name: 'plan', match: /^lib\/plan\// },
  { name: 'config', match: /^lib\/config\// },
  { name: 'lock', match: /^lib\/lock\.ts$/ },
  { name: 'io', match: /^lib\/io\// },
  { name: 'leaves', match: /^lib\/(diagnostics|write|ipv4|package-root|text-diff)\.ts$|^imports\// },
];

const layerOf = (file: string) => {
  const rel = relative(ROOT, file);
  const i = LAYERS.findIndex((l) => l.match.test(rel));
  if (i < 0) throw new Error(`${rel} is in no layer: add it to LAYERS`);
  return i;
};

/** Every import of a file of a higher layer, as `from (layer) -> to (layer)`. */
function upwardImports(graph: ReadonlyMap<string, readonly string[]>): string[] {
  return [...graph].flatMap(([from, targets]) =>
    targets
      .filter((to) => layerOf(to) < layerOf(from))
      .map(
        (to) =>
          `${relative(ROOT, from)} (${LAYERS[layerOf(from)]!.name}) -> ${relative(ROOT, to)} (${LAYERS[layerOf(to)]!.name})`,
      ),
  );
}

const FILES = [
  ...sources(join(ROOT, 'lib')),
  ...sources(join(ROOT, 'constructs')),
  join(ROOT, 'main.ts'),
  join(ROOT, 'bin', 'agent-infra.mjs'),
];

describe('the import graph', () => {
  it('finds a cycle where there is one (the checker itself)', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
      ['e', ['e']],
    ]);
    expect(cycles(g)).toEqual([['a', 'b', 'c'], ['e']]);
  });

  it('has no import cycle in lib/, constructs/, main.ts and bin/', () => {
    const graph = importGraph(FILES);
    const found = cycles(graph).map((c) => c.map((f) => relative(ROOT, f)).join(' <-> '));
    const edges = [...graph.values()].reduce((n, t) => n + t.length, 0);
    console.log(
      `import graph: ${graph.size} files, ${edges} imports, ${found.length} cycles${found.length ? `: ${found.join('; ')}` : ''}`,
    );
    expect(found).toEqual([]);
    // Every relative import resolves to a file of the project.
    const dangling = [...graph].flatMap(([f, ts]) =>
      ts.filter((t) => !existsSync(t)).map((t) => `${relative(ROOT, f)} -> ${relative(ROOT, t)}`),
    );
    expect(dangling).toEqual([]);
  });

  it('imports only downward: each layer the layers below it, never one above', () => {
    const graph = importGraph(FILES);
    const violations = upwardImports(graph);
    console.log(`layers: ${LAYERS.map((l) => l.name).join(' > ')}; ${violations.length} upward imports`);
    expect(violations).toEqual([]);
  });

  it('finds an upward import where there is one (the checker itself)', () => {
    const g = new Map([
      [join(ROOT, 'lib/plan/plan.ts'), [join(ROOT, 'lib/emit/compose.ts'), join(ROOT, 'lib/config/spec.ts')]],
      [join(ROOT, 'lib/config/spec.ts'), [join(ROOT, 'lib/diagnostics.ts')]],
    ]);
    expect(upwardImports(g)).toEqual(['lib/plan/plan.ts (plan) -> lib/emit/compose.ts (emit)']);
  });
});
