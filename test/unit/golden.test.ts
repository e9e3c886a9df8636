/** Golden files: each case's whole output, file by file. Regenerate with `npx vitest run -u` and read the diff. */
import { describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createHash } from 'node:crypto';
import { parse, parseAllDocuments, parseDocument, isMap, isSeq } from 'yaml';

/** A value with its objects' keys sorted and its lists' items too (order-free comparison of read data). */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, x]) => [k, sortKeys(x)]),
    );
  return v;
}
import { runPipeline } from '../../lib/pipeline.ts';
import { emitEverything } from '../../lib/synth.ts';
import { EXAMPLE_SPEC, HAS_UPSTREAM, ROOT } from '../helpers.ts';

/** Kept in full: a small system with one agent per feature, so that a change reads as a short diff. */
const SMALL = join(ROOT, 'test/fixtures/golden-small/agent-infra.yaml');

/** Kept as a summary (lines and a hash per file): the example and the real configs, checked by assertions elsewhere. */
const summarized: [string, string, boolean][] = [
  ['example', EXAMPLE_SPEC, true],
  ['upstream-20250814', join(ROOT, 'test/fixtures/upstream-20250814/agent-infra.yaml'), HAS_UPSTREAM],
  ['upstream-20250731', join(ROOT, 'test/fixtures/upstream-20250731/agent-infra.yaml'), HAS_UPSTREAM],
];

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) =>
    statSync(join(dir, n)).isDirectory() ? listFiles(join(dir, n)).map((f) => `${n}/${f}`) : [n],
  );
}

async function outputOf(spec: string): Promise<Map<string, string>> {
  const r = runPipeline({ spec, cwd: ROOT });
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return emitEverything(r.plan, relative(ROOT, spec));
}

/** One line per file: its path, its lines and the first 16 hex digits of its SHA-256. */
export function summary(files: ReadonlyMap<string, string>): string {
  return `${[...files]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(
      ([path, text]) =>
        `${path} ${text.split('\n').length - 1} ${createHash('sha256').update(text).digest('hex').slice(0, 16)}`,
    )
    .join('\n')}\n`;
}

describe('golden output of the small system', () => {
  it('matches the golden files, with none missing or extra', async () => {
    const files = await outputOf(SMALL);
    for (const [path, text] of [...files].sort())
      await expect(text).toMatchFileSnapshot(join(ROOT, 'test', 'golden', 'small', path));
    const golden = listFiles(join(ROOT, 'test', 'golden', 'small')).sort();
    if (golden.length > 0) expect(golden).toEqual([...files.keys()].sort());
  });
});

describe.each(summarized)('summarized output of %s', (name, spec, available) => {
  it.skipIf(!available)('matches the summary: the same files, lines and hashes', async () => {
    await expect(summary(await outputOf(spec))).toMatchFileSnapshot(join(ROOT, 'test', 'golden', `${name}.sha256`));
  });
});

describe('determinism', () => {
  it('gives identical bytes for shuffled input: agents, groups, dependencies and machines reordered', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shuffled-'));
    cpSync(join(ROOT, 'examples', 'two-pc'), dir, { recursive: true });
    const reverse = (file: string, paths: string[][]) => {
      const doc = parseDocument(readFileSync(file, 'utf8'));
      for (const p of paths) {
        const node = p.length ? doc.getIn(p, true) : doc.contents;
        if (isMap(node) || isSeq(node)) (node.items as unknown[]).reverse();
      }
      const groups = doc.getIn(['agent_groups'], true);
      if (isMap(groups)) {
        for (const g of groups.items) {
          if (isMap(g.value)) {
            g.value.items.reverse();
            for (const a of g.value.items) {
              const deps = isMap(a.value) ? a.value.get('dependencies', true) : undefined;
              if (isSeq(deps)) deps.items.reverse();
            }
          }
        }
      }
      writeFileSync(file, doc.toString());
    };
    reverse(join(dir, 'main_pc_code/config/startup_config.yaml'), [[], ['agent_groups'], ['docker_groups']]);
    reverse(join(dir, 'pc2_code/config/startup_config.yaml'), [[], ['pc2_services']]);
    reverse(join(dir, 'agent-infra.yaml'), [['machines'], ['agents'], ['groups'], ['images']]);
    const shuffled = readFileSync(join(dir, 'main_pc_code/config/startup_config.yaml'), 'utf8');
    expect(shuffled).not.toBe(
      readFileSync(join(ROOT, 'examples/two-pc/main_pc_code/config/startup_config.yaml'), 'utf8'),
    );
    const a = runPipeline({ spec: EXAMPLE_SPEC, cwd: ROOT });
    const b = runPipeline({ spec: join(dir, 'agent-infra.yaml'), cwd: dir });
    expect(b.ok).toBe(true);
    const [fa, fb] = [
      await emitEverything(a.plan, 'examples/two-pc/agent-infra.yaml'),
      await emitEverything(b.plan, 'examples/two-pc/agent-infra.yaml'),
    ];
    // The planned startup configs are the user's files with ports written in: their order is the
    // input's. Their content is the same: the same data once read.
    const copies = (f: Map<string, string>) =>
      [...f.keys()].filter((k) => /\/config\/[^/]+\/startup_config\.yaml$/.test(k));
    expect(copies(fb)).toEqual(copies(fa));
    expect(copies(fa).length).toBe(4);
    const data = (text: string) => JSON.stringify(sortKeys(parse(text, { version: '1.1' })));
    for (const k of copies(fa)) expect([k, data(fb.get(k)!)]).toEqual([k, data(fa.get(k)!)]);
    // The same in the Kubernetes ConfigMaps that carry them; every other byte identical.
    const normalized = (k: string, text: string) => {
      if (!text.includes('startup_config.yaml: |')) return text;
      return JSON.stringify(
        parseAllDocuments(text)
          .map((d) => d.toJS())
          .map((o) =>
            o?.kind === 'ConfigMap' && o.data?.['startup_config.yaml']
              ? { ...o, data: { 'startup_config.yaml': data(o.data['startup_config.yaml']) } }
              : o,
          ),
      );
    };
    const rest = (f: Map<string, string>) =>
      new Map([...f].filter(([k]) => !copies(f).includes(k)).map(([k, v]) => [k, normalized(k, v)]));
    expect(rest(fb)).toEqual(rest(fa));
  });
});
