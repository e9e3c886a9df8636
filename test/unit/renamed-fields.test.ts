/**
 * Near misses said where they bite: a field older layouts named otherwise is read as today's and said
 * once per agent, a missing script_path names the near key the agent has, a near miss of another field
 * says which it may mean. Expected values by hand.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPipeline } from '../../lib/pipeline.ts';

function check(config: string) {
  const dir = mkdtempSync(join(tmpdir(), 'renamed-'));
  writeFileSync(join(dir, 'main.yaml'), config);
  const r = runPipeline({ machines: [{ name: 'mainpc', file: join(dir, 'main.yaml') }], cwd: dir });
  return {
    agents: Object.fromEntries(r.plan.agents.map((a) => [a.name, [a.scriptPath, a.healthPort.port]])),
    said: r.diagnostics
      .filter((d) => d.code !== 'code-not-read')
      .map((d) => `${d.severity} ${d.line} ${d.message} [${d.code}]`),
  };
}

describe('agent fields named otherwise', () => {
  it('reads script and health_port as script_path and health_check_port where those are absent, and says so', () => {
    const r = check(
      'agent_groups:\n  core:\n    A: {script: agents/a.py, port: 7400, health_check_port: 8400}\n    B: {script_path: agents/b.py, port: 7500, health_port: 8555}\n',
    );
    expect(r.agents).toEqual({ A: ['agents/a.py', 8400], B: ['agents/b.py', 8555] });
    expect(r.said).toEqual([
      "warning 3 agent 'A' has 'script' and no 'script_path': read as its script_path, as older layouts of the system wrote it; rename it [renamed-field]",
      "warning 4 agent 'B' has 'health_port' and no 'health_check_port': read as its health_check_port, as older layouts of the system wrote it; rename it [renamed-field]",
    ]);
  });

  it('keeps today’s field where both are written, and says the old one is ignored', () => {
    const r = check(
      'agent_groups:\n  core:\n    A: {script_path: agents/a.py, script: old.py, port: 7400, health_check_port: 8400}\n',
    );
    expect(r.agents).toEqual({ A: ['agents/a.py', 8400] });
    expect(r.said).toEqual(["info 3 unknown agent field 'script' is ignored [unknown-key]"]);
  });

  it('names the near miss in the error it causes, and in the port it changes', () => {
    const r = check(
      'agent_groups:\n  core:\n    A: {scirpt_path: agents/a.py, port: 7400, health_check_port: 8400}\n    B: {script_path: agents/b.py, port: 7500, health_chek_port: 8555, dependancies: []}\n',
    );
    expect(r.agents).toEqual({ B: ['agents/b.py', 8500] });
    expect(r.said).toEqual([
      "warning 3 agent 'A' has no script_path, so its container has nothing to start: it has 'scirpt_path': rename it to script_path [missing-field]",
      "warning 4 agent 'B' has no health_check_port, so the plan uses port + 1000 = 8500; it has 'health_chek_port': rename it to health_check_port if that is its health port [renamed-field]",
      "warning 4 unknown agent field 'dependancies' is ignored; did you mean 'dependencies'? [unknown-key]",
      'warning undefined 1 agent left out of what is deployed, 1 that cannot start and 0 blocked by them; missing-field: A; fix the problems above (reports/agents.md lists each with its line), or pass --strict to make any of them block everything [left-out]',
    ]);
  });
});
