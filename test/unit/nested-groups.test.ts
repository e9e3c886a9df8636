/** A group indented inside another group: its agents are planned, and the nesting is reported. */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { runPipeline } from '../../lib/pipeline.ts';
import { ROOT } from '../helpers.ts';
import { runInProcess } from '../in-process.ts';

const DIR = join(ROOT, 'test', 'fixtures', 'nested-groups');
const fixture = (name: string) => join(DIR, `${name}.yaml`);
const planOf = (name: string) => runPipeline({ machines: [{ name: 'mainpc', file: fixture(name) }], cwd: DIR });
/** name -> group of every planned agent. */
const groups = (name: string) => Object.fromEntries(planOf(name).plan.agents.map((a) => [a.name, a.group]));
const misplaced = (name: string) =>
  planOf(name)
    .diagnostics.filter((d) => d.code === 'misplaced-group')
    .map((d) => [d.line, d.path, d.message]);

describe('nested groups', () => {
  it('plans both agents of a group nested one level deep as agents of that group', () => {
    expect(groups('01-one-level')).toEqual({
      ServiceRegistry: 'foundation_services',
      CodeGenerator: 'utility_services',
      Executor: 'utility_services',
    });
    expect(misplaced('01-one-level')).toEqual([
      [
        8,
        'agent_groups.foundation_services.utility_services',
        "'utility_services' sits inside group 'foundation_services' but holds agents (CodeGenerator, Executor); its agents are read as the group 'utility_services': dedent it to sit beside 'foundation_services' directly under agent_groups",
      ],
    ]);
    // The nested agents keep their dependencies: Executor starts after CodeGenerator, after ServiceRegistry.
    expect(planOf('01-one-level').plan.startLevels).toEqual([['service-registry'], ['code-generator'], ['executor']]);
  });

  it('reads a group nested two levels deep, with one warning per nesting', () => {
    expect(groups('02-two-levels')).toEqual({
      ServiceRegistry: 'foundation_services',
      CodeGenerator: 'utility_services',
      WakeWordDetector: 'speech_tools',
      SessionMemoryAgent: 'memory_system',
    });
    expect(misplaced('02-two-levels')).toEqual([
      [
        4,
        'agent_groups.foundation_services.utility_services',
        "'utility_services' sits inside group 'foundation_services' but holds agents (CodeGenerator); its agents are read as the group 'utility_services': dedent it to sit beside 'foundation_services' directly under agent_groups",
      ],
      [
        6,
        'agent_groups.foundation_services.utility_services.speech_tools',
        "'speech_tools' sits inside group 'utility_services' (itself inside 'foundation_services') but holds agents (WakeWordDetector); its agents are read as the group 'speech_tools': dedent it to sit beside 'foundation_services' directly under agent_groups",
      ],
    ]);
  });

  it('tells a nested group named like an agent from the agent of that name', () => {
    expect(groups('03-named-like-an-agent')).toEqual({
      ServiceRegistry: 'foundation_services',
      CommandRunner: 'Executor',
      Executor: 'utility_services',
    });
    const r = planOf('03-named-like-an-agent');
    expect(r.diagnostics.filter((d) => d.code === 'duplicate-agent')).toEqual([]);
    expect(r.plan.agents.find((a) => a.name === 'Executor')!.dependencies.map((d) => d.name)).toEqual([
      'CommandRunner',
    ]);
  });

  it('reports an empty nested group without inventing an agent for it', () => {
    expect(groups('04-empty')).toEqual({ ServiceRegistry: 'foundation_services', SessionMemoryAgent: 'memory_system' });
    expect(misplaced('04-empty')).toEqual([
      [
        4,
        'agent_groups.foundation_services.utility_services',
        "'utility_services' sits inside group 'foundation_services' but holds no agents; it is read as an empty group 'utility_services': dedent it to sit beside 'foundation_services' directly under agent_groups",
      ],
    ]);
    expect(planOf('04-empty').diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  });

  it('still fails a member that is neither an agent nor a group of agents', () => {
    // A PascalCase member with an empty definition is an agent without a port, as before.
    const r = runPipeline({
      machines: [{ name: 'mainpc', file: join(ROOT, 'test', 'fixtures', 'invalid', '13-agent-without-port.yaml') }],
      cwd: DIR,
    });
    expect(r.diagnostics.map((d) => d.code)).toContain('invalid-value');
    expect(r.diagnostics.map((d) => d.code)).not.toContain('misplaced-group');
  });

  it.each([
    ['01-one-level', 3],
    ['02-two-levels', 4],
    ['03-named-like-an-agent', 3],
    ['04-empty', 2],
  ])('counts every agent of %s in check (%i) and exits 0 without a stack trace', async (name, agents) => {
    const r = await runInProcess(['check', '--machine', `mainpc=${fixture(name)}`, '--format', 'json']);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/\bat .+:\d+:\d+\)?$/m);
    const j = JSON.parse(r.stdout) as { machines: { agents: number }[]; plan: { agents: unknown[] } };
    expect([j.machines[0]!.agents, j.plan.agents.length]).toEqual([agents, agents]);
  });
});
