/**
 * The fast reader against the yaml library: wherever the fast reader answers, data, positions and
 * duplicate keys must be the library's; everywhere else it must step aside.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readPlainYaml } from '../../lib/config/plain-yaml.ts';
import { parseYamlSource, parseYamlSourceWithLibrary } from '../../lib/config/yaml-source.ts';
import { writeSyntheticSystem } from '../../bench/synthetic.ts';
import { HAS_UPSTREAM, ROOT, UPSTREAM } from '../helpers.ts';

/**
 * Every entry's position as `path line:column`, in data order: the fast reader's from its positions,
 * the library's through `locate` on the library's own containers (the two data trees are equal).
 */
function flatPositions(data: unknown, locate: (container: object, key: string | number) => { line: number; column: number } | undefined): string[] {
  const out: string[] = [];
  const visit = (v: unknown, p: string) => {
    if (typeof v !== 'object' || v === null) return;
    const entries: [string | number, unknown][] = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
    for (const [k, x] of entries) {
      const here = typeof k === 'number' ? `${p}[${k}]` : `${p}.${k}`;
      const at = locate(v, k);
      out.push(`${here} ${at?.line}:${at?.column}`);
      visit(x, here);
    }
  };
  visit(data, '');
  return out;
}

/** Compares both readers on `text`; returns whether the fast reader answered. */
function agree(text: string): boolean {
  const fast = readPlainYaml(text);
  if (!fast) return false;
  const lib = parseYamlSourceWithLibrary('f.yaml', text);
  expect(lib.diagnostics.filter((d) => d.code === 'parse-error')).toEqual([]);
  expect(fast.data).toStrictEqual(lib.data);
  // Positions: the same entries must have the same positions.
  const mine = flatPositions(fast.data, (c, k) => (fast.positions.get(c) as Record<string | number, { line: number; column: number }> | undefined)?.[k]);
  const theirs = flatPositions(lib.data, (c, k) => lib.locate(c, k, '?'));
  expect(mine).toEqual(theirs);
  const dups = fast.duplicates.map((d) => `${d.path} ${d.line}:${d.column} (was ${d.previousLine})`);
  const libDups = lib.diagnostics.filter((d) => d.code === 'duplicate-key').map((d) => `${d.path} ${d.line}:${d.column} (was ${/first at line (\d+)/.exec(d.message)![1]})`);
  expect(dups).toEqual(libDups);
  return true;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(f) ? [p] : [];
  });
}

describe('the fast reader on real files', () => {
  it('agrees with the yaml library on every config of the example and the fixtures', () => {
    const files = [...yamlFiles(join(ROOT, 'examples')), ...yamlFiles(join(ROOT, 'test', 'fixtures'))];
    const answered = files.filter((f) => agree(readFileSync(f, 'utf8'))).map((f) => relative(ROOT, f));
    // The example and the synthetic systems must take the fast way, or the benchmark measures the wrong reader.
    expect(answered).toEqual(expect.arrayContaining(['examples/two-pc/agent-infra.yaml', 'examples/two-pc/agent-infra.lock.yaml', 'examples/two-pc/main_pc_code/config/startup_config.yaml', 'examples/two-pc/pc2_code/config/startup_config.yaml']));
    // Files with syntax errors are the library's to report.
    expect(answered).not.toContain('test/fixtures/invalid/01-bad-indentation.yaml');
    expect(answered.length).toBeGreaterThan(files.length / 2);
  });

  it.skipIf(!HAS_UPSTREAM)('agrees with the yaml library on the real configs and leaves the unusual ones to it', () => {
    const answered = readdirSync(UPSTREAM)
      .filter((f) => f.endsWith('.yaml'))
      .filter((f) => agree(readFileSync(join(UPSTREAM, f), 'utf8')))
      .sort();
    // Multi-line flow maps (pc2 files until 0731), anchors (0731) and the syntax error (0809) go to the library.
    expect(answered).toEqual(['20250706_6584679d_mainpc.yaml', '20250708_60ea66cb_mainpc.yaml', '20250719_b2b4e0c2_mainpc.yaml', '20250814_9ff5bdfb_mainpc.yaml', '20250814_9ff5bdfb_pc2.yaml']);
  });

  it('takes the fast way for generated systems', () => {
    const spec = writeSyntheticSystem(300);
    for (const f of ['agent-infra.yaml', 'mainpc.yaml', 'pc2.yaml']) expect(agree(readFileSync(join(spec, '..', f), 'utf8')), f).toBe(true);
  });
});

