/** The synth run as users start it: `npx cdk8s synth` (main.ts) and `agent-infra synth`. */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, ROOT } from '../helpers.ts';

function cdk8sSynth(cwd: string, env: NodeJS.ProcessEnv) {
  const r = spawnSync(join(ROOT, 'node_modules', '.bin', 'cdk8s'), ['synth', '--check-upgrade=false'], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('synth', () => {
  it('writes dist through cdk8s synth, whose list of files names the final paths', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'out-')), 'dist');
    const r = cdk8sSynth(ROOT, { AGENT_INFRA_OUT: out, CDK8S_OUTPUT: out });
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(readdirSync(join(out, 'k8s')).sort()).toEqual([
      'README.md',
      'gpu-sharing.yaml',
      'kustomization.yaml',
      'mainpc.yaml',
      'pc2.yaml',
      'system.yaml',
    ]);
    expect(readdirSync(out).sort()).toEqual(['.agent-infra-files', 'compose', 'docker', 'k8s', 'reports']);
    const listed = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('  - '))
      .map((l) => l.slice(4));
    for (const f of ['gpu-sharing', 'kustomization', 'mainpc', 'pc2', 'system'])
      expect(listed).toContain(`${out}/k8s/${f}.yaml`);
    for (const f of listed) expect(existsSync(f)).toBe(true);
    expect(r.stdout).not.toContain('.k8s.yaml');
  });

  it('fails on a config error with the diagnostics of check, and the next run brings the last output back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'broken-'));
    cpSync(join(ROOT, 'examples', 'two-pc'), dir, { recursive: true });
    const env = {
      AGENT_INFRA_SPEC: join(dir, 'agent-infra.yaml'),
      AGENT_INFRA_OUT: join(dir, 'dist'),
      CDK8S_OUTPUT: join(dir, 'dist'),
    };
    const out = join(dir, 'dist');
    expect(cdk8sSynth(ROOT, env).code).toBe(0);
    writeFileSync(join(out, 'compose', '.env'), 'PORT_OFFSET=0\n');
    const cfg = join(dir, 'main_pc_code/config/startup_config.yaml');
    const good = readFileSync(cfg, 'utf8');
    writeFileSync(cfg, good.replace('      - ServiceRegistry\n', '      - ServiceRegistri\n'));
    const r = cdk8sSynth(ROOT, env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(
      /startup_config\.yaml:\d+ agent_groups\.foundation_services\.SystemDigitalTwin\.dependencies\[0\]: unknown agent 'ServiceRegistri'; did you mean 'ServiceRegistry'\? \[unknown-dependency\]/,
    );
    expect(r.stderr).toContain('nothing written');
    expect(r.stderr).toMatch(/ERROR: synthesis failed/);
    expect(r.stderr).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
    // The CLI removed its output folder (the link); the tree it showed is kept beside it.
    expect(existsSync(out)).toBe(false);
    const [kept] = readdirSync(join(dir, '.dist.versions'));
    expect(readFileSync(join(dir, '.dist.versions', kept!, 'compose', '.env'), 'utf8')).toBe('PORT_OFFSET=0\n');
    // agent-infra synth (or a fixed cdk8s synth) carries the user's file over again.
    writeFileSync(cfg, good);
    expect(cli(['synth', '--spec', join(dir, 'agent-infra.yaml'), '--out', out]).code).toBe(0);
    expect(readFileSync(join(out, 'compose', '.env'), 'utf8')).toBe('PORT_OFFSET=0\n');
    expect(readdirSync(join(dir, '.dist.versions'))).toHaveLength(1);
  });

  it('writes only the asked outputs with agent-infra synth --only', () => {
    const out = mkdtempSync(join(tmpdir(), 'only-'));
    const r = cli(['synth', '--spec', 'examples/two-pc/agent-infra.yaml', '--out', out, '--only', 'k8s']);
    expect(r.code).toBe(0);
    expect(readdirSync(out)).toEqual(['.agent-infra-files', 'k8s']);
    expect(cli(['synth', '--only', 'helm']).stderr).toMatch(
      /--only takes k8s, compose, docker, reports, got 'helm' \[usage\]/,
    );
  });

  it('writes the same bytes on a rerun', () => {
    const a = mkdtempSync(join(tmpdir(), 'a-'));
    const b = mkdtempSync(join(tmpdir(), 'b-'));
    expect(cli(['synth', '--spec', 'examples/two-pc/agent-infra.yaml', '--out', a]).code).toBe(0);
    expect(cli(['synth', '--spec', 'examples/two-pc/agent-infra.yaml', '--out', b]).code).toBe(0);
    for (const f of readdirSync(join(a, 'k8s')))
      expect(readFileSync(join(b, 'k8s', f), 'utf8')).toBe(readFileSync(join(a, 'k8s', f), 'utf8'));
    expect(existsSync(join(a, 'k8s', 'mainpc.yaml'))).toBe(true);
  });
});
