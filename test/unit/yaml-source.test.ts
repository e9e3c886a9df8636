/**
 * The config reader: YAML 1.1 data as the Python loader of the real system reads it, the line of
 * every entry, duplicate keys, merge keys and anchors, and documents that must not be expanded.
 */
import { describe, expect, it } from 'vitest';
import { parseYamlSource } from '../../lib/io/yaml-source.ts';

const read = (text: string) => parseYamlSource('f.yaml', text);

describe('the config reader', () => {
  it.each([
    [
      'YAML 1.1 booleans and nulls',
      'a: yes\nb: Off\nc: ~\nd: null\ne:\nf: y\n',
      { a: true, b: false, c: null, d: null, e: null, f: true },
    ],
    [
      'numbers the YAML 1.1 way',
      'a: 0755\nb: 1:30\nc: 0x1F\nd: 1_000\ne: 1.5\nf: -7\ng: .inf\nh: 1.0.0\n',
      { a: 493, b: 90, c: 31, d: 1000, e: 1.5, f: -7, g: Infinity, h: '1.0.0' },
    ],
    [
      'quoted scalars',
      `a: 'it''s'\nb: "tab\\there \\u00e9 \\"q\\""\nc: '#not a comment'\n`,
      { a: "it's", b: 'tab\there é "q"', c: '#not a comment' },
    ],
    [
      'port expressions and URLs',
      'port: ${PORT_OFFSET}+7200\nh: "${PORT_OFFSET}+8200"\nu: tcp://*:5555 # comment\n',
      { port: '${PORT_OFFSET}+7200', h: '${PORT_OFFSET}+8200', u: 'tcp://*:5555' },
    ],
    [
      'flow collections with trailing commas, over several lines',
      'a: {x: 1, z: [b,\n  c,],}\nb: []\nc: {}\n',
      { a: { x: 1, z: ['b', 'c'] }, b: [], c: {} },
    ],
    [
      'sequences at the key indentation',
      'g:\n- name: A\n  port: 1\n-   name: B\n    deps: [A]\nh: 2\n',
      {
        g: [
          { name: 'A', port: 1 },
          { name: 'B', deps: ['A'] },
        ],
        h: 2,
      },
    ],
    ['keys the YAML 1.1 way', 'yes: 1\n7200: 2\n"q k": 3\n', { true: 1, '7200': 2, 'q k': 3 }],
    ['block scalars', 'a: |\n  one\n  two\nb: >\n  folded\n  text\n', { a: 'one\ntwo\n', b: 'folded text\n' }],
  ])('reads %s', (_name, text, expected) => {
    const r = read(text);
    expect(r.diagnostics).toEqual([]);
    expect(r.data).toStrictEqual(expected);
  });

  it('locates every entry at the line and column of its key or item', () => {
    const r = read(
      '# head\nagent_groups:\n  core:\n    A: {port: 1}\n    B:\n      port: 2\n      dependencies:\n      - A\n',
    );
    expect([
      r.at('agent_groups.core.A').line,
      r.at('agent_groups.core.A.port').line,
      r.at('agent_groups.core.B.port'),
      r.at('agent_groups.core.B.dependencies[0]').line,
    ]).toEqual([4, 4, { file: 'f.yaml', line: 6, column: 7, path: 'agent_groups.core.B.port' }, 8]);
    // A path that does not exist is located at its nearest ancestor.
    expect(r.at('agent_groups.core.B.nothing').line).toBe(5);
  });

  it('reports each duplicate key with both lines and keeps the last value, as the Python loader does', () => {
    const r = read('a: 1\nb:\n  x: 1\n  x: 2\na: 3\n');
    expect(r.data).toStrictEqual({ a: 3, b: { x: 2 } });
    expect(r.diagnostics.map((d) => [d.code, d.line, d.path, d.message])).toEqual([
      [
        'duplicate-key',
        4,
        'b.x',
        "key 'x' is defined twice (first at line 3); the last one would silently replace the first: remove or rename one",
      ],
      [
        'duplicate-key',
        5,
        'a',
        "key 'a' is defined twice (first at line 1); the last one would silently replace the first: remove or rename one",
      ],
    ]);
  });

  it("merges merge keys: the mapping's own keys win, then the earlier source", () => {
    const text = [
      'defaults: &defaults {required: true, port: 5000, health_check_port: 6000}',
      'gpu: &gpu {port: 5100, vram_mb: 2048}',
      'agents:',
      '  A:',
      '    <<: *defaults',
      '    port: 7200',
      '  B:',
      '    <<: [*gpu, *defaults]',
      '',
    ].join('\n');
    const r = read(text);
    expect(r.diagnostics).toEqual([]);
    const agents = (r.data as { agents: Record<string, Record<string, unknown>> }).agents;
    expect(agents['A']).toStrictEqual({ required: true, port: 7200, health_check_port: 6000 });
    expect(agents['B']).toStrictEqual({ port: 5100, vram_mb: 2048, required: true, health_check_port: 6000 });
    expect(Object.keys(agents['A']!)).not.toContain('<<');
    // A merged entry is located where it is written: in the anchored mapping.
    expect(r.at('agents.A.health_check_port').line).toBe(1);
    expect(r.at('agents.A.port').line).toBe(6);
  });

  it('reads anchors and aliases as the values they name', () => {
    const r = read('base: &b [p, q]\nother: *b\nmap: &m {k: v}\nagain: *m\n');
    expect(r.data).toStrictEqual({ base: ['p', 'q'], other: ['p', 'q'], map: { k: 'v' }, again: { k: 'v' } });
  });

  it('fails an alias bomb with parse-error in bounded time instead of expanding it', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++)
      lines.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(', ')}]`,
      );
    const t0 = performance.now();
    const r = read(`${lines.join('\n')}\n`);
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(r.data).toBeUndefined();
    expect(r.diagnostics.map((d) => [d.code, d.line, d.message])).toEqual([
      [
        'parse-error',
        1,
        'aliases expand the document past 100,000 nodes (an alias bomb?); a startup config shares a few blocks: write the repeated parts out or use fewer nested aliases',
      ],
    ]);
  });

  it('keeps a key named __proto__ as data, never as the prototype', () => {
    const r = read('__proto__: {polluted: true}\nconstructor: 1\n');
    const data = r.data as Record<string, unknown>;
    expect(Object.keys(data)).toEqual(['__proto__', 'constructor']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
  });

  it.each([
    ['a bad indentation', 'a:\n    b: 1\n  c: 2\n', 3],
    ['an unclosed flow map (reported where the file ends)', 'a: {b: 1\n', 2],
    ['a nested mapping on one line', 'x: 1\na: b: c\n', 2],
  ])('fails %s with parse-error at its line', (_name, text, line) => {
    const r = read(text);
    expect(r.diagnostics.map((d) => [d.code, d.line])).toEqual([['parse-error', line]]);
  });
});

/**
 * The example's pc2 startup config with `edits` (text -> replacement) made, planned: the diagnostics,
 * each as `<severity> <formatted>`, and the line each replacement landed on.
 */
async function planEditedPc2(edits: readonly [string, string][]) {
  const { cpSync, mkdtempSync, readFileSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { runPipeline } = await import('../../lib/pipeline.ts');
  const { formatDiagnostic } = await import('../../lib/diagnostics.ts');
  const { ROOT } = await import('../helpers.ts');
  const dir = mkdtempSync(join(tmpdir(), 'yaml11-'));
  cpSync(join(ROOT, 'examples', 'two-pc'), dir, { recursive: true });
  const file = join(dir, 'pc2_code', 'config', 'startup_config.yaml');
  const text = edits.reduce(
    (t, [from, to]) => {
      if (!t.includes(from)) throw new Error(`the example's pc2 config has no '${from}'`);
      return t.replace(from, to);
    },
    readFileSync(file, 'utf8'),
  );
  writeFileSync(file, text);
  const r = runPipeline({ spec: join(dir, 'agent-infra.yaml'), machines: [], cwd: dir });
  return {
    said: r.diagnostics.filter((d) => d.code === 'invalid-value').map((d) => `${d.severity} ${formatDiagnostic(d)}`),
    lineOf: (s: string) => text.slice(0, text.indexOf(s)).split('\n').length,
  };
}