describe('the fast reader on small documents', () => {
  it.each([
    ['YAML 1.1 booleans and nulls', 'a: yes\nb: Off\nc: ~\nd: null\ne:\nf: y\n', { a: true, b: false, c: null, d: null, e: null, f: true }],
    ['numbers the YAML 1.1 way', 'a: 0755\nb: 1:30\nc: 0x1F\nd: 1_000\ne: 1.5\nf: -7\ng: .inf\nh: 1.0.0\n', { a: 493, b: 90, c: 31, d: 1000, e: 1.5, f: -7, g: Infinity, h: '1.0.0' }],
    ['quoted scalars', `a: 'it''s'\nb: "tab\\there \\u00e9 \\"q\\""\nc: '#not a comment'\n`, { a: "it's", b: 'tab\there é "q"', c: '#not a comment' }],
    ['port expressions and URLs', 'port: ${PORT_OFFSET}+7200\nh: "${PORT_OFFSET}+8200"\nu: tcp://*:5555 # comment\n', { port: '${PORT_OFFSET}+7200', h: '${PORT_OFFSET}+8200', u: 'tcp://*:5555' }],
    ['flow collections with trailing commas', 'a: {x: 1, z: [b, c,],}\nb: []\nc: {}\n', { a: { x: 1, z: ['b', 'c'] }, b: [], c: {} }],
    ['sequences at the key indentation and compact mappings', 'g:\n- name: A\n  port: 1\n-   name: B\n    deps: [A]\nh: 2\n', { g: [{ name: 'A', port: 1 }, { name: 'B', deps: ['A'] }], h: 2 }],
    ['comments and blank lines anywhere', '# head\na:\n\n  # inside\n  b: 1   # trailing\n# between\n  c: 2\n', { a: { b: 1, c: 2 } }],
    ['Windows line ends', 'a:\r\n  b: 1\r\n', { a: { b: 1 } }],
    ['keys the YAML 1.1 way', 'yes: 1\n7200: 2\n"q k": 3\n', { true: 1, '7200': 2, 'q k': 3 }],
  ])('reads %s as the library does', (_name, text, expected) => {
    expect(agree(text)).toBe(true);
    expect(readPlainYaml(text)!.data).toStrictEqual(expected);
  });

  // Each of these either takes the fast way and agrees, or is left to the library.
  const edges = [
    'a   : 1\n', 'a:    1\n', 'a: x  y   \n', 'a: [b]   # c\n', '# only\n# comments\n', '- a\n- b\n', '"a\\"b": 1\n', "a: 'multi word' # c\n",
    'a: é🎉b\nb: "🎉"\n', '- []\n- {}\n', '- a:\n    b: 1\n', 'a:\n    - x: 1\n      y: 2\n    - z\n', 'a: \u00a0x\n', 'a: 1\r\nb: 2\n', 'a: +1\nb: 1e5\nc: 0o17\nd: .5\ne: 1_0\n',
    'a: [~, null, yes]\n', 'null: 1\n~: 2\n', 'a: {<<: 1}\n', '  a: 1\n  b: 2\n', 'a:\n  - b\n  -   c\n', 'a: "x" \n', "a: ''\n", 'a: ""\n', 'a: [a b, c d]\n', 'a: {b c: d e}\n',
    'a: b:c\n', 'a: http://x:80/y\n', 'a: x #y\n', 'a: x#y\n', 'a: -\n', 'a: --x\n', 'a: ---\n', 'a: ...\n', '- - a\n', '-\n  a: 1\n', 'a: [1, [2, [3]]]\n', 'a: !x y\n',
    'a:\n- b\n- c\nd: 1\n', 'a: 1\na: 2\n', 'a: {x: 1, x: 2}\n', '- {a: 1}\n- {a: 2, a: 3}\n', 'a: [a,b]\n', 'a: [ a , b ]\n', 'a: {a: 1 , b: 2}\n', 'a: { }\n', 'a: [ ]\n', 'a: [,]\n',
    'a:\n  b:\n  c: 1\n', 'a:\n\n\n  b: 1\n', 'a: 0x_1\n', 'a: 1:2:3\n', 'a: 2001-12-14t21:59:43.10-05:00\n', 'a: 12:30:45.5\n', 'key with spaces: value with spaces\n', 'a: "\\x41\\u0042"\n', 'a: "\\e"\n',
    "a: 'x''y''z'\n", 'a: 1 # c\n  # deeper comment\nb: 2\n', 'a:\n  # c\n  - 1\n', 'a: [a, b]c\n', 'a: "x"y\n', 'a: [a, b] c\n', '"a": 1\n"b" : 2\n', "'a': 1\n", '? a\n: b\n', 'a: b\n---\nc: d\n', 'a: [a,\n]\n',
    // JavaScript's trimEnd drops these, YAML keeps them
    'a: x\u2029\nb: 2\n', 'a: \u00a0\n', 'a: [x\u00a0, y]\n', 'x\u00a0: 1\n',
  ];
  it('agrees with the library or steps aside on the edges of the subset', () => {
    const answered = edges.filter((text) => agree(text));
    // `---` and `...` as values were read as a document marker (null) once: they are strings
    expect(answered).toEqual(expect.arrayContaining(['a: ---\n', 'a: ...\n', 'a: x\u2029\nb: 2\n', 'a: \u00a0\n', 'a: 1\r\nb: 2\n', 'a: é🎉b\nb: "🎉"\n']));
    expect(answered.length).toBeGreaterThan(edges.length / 2);
  });

  it.each([
    ['anchors and aliases', 'a: &x {b: 1}\nc: *x\n'],
    ['merge keys', 'a: {b: 1}\nc:\n  <<: {d: 2}\n'],
    ['block scalars', 'a: |\n  text\n'],
    ['multi-line plain scalars', 'a: one\n  two\n'],
    ['multi-line flow collections', 'a: [b,\n  c]\n'],
    ['document markers', '---\na: 1\n'],
    ['tags', 'a: !!str 1\n'],
    ['tabs', 'a:\n\tb: 1\n'],
    ['a flow entry without a value', 'a: {b: c, d}\n'],
    ['an empty sequence item', 'a:\n-\n- b\n'],
    ['a bad indentation', 'a:\n    b: 1\n  c: 2\n'],
    ['an unclosed flow map', 'a: {b: 1\n'],
    ['a nested mapping on one line', 'a: b: c\n'],
  ])('leaves %s to the library', (_name, text) => {
    expect(readPlainYaml(text)).toBeUndefined();
    // And the combined reader still reads or reports them.
    expect(parseYamlSource('f.yaml', text).file).toBe('f.yaml');
  });
});

