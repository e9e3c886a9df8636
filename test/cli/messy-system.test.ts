/**
 * A first run on a partly broken system, as a user makes it: `init`, `check` and `synth` in a fresh
 * folder holding the messy fixture system (test/fixtures/messy-system/README.md lists what is wrong with
 * it). What can run is deployed, what cannot is named once with its reason, the text fits a screen, a
 * baseline hides what is known and shows what is new, and `--strict` refuses everything and writes nothing.
 * Expected agents by hand from the fixture's README.
 */
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { cli, messyRepo, STACK, treeHash } from '../helpers.ts';

const DEPLOYED = {
  mainpc: ['chitchat-agent', 'legacy-timer', 'nested-worker', 'service-registry', 'system-digital-twin'],
  pc2: ['memory-agent'],
};
const LEFT_OUT = [
  'ReportAgent blocked main_pc_code/agents/translator.py SummaryAgent>Translator',
  'ScratchPad cannot-start unprobeable-port pc2_code/agents/scratch_pad.py:5',
  'SummaryAgent blocked main_pc_code/agents/translator.py Translator',
  'Translator cannot-start script-syntax-error main_pc_code/agents/translator.py:11',
  // Its script_path line in pc2's config, where the fix goes.
  'TutoringAgent cannot-start missing-script pc2_code/config/startup_config.yaml:19',
  'VisionBridge cannot-start missing-module main_pc_code/agents/vision_bridge.py:5',
];

interface LeftOut {
  name: string;
  reason: string;
  code: string;
  file: string;
  line: number;
  chain: string[];
}

describe('a first run on the messy system, in a fresh folder', () => {
  const repo = messyRepo(mkdtempSync(join(tmpdir(), 'messy-')));
  const run = (args: string[]) => {
    const r = cli(args, repo);
    expect(r.stderr + r.stdout).not.toMatch(STACK);
    return r;
  };
  let init: ReturnType<typeof cli>;
  beforeAll(() => {
    init = run(['init']);
  });

  it('init writes a spec that reads the code, and says the next step that works here', () => {
    expect(init.code, init.stderr).toBe(0);
    expect(readFileSync(join(repo, 'agent-infra.yaml'), 'utf8')).toMatch(/^source: "\."/m);
    expect(init.stdout + init.stderr).toContain('npx agent-infra check');
  });

  it('check exits 0, leaves out exactly the agents that cannot run, and fits a screen', () => {
    const text = run(['check']);
    expect(text.code, text.stderr).toBe(0);
    const lines = `${text.stderr}${text.stdout}`.trimEnd().split('\n');
    expect(lines.length).toBeLessThanOrEqual(40);
    expect(text.stdout).toContain('6 agents on 2 machines; 6 left out (4 cannot start, 2 blocked)');
    const j = JSON.parse(run(['check', '--format', 'json']).stdout) as {
      plan: { agents: { id: string; machine: string }[]; leftOut: LeftOut[] };
      diagnostics: { code: string; severity: string; message: string }[];
    };
    const left = j.plan.leftOut.map((l) =>
      l.reason === 'blocked'
        ? `${l.name} blocked ${l.file} ${l.chain.join('>')}` // the problem at the end of the chain
        : `${l.name} cannot-start ${l.code} ${l.file}:${l.line}`,
    );
    expect(left.sort()).toEqual(LEFT_OUT);
    expect(j.plan.agents.map((a) => `${a.machine}/${a.id}`).sort()).toEqual(
      Object.entries(DEPLOYED).flatMap(([m, ids]) => ids.map((id) => `${m}/${id}`)),
    );
    // The near miss and the misplaced group are said, and neither leaves its agent out.
    const said = (code: string) => j.diagnostics.filter((d) => d.code === code).map((d) => d.message);
    expect(said('renamed-field')).toEqual([
      "agent 'LegacyTimer' has 'script' and no 'script_path': read as its script_path, as older layouts of the system wrote it; rename it",
    ]);
    expect(said('misplaced-group')[0]).toMatch(/^'batch_workers' sits inside group 'language_services'/);
    expect(j.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  });

  it('synth exits 0 and writes services for exactly the runnable agents', () => {
    const r = run(['synth', '--out', 'dist']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('for 6 agents');
    for (const [m, ids] of Object.entries(DEPLOYED)) {
      const doc = parse(readFileSync(join(repo, 'dist', 'compose', `docker-compose.${m}.yml`), 'utf8')) as {
        services: Record<string, unknown>;
      };
      const agents = Object.keys(doc.services).filter((s) => s !== 'redis' && s !== 'nats');
      expect(agents.sort()).toEqual(ids);
      const k8s = readFileSync(join(repo, 'dist', 'k8s', `${m}.yaml`), 'utf8');
      const deployments = [...k8s.matchAll(/^kind: Deployment\nmetadata:\n(?: {2}.*\n)*? {2}name: (\S+)$/gm)].map(
        (x) => x[1],
      );
      expect(deployments.filter((d) => d !== 'redis' && d !== 'nats').sort()).toEqual(ids);
    }
    const report = readFileSync(join(repo, 'dist', 'reports', 'agents.md'), 'utf8');
    for (const name of ['Translator', 'VisionBridge', 'ScratchPad', 'TutoringAgent', 'SummaryAgent', 'ReportAgent'])
      expect(report).toContain(`| ${name} |`);
  });

  it('a baseline hides the known problems and shows a new one', () => {
    const w = run(['check', '--write-baseline']);
    expect(w.code).toBe(0);
    const config = join(repo, 'pc2_code', 'config', 'startup_config.yaml');
    const before = readFileSync(config, 'utf8');
    writeFileSync(
      config,
      `${before}  - name: WeatherAgent\n    script_path: pc2_code/agents/weather.py\n    port: 7440\n    health_check_port: 8440\n`,
    );
    try {
      const r = run(['check']);
      expect(r.code).toBe(0);
      const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning '));
      // The new agent's missing script, and the left-out summary (which changed with it).
      expect(warnings).toHaveLength(2);
      // The agent's script_path: the line after the two the test appended its name on.
      const line = before.split('\n').length + 1;
      expect(warnings[0]).toContain(
        `pc2_code/config/startup_config.yaml:${line} pc2_services[4].script_path: WeatherAgent's script pc2_code/agents/weather.py does not exist`,
      );
      expect(warnings[1]).toMatch(/^warning 7 agents left out of what is deployed.*\[left-out\]$/);
      expect(r.stderr).toMatch(/\(\d+ known problems of the baseline agent-infra\.baseline\.json not shown/);
    } finally {
      writeFileSync(config, before);
    }
  });

  it('--strict exits 1 and writes nothing', () => {
    const check = run(['check', '--strict']);
    expect(check.code).toBe(1);
    expect(check.stderr).toMatch(/^error main_pc_code\/agents\/translator\.py:11: /m);
    const fresh = join(repo, 'strict-out');
    const s = run(['synth', '--strict', '--out', fresh]);
    expect(s.code).toBe(1);
    expect(existsSync(fresh)).toBe(false);
    const before = treeHash(join(repo, 'dist'));
    expect(run(['synth', '--strict', '--out', 'dist']).code).toBe(1);
    expect(treeHash(join(repo, 'dist'))).toBe(before);
  });
});
