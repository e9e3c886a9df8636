/** The synth run as users start it: `npx cdk8s synth` (main.ts) and `agent-infra synth`. */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, ROOT } from '../helpers.ts';

function cdk8sSynth(cwd: string, env: NodeJS.ProcessEnv) {
  const r = spawnSync(join(ROOT, 'node_modules', '.bin', 'cdk8s'), ['synth', '--check-upgrade=false'], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('synth', () => {
  it('writes dist/k8s through cdk8s synth, and the cdk8s output folder too', () => {
    const out = mkdtempSync(join(tmpdir(), 'out-'));
    const r = cdk8sSynth(ROOT, { AGENT_INFRA_OUT: out, CDK8S_OUTPUT: join(out, '.cdk8s') });
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(readdirSync(join(out, 'k8s')).sort()).toEqual(['gpu-sharing.yaml', 'kustomization.yaml', 'mainpc.yaml', 'pc2.yaml', 'system.yaml']);
    expect(readdirSync(join(out, '.cdk8s')).sort()).toEqual(['gpu-sharing.k8s.yaml', 'mainpc.k8s.yaml', 'pc2.k8s.yaml', 'system.k8s.yaml']);
    expect(r.stdout).toContain('.cdk8s/mainpc.k8s.yaml');
  });

  it('fails on a config error with the diagnostics of check and leaves the output as it was', () => {
    const dir = mkdtempSync(join(tmpdir(), 'broken-'));
    cpSync(join(ROOT, 'examples', 'two-pc'), dir, { recursive: true });
    const cfg = join(dir, 'main_pc_code/config/startup_config.yaml');
    writeFileSync(cfg, readFileSync(cfg, 'utf8').replace('      - ServiceRegistry\n', '      - ServiceRegistri\n'));
    const out = join(dir, 'dist');
    mkdirSync(join(out, 'k8s'), { recursive: true });
    writeFileSync(join(out, 'k8s', 'previous.yaml'), 'kind: Previous\n');
    const r = cdk8sSynth(ROOT, { AGENT_INFRA_SPEC: join(dir, 'agent-infra.yaml'), AGENT_INFRA_OUT: out, CDK8S_OUTPUT: join(dir, 'dist', '.cdk8s') });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/startup_config\.yaml:\d+ agent_groups\.foundation_services\.SystemDigitalTwin\.dependencies\[0\]: unknown agent 'ServiceRegistri'; did you mean 'ServiceRegistry'\? \[unknown-dependency\]/);
    expect(r.stderr).toContain("nothing written");
    expect(r.stderr).toMatch(/ERROR: synthesis failed/);
    expect(readdirSync(join(out, 'k8s'))).toEqual(['previous.yaml']);
    expect(r.stderr).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
  });

  it('writes only the asked outputs with agent-infra synth --only', () => {
    const out = mkdtempSync(join(tmpdir(), 'only-'));
    const r = cli(['synth', '--spec', 'examples/two-pc/agent-infra.yaml', '--out', out, '--only', 'k8s']);
    expect(r.code).toBe(0);
    expect(readdirSync(out)).toEqual(['.agent-infra-files', 'k8s']);
    expect(cli(['synth', '--only', 'helm']).stderr).toMatch(/--only takes k8s, compose, docker, reports, got 'helm' \[usage\]/);
  });

  it('writes the same bytes on a rerun', () => {
    const a = mkdtempSync(join(tmpdir(), 'a-'));
    const b = mkdtempSync(join(tmpdir(), 'b-'));
    expect(cli(['synth', '--spec', 'examples/two-pc/agent-infra.yaml', '--out', a]).code).toBe(0);
    expect(cli(['synth', '--spec', 'examples/two-pc/agent-infra.yaml', '--out', b]).code).toBe(0);
    for (const f of readdirSync(join(a, 'k8s'))) expect(readFileSync(join(b, 'k8s', f), 'utf8')).toBe(readFileSync(join(a, 'k8s', f), 'utf8'));
    expect(existsSync(join(a, 'k8s', 'mainpc.yaml'))).toBe(true);
  });
});