// Random documents: trees rendered in random styles (block or flow, quoting, comments, indentation).
type Tree = { s: string } | { seq: Tree[] } | { map: [string, Tree][] };
const words = ['AgentA', 'yes', 'No', '~', 'null', '0755', '12', '-3', '1.5', '1:30', '2001-12-14', 'tcp://*:5555', '${PORT_OFFSET}+7200', 'a b', 'a#b', 'x: y', "it's", 'a"b', 'é', '[x]', 'on', '', '-', '- a', '#c', 'a,b', '{a}', '---', '...', '+1', '.5', '1e5', 'a:b', '0x1F', '🎉', '<<', 'x\u00a0', '\u2029'];
const keys = ['name', 'port', 'a', 'b', '1', 'yes', 'x y', 'dependencies', "k'q", 'a.b'];
const treeArb: fc.Arbitrary<Tree> = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(...words).map((s) => ({ s })),
    fc.array(tie('tree'), { maxLength: 4 }).map((seq) => ({ seq })),
    fc.array(fc.tuple(fc.constantFrom(...keys), tie('tree')), { maxLength: 4 }).map((map) => ({ map })),
  ),
})).tree;

function render(tree: Tree, choices: () => number): string {
  const pick = <T,>(xs: readonly T[]): T => xs[choices() % xs.length]!;
  const scalar = (s: string) => pick([s, s, `'${s.replace(/'/g, "''")}'`, JSON.stringify(s)]);
  const flow = (t: Tree): string => {
    if ('s' in t) return scalar(t.s);
    const trailing = pick(['', ',']);
    if ('seq' in t) return `[${t.seq.map(flow).join(pick([', ', ',']))}${t.seq.length ? trailing : ''}]`;
    return `{${t.map.map(([k, v]) => `${scalar(k)}: ${flow(v)}`).join(', ')}${t.map.length ? trailing : ''}}`;
  };
  const lines: string[] = [];
  const comment = (indent: number) => {
    const c = choices() % 10;
    if (c === 0) lines.push(`${' '.repeat(indent)}# note`);
    if (c === 1) lines.push('');
  };
  const block = (t: Tree, indent: number, lead: string | undefined): void => {
    // `lead` is the text that starts the first line (`- ` of a sequence item), if any.
    const first = (text: string) => (lead !== undefined ? `${lead}${text}` : `${' '.repeat(indent)}${text}`);
    if ('s' in t || pick([0, 0, 1]) === 1 || ('seq' in t ? t.seq.length === 0 : t.map.length === 0)) {
      lines.push(first(flow(t)));
      return;
    }
    const step = pick([2, 4]);
    if ('seq' in t) {
      t.seq.forEach((item, i) => {
        comment(indent);
        const l = i === 0 ? lead : undefined;
        const dash = `${l !== undefined ? l : ' '.repeat(indent)}- `;
        block(item, indent + 2, dash);
      });
      return;
    }
    t.map.forEach(([k, v], i) => {
      comment(indent);
      const keyText = `${scalar(k)}${pick(['', '', ' '])}:`;
      const start = i === 0 ? first(keyText) : `${' '.repeat(indent)}${keyText}`;
      if ('s' in v || (('seq' in v ? v.seq.length : v.map.length) === 0) || pick([0, 0, 0, 1]) === 1) {
        lines.push(`${start}${pick([' ', ' ', '   '])}${flow(v)}${pick(['', '', ' # c', '  '])}`);
      } else if ('seq' in v && pick([0, 1]) === 1) {
        lines.push(start);
        block(v, indent, undefined);
      } else {
        lines.push(start);
        block(v, indent + step, undefined);
      }
    });
  };
  block(tree, 0, undefined);
  return `${lines.join('\n')}\n`;
}