const F = 'pc2_code/config/startup_config.yaml';

describe('timestamps in a startup config', () => {
  it('are shown as written and reported at their line: a name, a dependency, a port', async () => {
    const { said, lineOf } = await planEditedPc2([
      [
        '- name: ResourceManager\n  script_path: pc2_code/agents/resource_manager.py\n  port: ${PORT_OFFSET}+7113',
        '- name: ResourceManager\n  script_path: pc2_code/agents/resource_manager.py\n  port: 2001-12-14',
      ],
      [
        '  dependencies: [ObservabilityHubPC2]\n- name: MemoryCachePC2',
        '  dependencies: [ObservabilityHubPC2, 2024-01-01]\n- name: 2024-01-02T10:00:00Z',
      ],
    ]);
    const why = (t: string) => `the date ${t} (YAML reads it unquoted as a timestamp; quote it if it is text)`;
    expect(said).toEqual([
      `error ${F}:${lineOf('port: 2001-12-14')} pc2_services[2].port: a port must be an integer, got ${why('2001-12-14')}; write the port as a number [invalid-value]`,
      `error ${F}:${lineOf('dependencies: [ObservabilityHubPC2, 2024-01-01]')} pc2_services[2].dependencies[1]: a dependency must be an agent name, got ${why('2024-01-01')}; list agents by name [invalid-value]`,
      `error ${F}:${lineOf('- name: 2024-01-02T10:00:00Z')} pc2_services[3]: an agent needs a 'name', got ${why('2024-01-02T10:00:00Z')}; add 'name: AgentName' [invalid-value]`,
    ]);
    expect(said.join('\n')).not.toMatch(/GMT/);
  });
});

