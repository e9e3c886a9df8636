/**
 * The spec's `diagnostics.ignore`: an entry silences one code's warnings and notes for the agents it
 * selects (by name or group) or for all, with its reason; errors are never silenced; an entry that
 * silences nothing is a warning at its line. Expected values by hand from the files below.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPipeline } from '../../lib/pipeline.ts';

const CONFIG = [
  'agent_groups:', //                                                   line 1
  '  core:', //                                                          2
  '    A: {script: agents/a.py, port: 7400, health_check_port: 8400, colour: red}', // 3
  '    B: {script: agents/b.py, port: 7500, health_check_port: 8500}', // 4
  '  extra:', //                                                         5
  '    C: {script_path: agents/c.py, port: 7600, health_check_port: 8600, flavour: mint}', // 6
  '    D: {script_path: agents/d.py, port: 7600, health_check_port: 8700}', // 7: C's port, an error
  '',
].join('\n');

function run(ignore: string) {
  const dir = mkdtempSync(join(tmpdir(), 'ignore-'));
  writeFileSync(join(dir, 'main.yaml'), CONFIG);
  writeFileSync(
    join(dir, 'agent-infra.yaml'),
    `name: t\nmachines:\n  mainpc: {config: main.yaml, addressEnv: MAIN_PC_IP}\ndiagnostics:\n  ignore:\n${ignore}`,
  );
  const r = runPipeline({ spec: join(dir, 'agent-infra.yaml'), cwd: dir });
  return r.diagnostics
    .filter((d) => d.code !== 'port-reassigned')
    .map(
      (d) => `${d.severity} ${d.file ?? ''}:${d.line ?? ''} [${d.code}]${d.ignored ? ` ignored: ${d.ignored}` : ''}`,
    );
}

describe('diagnostics.ignore', () => {
  it('silences a code for the agents an entry names or whose group it names, with the reason', () => {
    const said = run(
      [
        '    - {code: renamed-field, agents: [B], reason: the old launcher still reads script}', // spec line 6
        '    - {code: unknown-key, groups: [core], reason: core agents carry launcher fields}', // 7
        '',
      ].join('\n'),
    );
    expect(said).toContain('warning main.yaml:3 [renamed-field]');
    expect(said).toContain('warning main.yaml:4 [renamed-field] ignored: the old launcher still reads script');
    expect(said).toContain('info main.yaml:3 [unknown-key] ignored: core agents carry launcher fields');
    expect(said).toContain('info main.yaml:6 [unknown-key]');
    expect(said.filter((s) => s.includes('unused-ignore'))).toEqual([]);
  });

  it('never silences an error, and says where an entry silences nothing', () => {
    const said = run(
      [
        '    - {code: port-conflict, reason: they never run together}', // spec line 6: only an error
        '    - {code: renamed-field, agents: [Nobody], reason: typo}', // 7: no such agent
        '    - {code: hardcoded-ip, reason: none left}', // 8: no such problem
        '    - {code: unknown-key, reason: launcher fields}', // 9: every agent
        '',
      ].join('\n'),
    );
    expect(said.filter((s) => s.startsWith('error'))).toEqual(['error main.yaml:7 [port-conflict]']);
    expect(said.filter((s) => s.includes('unused-ignore'))).toEqual([
      'warning agent-infra.yaml:6 [unused-ignore]',
      'warning agent-infra.yaml:7 [unused-ignore]',
      'warning agent-infra.yaml:8 [unused-ignore]',
    ]);
    expect(said).toContain('info main.yaml:3 [unknown-key] ignored: launcher fields');
    expect(said).toContain('info main.yaml:6 [unknown-key] ignored: launcher fields');
  });

  it('refuses an entry without a reason or with a code that does not exist', () => {
    const said = run('    - {code: renamed-field}\n    - {code: no-such-code, reason: x}\n');
    expect(said.filter((s) => s.startsWith('error'))).toEqual([
      'error agent-infra.yaml:6 [invalid-spec]',
      'error agent-infra.yaml:7 [invalid-spec]',
    ]);
  });
});