describe('the fast reader on random documents', () => {
  it('answers only where it agrees with the yaml library, and answers often', () => {
    let answered = 0;
    let runs = 0;
    fc.assert(
      fc.property(treeArb, fc.infiniteStream(fc.nat()), (tree, stream) => {
        const it = stream[Symbol.iterator]();
        const text = render(tree, () => it.next().value as number);
        runs++;
        try {
          if (agree(text)) answered++;
        } catch (e) {
          throw new Error(`${String(e)}\n--- document ---\n${text}`);
        }
      }),
      { numRuns: Number(process.env.FAST_YAML_RUNS ?? 1500) },
    );
    expect(answered / runs).toBeGreaterThan(0.3);
  });

  it('steps aside or agrees when the example config is damaged at random', () => {
    const text = readFileSync(join(ROOT, 'examples', 'two-pc', 'pc2_code', 'config', 'startup_config.yaml'), 'utf8');
    let answered = 0;
    fc.assert(
      fc.property(fc.nat({ max: text.length - 1 }), fc.constantFrom(':', '-', ' ', '\n', '#', '[', ']', '{', '}', ',', "'", '"', '&', '*', '|', 'x', ''), fc.boolean(), (at, ch, replace) => {
        const damaged = text.slice(0, at) + ch + text.slice(replace ? at + 1 : at);
        if (agree(damaged)) answered++;
      }),
      { numRuns: Number(process.env.FAST_YAML_RUNS ?? 400) },
    );
    expect(answered).toBeGreaterThan(0);
  });
});
