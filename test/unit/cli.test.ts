import { describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, ROOT } from '../helpers.ts';
import { lockText } from '../../lib/cli.ts';
import { parseYamlSource } from '../../lib/config/yaml-source.ts';
import { writeSyntheticSystem } from '../../bench/synthetic.ts';

describe('agent-infra check', () => {
  it('passes on the embedded example and prints counts, start levels and the critical path', () => {
    const r = cli(['check', '--spec', 'examples/two-pc/agent-infra.yaml', '--frozen-lock']);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^voice-assistant: 82 agents on 2 machines$/m);
    expect(r.stdout).toMatch(/^  mainpc +56 agents/m);
    expect(r.stdout).toMatch(/^  pc2 +26 agents/m);
    expect(r.stdout).toMatch(/^start levels: 7 \(/m);
    expect(r.stdout).toMatch(/^critical path: 31 s \(service-registry -> .* -> goal-manager\); sequential start: 218 s$/m);
  });

  it('keeps long start levels and critical paths to one readable line', () => {
    const r = cli(['check', '--spec', writeSyntheticSystem(300)]);
    expect(r.code).toBe(0);
    // 300 agents in a chain: 300 levels of one agent, a 300-agent critical path
    expect(r.stdout).toMatch(/^start levels: 300 \(1 \+ 1 \+ 1 \+ 1 \+ 1 \+ 1 \+ 1 \+ 1 \+ \.\.\. 284 more \.\.\. \+ 1 \+ 1 \+ 1 \+ 1 \+ 1 \+ 1 \+ 1 \+ 1 agents\)$/m);
    expect(r.stdout).toMatch(/^critical path: \d+ s \(agent0 -> agent1 -> .* -> agent7 -> \.\.\. 284 more \.\.\. -> agent292 -> .* -> agent299\); sequential start: \d+ s$/m);
    expect(r.stdout.split('\n').every((l) => l.length < 400)).toBe(true);
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
    expect(text).toContain(`  - { host: "on", machine: "y", agent: "On", port: "no", wanted: 7000, assigned: 7001 }`);
    expect(parseYamlSource('agent-infra.lock.yaml', text).data).toStrictEqual({ version: 1, ports });
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
    expect(Object.keys(j.plan)).toEqual(['agents', 'startLevels', 'criticalPathSeconds']);
    expect(j.plan.criticalPathSeconds).toBe(31);
    expect(j.plan.startLevels.flat()).toHaveLength(82);
    for (const d of j.diagnostics) expect(Object.keys(d)).toEqual(['code', 'severity', 'message', 'file', 'line', 'column', 'path']);
    expect(j.diagnostics.find((d: { code: string }) => d.code === 'port-reassigned')).toMatchObject({ severity: 'info', file: 'examples/two-pc/pc2_code/config/startup_config.yaml' });
  });

  it.each([
    [['check', '--spec', 'nope.yaml'], 2, /nope\.yaml: spec file not found; pass an existing file to --spec \[missing-file\]/],
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
    expect(r.stderr).toContain('agent-infra.yaml:4 machines.mainpc.addressEnv: must be an environment variable name such as MAIN_PC_IP; see the spec reference in the README [invalid-spec]');
  });

  it('writes the port lock beside the spec and keeps it on a rerun', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lock-'));
    cpSync(join(ROOT, 'examples', 'two-pc'), dir, { recursive: true, filter: (s) => !s.endsWith('.lock.yaml') });
    expect(cli(['check', '--spec', join(dir, 'agent-infra.yaml')], dir).code).toBe(0);
    const lock = readFileSync(join(dir, 'agent-infra.lock.yaml'), 'utf8');
    expect(lock).toContain('{ host: single-host, machine: pc2, agent: TranslationCachePC2, port: service, wanted: 7155, assigned: 7174 }');
    expect(lock).toBe(readFileSync(join(ROOT, 'examples', 'two-pc', 'agent-infra.lock.yaml'), 'utf8'));
    expect(cli(['check', '--spec', join(dir, 'agent-infra.yaml'), '--frozen-lock'], dir).code).toBe(0);
  });

  it('fails --frozen-lock when the lock is out of date', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lock-'));
    cpSync(join(ROOT, 'examples', 'two-pc'), dir, { recursive: true, filter: (s) => !s.endsWith('.lock.yaml') });
    const r = cli(['check', '--spec', join(dir, 'agent-infra.yaml'), '--frozen-lock'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the port lock is out of date; run 'agent-infra check' without --frozen-lock and commit the lock \[lock-outdated\]/);
  });
});