describe('other YAML 1.1 types in a startup config', () => {
  it('shows a name, a dependency and a port as written, and warns where a port is read as another number', async () => {
    const { said, lineOf } = await planEditedPc2([
      [
        'port: ${PORT_OFFSET}+7113\n  health_check_port: ${PORT_OFFSET}+8113',
        'port: 0x1C21\n  health_check_port: 2:17:13',
      ],
      [
        '  dependencies: [ObservabilityHubPC2]\n- name: MemoryCachePC2',
        '  dependencies: [ObservabilityHubPC2, yes]\n- name: 1e3',
      ],
    ]);
    // 0x1C21 is 7201; 2:17:13 in base 60 is 2 x 3600 + 17 x 60 + 13 = 8233.
    expect(said).toEqual([
      `warning ${F}:${lineOf('port: 0x1C21')} pc2_services[2].port: port is written 0x1C21, which YAML 1.1 reads as 7201 (as the agents' own loader does); write 7201 if that is meant, else the port it should be [invalid-value]`,
      `warning ${F}:${lineOf('health_check_port: 2:17:13')} pc2_services[2].health_check_port: health_check_port is written 2:17:13, which YAML 1.1 reads as 8233 (as the agents' own loader does); write 8233 if that is meant, else the port it should be [invalid-value]`,
      `error ${F}:${lineOf('dependencies: [ObservabilityHubPC2, yes]')} pc2_services[2].dependencies[1]: a dependency must be an agent name, got yes (YAML reads it unquoted as the boolean true; quote it if it is text); list agents by name [invalid-value]`,
      `error ${F}:${lineOf('- name: 1e3')} pc2_services[3]: an agent needs a 'name', got 1e3 (YAML reads it unquoted as the number 1000; quote it if it is text); add 'name: AgentName' [invalid-value]`,
    ]);
  });
});
