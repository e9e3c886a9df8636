/**
 * The construct library checks what a user's code gives it: a wrong plan or prop is an
 * AgentSystemError naming the field, never a TypeError from inside a chart. One test per construct.
 */
import { describe, expect, it } from 'vitest';
import { App, Chart } from 'cdk8s';
import {
  AgentSystem,
  AgentSystemError,
  AgentWorkload,
  GpuSharingChart,
  MachineChart,
  SystemChart,
} from '../../lib/index.ts';
import { InfrastructureService } from '../../constructs/infrastructure.ts';
import { runPipeline } from '../../lib/pipeline.ts';
import type { SystemPlan } from '../../lib/plan/types.ts';
import { EXAMPLE_SPEC, ROOT } from '../helpers.ts';

const plan = (): SystemPlan => runPipeline({ spec: EXAMPLE_SPEC, machines: [], cwd: ROOT }).plan;

/** The message of the AgentSystemError `build` throws (fails when it throws anything else). */
function refusal(build: () => unknown): string {
  try {
    build();
  } catch (e) {
    expect(e).toBeInstanceOf(AgentSystemError);
    return (e as Error).message;
  }
  throw new Error('no error was thrown');
}

const only = (line: string) => `the agent system has 1 error; run 'agent-infra check' for the whole report:\n  ${line}`;

describe('AgentSystem', () => {
  it('refuses a plan that is no plan, naming the fields', () => {
    const m = refusal(() => new AgentSystem(new App(), 'x', { plan: {} as SystemPlan }));
    expect(m).toMatch(/^the agent system has \d+ errors; run 'agent-infra check' for the whole report:\n/);
    expect(m).toContain('  plan.name: invalid input: expected string, received undefined [invalid-props]');
    expect(m).toContain('  plan.machines: invalid input: expected array, received undefined [invalid-props]');
    expect(m).toContain('  plan.agents: invalid input: expected array, received undefined [invalid-props]');
  });

  it('refuses an agent on a machine the plan does not have', () => {
    const p = plan();
    const bad = { ...p, agents: p.agents.map((a, i) => (i === 0 ? { ...a, machine: 'nope' } : a)) };
    expect(refusal(() => new AgentSystem(new App(), 'x', { plan: bad }))).toBe(
      only(
        `plan.agents[0].machine: machine 'nope' of agent '${p.agents[0]!.name}' is not a machine of the plan (it has mainpc, pc2) [invalid-props]`,
      ),
    );
  });

  it('builds from a plan planSystem made', () => {
    expect(new AgentSystem(new App(), 'x', { plan: plan() }).machineCharts.map((c) => c.node.id)).toEqual([
      'mainpc',
      'pc2',
    ]);
  });
});

describe('MachineChart', () => {
  it('refuses a machine the plan does not have', () => {
    expect(
      refusal(
        () =>
          new MachineChart(new App(), 'm', { plan: plan(), machine: 'nope', addressesConfigMap: 'a', secretName: 's' }),
      ),
    ).toBe(only("machine: the plan has no machine 'nope' (it has mainpc, pc2) [invalid-props]"));
  });

  it('refuses a plan without machines', () => {
    expect(
      refusal(
        () =>
          new MachineChart(new App(), 'm', {
            plan: { ...plan(), machines: [] },
            machine: 'mainpc',
            addressesConfigMap: 'a',
            secretName: 's',
          }),
      ),
    ).toBe(only('plan.machines: too small: expected array to have >=1 items [invalid-props]'));
  });
});

describe('SystemChart and GpuSharingChart', () => {
  it('refuse a namespace that is no DNS label', () => {
    const bad = { ...plan(), namespace: 'Not A Label' };
    const line = only(
      'plan.namespace: must be a dns label (lowercase letters, digits and -, at most 63) [invalid-props]',
    );
    expect(
      refusal(() => new SystemChart(new App(), 's', { plan: bad, addressesConfigMap: 'a', endpointsConfigMap: 'e' })),
    ).toBe(line);
    expect(
      refusal(() => new GpuSharingChart(new App(), 'g', { plan: bad, devicePluginNamespace: 'n', configMapName: 'c' })),
    ).toBe(line);
  });
});

describe('AgentWorkload and InfrastructureService', () => {
  it('refuse an agent or service without the fields they build from', () => {
    const p = plan();
    const chart = new Chart(new App(), 'c');
    const agent = { ...p.agents[0]!, healthPort: undefined } as unknown as SystemPlan['agents'][number];
    expect(
      refusal(
        () =>
          new AgentWorkload(chart, 'w', {
            agent,
            system: p.name,
            user: p.user,
            addressesConfigMap: 'a',
            secretName: 's',
            namespace: p.namespace,
          }),
      ),
    ).toBe(only('agent.healthPort: invalid input: expected object, received undefined [invalid-props]'));
    expect(
      refusal(
        () =>
          new AgentWorkload(chart, 'w2', {
            agent: p.agents[0]!,
            system: '',
            user: p.user,
            addressesConfigMap: 'a',
            secretName: 's',
            namespace: p.namespace,
          }),
      ),
    ).toBe(only('props.system: too small: expected string to have >=1 characters [invalid-props]'));
    const service = { ...p.services[0]!, port: 70000 };
    expect(refusal(() => new InfrastructureService(chart, 'i', { service, system: p.name }))).toBe(
      only('service.port: too big: expected number to be <=65535 [invalid-props]'),
    );
  });
});
