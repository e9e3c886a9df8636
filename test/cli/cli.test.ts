import { describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cli, ROOT } from '../helpers.ts';
import { lockText } from '../../lib/lock.ts';
import { parseYamlSource } from '../../lib/io/yaml-source.ts';
import { writeSyntheticSystem } from '../../bench/synthetic.ts';

/** A copy of the example (which check answers with a warning and notes). */
function exampleCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'quiet-'));
  cpSync(join(ROOT, 'examples', 'two-pc'), dir, { recursive: true });
  return join(dir, 'agent-infra.yaml');
}

describe('--quiet and --format json', () => {
  const spec = exampleCopy();
  const out = () => mkdtempSync(join(tmpdir(), 'quiet-out-'));
  it.each([
    ['check', () => ['check', '--spec', spec]],
    ['synth', () => ['synth', '--spec', spec, '--out', out()]],
    ['report', () => ['report', '--spec', spec, '--out', out()]],
    ['scan-ips', () => ['scan-ips', join(ROOT, 'test', 'fixtures', 'mini-monorepo')]],
  ])(
    '%s --quiet prints no warning and nothing on stdout; --format json one document with the diagnostics',
    (command, args) => {
      const loud = cli(args());
      expect(loud.stdout + loud.stderr).not.toBe('');
      const quiet = cli([...args(), '--quiet']);
      expect(quiet.code).toBe(loud.code);
      expect(quiet.stdout).toBe('');
      expect(quiet.stderr).not.toMatch(/^warning /m);
      const json = cli([...args(), '--format', 'json']);
      expect(json.code).toBe(loud.code);
      const doc = JSON.parse(json.stdout);
      expect(doc).toBeTypeOf('object');
      if (command !== 'scan-ips') {
        expect(doc.diagnostics.filter((d: { severity: string }) => d.severity === 'warning').length).toBe(
          (loud.stderr.match(/^warning /gm) ?? []).length,
        );
      }
    },
  );

  it('synth --format json lists every file it wrote, where it is', () => {
    const dir = out();
    const r = cli(['synth', '--spec', spec, '--out', dir, '--format', 'json']);
    const doc = JSON.parse(r.stdout);
    expect(doc.ok).toBe(true);
    // Relative to the working folder, as every path the commands print.
    const files = doc.written.files.map((f: string) => resolve(ROOT, f));
    expect(files).toContain(`${dir}/k8s/mainpc.yaml`);
    expect(files.filter((f: string) => existsSync(f))).toEqual(files);
    expect(doc.written.files.length).toBeGreaterThan(20);
  });

  it.each(['check', 'synth', 'report', 'scan-ips', 'init', 'images'])('%s refuses --format xml', (command) => {
    const r = cli([command, ...(command === 'scan-ips' ? ['.'] : []), '--format', 'xml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--format takes text or json, got 'xml' \[usage\]/);
  });
});

describe('agent-infra check', () => {
  it('passes on the embedded example and prints counts, start levels and the critical path', () => {
    const r = cli(['check', '--spec', 'examples/two-pc/agent-infra.yaml', '--frozen-lock']);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^voice-assistant: 82 agents on 2 machines$/m);
    expect(r.stdout).toMatch(/^ {2}mainpc +56 agents/m);
    expect(r.stdout).toMatch(/^ {2}pc2 +26 agents/m);
    expect(r.stdout).toMatch(/^start levels: 7 \(/m);
    expect(r.stdout).toMatch(
      /^critical path: 31 s \(service-registry -> .* -> goal-manager\); sequential start: 218 s$/m,
    );
  });

  it('keeps long start levels and critical paths to one readable line', () => {
    const r = cli(['check', '--spec', writeSyntheticSystem(300)]);
    expect(r.code).toBe(0);
    // 300 agents in a chain: 300 levels of one agent, a 300-agent critical path
    expect(r.stdout).toMatch(
      /^start levels: 300 \(1 \+ 1 \+ 1 \+ 1 \+ 1 \+ 1 \+ 1 \+ 1 \+ \.\.\. 284 more \.\.\. \+ 1 \+ 1 \+ 1 \+ 1 \+ 1 \+ 1 \+ 1 \+ 1 agents\)$/m,
    );
    expect(r.stdout).toMatch(
      /^critical path: \d+ s \(agent0 -> agent1 -> .* -> agent7 -> \.\.\. 284 more \.\.\. -> agent292 -> .* -> agent299\); sequential start: \d+ s$/m,
    );
    expect(r.stdout.split('\n').every((l) => l.length < 400)).toBe(true);
  });

  it.each(['check', 'synth', 'report', 'images', 'scan-ips', 'init'])(
    'prints the usage of %s with --help and exits 0',
    (command) => {
      const r = cli([command, '--help']);
      expect([r.code, r.stderr]).toEqual([0, '']);
      expect(r.stdout).toMatch(new RegExp(`^usage: agent-infra ${command} `));
    },
  );

  it('refuses a naive twin of a family the system lacks, or one this run does not build, before any build', () => {
    const images = (...args: string[]) =>
      cli([
        'images',
        '--spec',
        'examples/two-pc/agent-infra.yaml',
        '--context',
        'test/fixtures/mini-monorepo',
        ...args,
      ]);
    const absent = images('--naive-family', 'nope');
    expect([absent.code, absent.stderr.trim()]).toEqual([
      2,
      "agent-infra: --naive-family 'nope' is not an image family of this system (cpu, gpu-audio, gpu-torch) [usage]",
    ]);
    const notBuilt = images('--family', 'cpu', '--naive-family', 'gpu-torch');
    expect([notBuilt.code, notBuilt.stderr.trim()]).toEqual([
      2,
      "agent-infra: --naive-family 'gpu-torch' is not among the families this run builds (--family cpu) [usage]",
    ]);
  });

  it('prints its version with --version, the one in package.json', () => {
    const r = cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version}\n`);
  });

  it('writes a port lock that reads back unchanged, names YAML 1.1 would take for booleans or numbers included', () => {
    const ports = [
      { host: 'on', machine: 'y', agent: 'On', port: 'no', wanted: 7000, assigned: 7001 },
      { host: 'pc2', machine: 'pc2', agent: '1:30', port: '0755', wanted: 7002, assigned: 7002 },
    ];
    const text = lockText({ version: 1, ports });
    expect(text).toContain(
      `\n  {"host": "on", "machine": "y", "agent": "On", "port": "no", "wanted": 7000, "assigned": 7001},\n`,
    );
    // The lock is YAML: a YAML 1.1 reader gets the same data as JSON.parse of it.
    expect(parseYamlSource('agent-infra.lock.yaml', text).data).toStrictEqual({ version: 1, ports });
    expect(JSON.parse(text.replace(/^#.*\n/gm, ''))).toStrictEqual({ version: 1, ports });
  });

  it('reads a lock written by hand in block YAML, and one in the flow form of earlier versions', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lock-'));
    cpSync(join(ROOT, 'examples', 'two-pc'), dir, { recursive: true });
    const file = join(dir, 'agent-infra.lock.yaml');
    const entries = JSON.parse(readFileSync(file, 'utf8').replace(/^#.*\n/gm, '')).ports as Record<
      string,
      string | number
    >[];
    const block = `version: 1\nports:\n${entries.map((e) => `  - host: ${e['host']}\n    machine: ${e['machine']}\n    agent: ${e['agent']}\n    port: ${e['port']}\n    wanted: ${e['wanted']}\n    assigned: ${e['assigned']}\n`).join('')}`;
    const flow = `version: 1\nports:\n${entries.map((e) => `  - { host: ${e['host']}, machine: ${e['machine']}, agent: ${e['agent']}, port: ${e['port']}, wanted: ${e['wanted']}, assigned: ${e['assigned']} }\n`).join('')}`;
    for (const text of [block, flow]) {
      writeFileSync(file, text);
      const r = cli(['check', '--spec', join(dir, 'agent-infra.yaml'), '--format', 'json'], dir);
      expect(r.code).toBe(0);
      // The same ports, so only the file's form would change.
      const outdated = JSON.parse(r.stdout).diagnostics.filter((d: { code: string }) => d.code === 'lock-outdated');
      expect(outdated.map((d: { message: string }) => d.message)).toEqual([
        "the port lock is out of date: its format would change; run 'agent-infra synth', which writes it, and commit it",
      ]);
    }
  });

  it('prints the documented JSON shape', () => {
    const r = cli(['check', '--spec', 'examples/two-pc/agent-infra.yaml', '--format', 'json']);
    const j = JSON.parse(r.stdout);
    expect(Object.keys(j)).toEqual(['ok', 'machines', 'diagnostics', 'plan']);
    expect(j.ok).toBe(true);
    expect(j.machines).toEqual([
      { name: 'mainpc', file: 'examples/two-pc/main_pc_code/config/startup_config.yaml', agents: 56 },
      { name: 'pc2', file: 'examples/two-pc/pc2_code/config/startup_config.yaml', agents: 26 },
    ]);
    expect(Object.keys(j.plan)).toEqual(['agents', 'leftOut', 'startLevels', 'criticalPathSeconds']);
    expect(j.plan.leftOut).toEqual([]);
    expect(j.plan.criticalPathSeconds).toBe(31);
    expect(j.plan.startLevels.flat()).toHaveLength(82);
    for (const d of j.diagnostics)
      expect(Object.keys(d)).toEqual(['code', 'severity', 'message', 'file', 'line', 'column', 'path']);
    expect(j.diagnostics.find((d: { code: string }) => d.code === 'port-reassigned')).toMatchObject({
      severity: 'info',
      file: 'examples/two-pc/pc2_code/config/startup_config.yaml',
    });
  });

  it.each([
    [
      ['check', '--spec', 'nope.yaml'],
      2,
      /nope\.yaml: spec file not found; pass an existing file to --spec \[missing-file\]/,
    ],
    [['check', '--machine', 'mainpc=missing.yaml'], 2, /missing\.yaml: startup config of machine 'mainpc' not found/],
    [['check', '--bogus'], 2, /unknown option '--bogus'/],
    [['check', '--format', 'xml'], 2, /--format takes text or json, got 'xml' \[usage\]/],
    [['frobnicate'], 2, /unknown command 'frobnicate'/],
    [['check', '--machine', 'nonsense'], 2, /--machine takes NAME=FILE, got 'nonsense'/],
  ])('fails %j with exit %i and a clear message', (args, code, message) => {
    const r = cli(args);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('fails an invalid spec with its line and path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spec-'));
    writeFileSync(join(dir, 'agent-infra.yaml'), 'machines:\n  mainpc:\n    config: m.yaml\n    addressEnv: main-ip\n');
    const r = cli(['check', '--spec', join(dir, 'agent-infra.yaml')], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'agent-infra.yaml:4 machines.mainpc.addressEnv: must be an environment variable name such as MAIN_PC_IP; see the spec reference in the README [invalid-spec]',
    );
  });

  it('writes nothing: no port lock beside the spec, none in the working folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lock-'));
    cpSync(join(ROOT, 'examples', 'two-pc'), dir, { recursive: true, filter: (s) => !s.endsWith('.lock.yaml') });
    const before = readdirSync(dir).sort();
    const r = cli(['check', '--spec', join(dir, 'agent-infra.yaml')], dir);
    expect(r.code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(before);
    // Without a spec the lock would belong in the working folder: still nothing there.
    const cwd = mkdtempSync(join(tmpdir(), 'cwd-'));
    expect(
      cli(['check', '--machine', `mainpc=${join(ROOT, 'test', 'fixtures', 'nested-groups', '01-one-level.yaml')}`], cwd)
        .code,
    ).toBe(0);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('leaves the lock to synth, which writes it beside the spec and keeps it on a rerun', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lock-'));
    cpSync(join(ROOT, 'examples', 'two-pc'), dir, { recursive: true, filter: (s) => !s.endsWith('.lock.yaml') });
    const synth = cli(
      ['synth', '--spec', join(dir, 'agent-infra.yaml'), '--out', join(dir, 'dist'), '--only', 'compose'],
      dir,
    );
    expect(synth.code).toBe(0);
    expect(synth.stdout).toMatch(/ and the port lock$/m);
    const lock = readFileSync(join(dir, 'agent-infra.lock.yaml'), 'utf8');
    expect(lock).toContain(
      '{"host": "single-host", "machine": "pc2", "agent": "TranslationCachePC2", "port": "service", "wanted": 7155, "assigned": 7172}',
    );
    expect(lock).toBe(readFileSync(join(ROOT, 'examples', 'two-pc', 'agent-infra.lock.yaml'), 'utf8'));
    expect(cli(['check', '--spec', join(dir, 'agent-infra.yaml'), '--frozen-lock'], dir).code).toBe(0);
    const again = cli(
      ['synth', '--spec', join(dir, 'agent-infra.yaml'), '--out', join(dir, 'dist'), '--only', 'compose'],
      dir,
    );
    expect(again.stdout).not.toMatch(/port lock/);
  });

  it('fails --frozen-lock when the lock is out of date and says what would change', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lock-'));
    cpSync(join(ROOT, 'examples', 'two-pc'), dir, { recursive: true });
    // Drop one reassigned port from the committed lock, and let another have wanted a different port:
    // check must name both entries and their ports.
    const file = join(dir, 'agent-infra.lock.yaml');
    const text = readFileSync(file, 'utf8');
    const dropped =
      '  {"host": "single-host", "machine": "pc2", "agent": "TranslationCachePC2", "port": "service", "wanted": 7155, "assigned": 7172},\n';
    expect(text).toContain(dropped);
    writeFileSync(
      file,
      text
        .replace(dropped, '')
        .replace(
          '"agent": "AdvancedRouter", "port": "health", "wanted": 8129,',
          '"agent": "AdvancedRouter", "port": "health", "wanted": 8128,',
        ),
    );
    const r = cli(['check', '--spec', join(dir, 'agent-infra.yaml'), '--frozen-lock'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "error agent-infra.lock.yaml:1: the port lock is out of date: 2 entries would change: ~ pc2: pc2/AdvancedRouter health 8129 -> 8129 (wanted 8128 -> 8129), + single-host: pc2/TranslationCachePC2 service 7172; run 'agent-infra synth', which writes it, and commit it [lock-outdated]",
    );
    // Without --frozen-lock it is a note, and check still passes.
    const note = cli(['check', '--spec', join(dir, 'agent-infra.yaml'), '--format', 'json'], dir);
    expect(note.code).toBe(0);
    expect(
      JSON.parse(note.stdout)
        .diagnostics.filter((d: { code: string }) => d.code === 'lock-outdated')
        .map((d: { severity: string }) => d.severity),
    ).toEqual(['info']);
  });

  it('lists a missing lock as every entry to add', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lock-'));
    cpSync(join(ROOT, 'examples', 'two-pc'), dir, { recursive: true, filter: (s) => !s.endsWith('.lock.yaml') });
    const r = cli(['check', '--spec', join(dir, 'agent-infra.yaml'), '--frozen-lock'], dir);
    expect(r.code).toBe(1);
    const entries = readFileSync(join(ROOT, 'examples', 'two-pc', 'agent-infra.lock.yaml'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('  {"host"')).length;
    expect(r.stderr).toContain(
      `the port lock is out of date: ${entries} entries would change: + pc2: pc2/AdvancedRouter health 8129, `,
    );
  });
});
