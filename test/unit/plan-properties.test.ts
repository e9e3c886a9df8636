/** Properties of the plan on random systems (fast-check). */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { AgentConfig, MachineConfig } from '../../lib/config/model.ts';
import { DeploymentSpecSchema } from '../../lib/config/spec.ts';
import { plan, SINGLE_HOST } from '../../lib/plan/plan.ts';
import { EMPTY_LOCK } from '../../lib/lock.ts';

const at = { file: 'gen.yaml', line: 1, column: 1, path: '' };

/** A random system: agents on two machines, ports from a small pool (so they clash), acyclic dependencies. */
const systemArb = fc
  .record({
    count: fc.integer({ min: 1, max: 40 }),
    seed: fc.array(
      fc.record({
        machine: fc.constantFrom('mainpc', 'pc2'),
        port: fc.integer({ min: 7000, max: 7030 }),
        health: fc.integer({ min: 7000, max: 7060 }),
        deps: fc.array(fc.nat(), { maxLength: 3 }),
      }),
      { minLength: 40, maxLength: 40 },
    ),
  })
  .map(({ count, seed }) => {
    const agents: AgentConfig[] = seed.slice(0, count).map((s, i) => ({
      name: `Agent${i}`,
      machine: s.machine,
      group: 'g',
      at,
      port: { value: s.port, at },
      healthCheckPort: { value: s.health, at, derived: false },
      extraPorts: [],
      required: true,
      // Only earlier agents: the graph is acyclic by construction.
      dependencies: i === 0 ? [] : [...new Set(s.deps.map((d) => `Agent${d % i}`))].map((value) => ({ value, at })),
      dockerGroups: [],
      cudaHint: false,
      secretRefs: [],
    }));
    return agents;
  });

const spec = DeploymentSpecSchema.parse({
  machines: {
    mainpc: {
      config: 'm.yaml',
      addressEnv: 'MAIN_PC_IP',
      ports: { onConflict: 'reassign', range: { start: 20000, end: 29999 } },
    },
    pc2: {
      config: 'p.yaml',
      addressEnv: 'PC2_IP',
      ports: { onConflict: 'reassign', range: { start: 30000, end: 39999 } },
    },
  },
});

const configs = (agents: readonly AgentConfig[]): MachineConfig[] =>
  ['mainpc', 'pc2'].map((machine) => ({
    machine,
    file: `${machine}.yaml`,
    layout: 'agent-groups' as const,
    agents: agents.filter((a) => a.machine === machine),
    settings: { environment: [], healthChecks: {}, portRanges: [], secretRefs: [] },
  }));

describe('plan properties', () => {
  it('after reassign no host has a port twice', () => {
    fc.assert(
      fc.property(systemArb, (agents) => {
        const p = plan(spec, configs(agents), EMPTY_LOCK);
        expect(p.diagnostics.filter((d) => d.code === 'port-conflict')).toEqual([]);
        for (const host of ['mainpc', 'pc2', SINGLE_HOST]) {
          const ports = p.portMap.filter((r) => r.host === host).map((r) => r.port);
          expect(new Set(ports).size).toBe(ports.length);
        }
        expect(p.portMap.filter((r) => r.host === SINGLE_HOST)).toHaveLength(
          p.portMap.filter((r) => r.host !== SINGLE_HOST).length,
        );
      }),
      { numRuns: 150 },
    );
  });

  it('starts every dependency at a lower level than its dependent', () => {
    fc.assert(
      fc.property(systemArb, (agents) => {
        const p = plan(spec, configs(agents), EMPTY_LOCK);
        const level = new Map(p.agents.map((a) => [a.id, a.startLevel]));
        for (const a of p.agents) for (const d of a.dependencies) expect(level.get(d.id)!).toBeLessThan(a.startLevel);
        expect(p.startLevels.flat().sort()).toEqual(p.agents.map((a) => a.id).sort());
      }),
      { numRuns: 150 },
    );
  });

  it('gives an identical plan for shuffled input', () => {
    fc.assert(
      fc.property(systemArb, fc.integer(), (agents, salt) => {
        const shuffled = [...agents]
          .map((a) => ({ a, k: Math.sin(salt + a.name.length * 31 + Number(a.name.slice(5))) }))
          .sort((x, y) => x.k - y.k)
          .map((x) => x.a);
        const reversedDeps = shuffled.map((a) => ({ ...a, dependencies: [...a.dependencies].reverse() }));
        expect(JSON.stringify(plan(spec, configs(reversedDeps), EMPTY_LOCK))).toBe(
          JSON.stringify(plan(spec, configs(agents), EMPTY_LOCK)),
        );
      }),
      { numRuns: 100 },
    );
  });

  it('keeps reassigned ports where the lock put them when an agent is added or removed', () => {
    fc.assert(
      fc.property(systemArb, fc.integer({ min: 7000, max: 7030 }), (agents, newPort) => {
        const first = plan(spec, configs(agents), EMPTY_LOCK);
        const added: AgentConfig = {
          ...agents[0]!,
          name: 'AAAFirstByName',
          port: { value: newPort, at },
          healthCheckPort: { value: newPort + 100, at, derived: false },
          dependencies: [],
        };
        const second = plan(spec, configs([...agents, added]), first.lock);
        const removed = plan(spec, configs(agents.slice(0, -1)), first.lock);
        const portsOf = (p: typeof first, host: string) =>
          new Map(p.portMap.filter((r) => r.host === host).map((r) => [`${r.agent}/${r.name}`, r.port]));
        for (const host of ['mainpc', 'pc2', SINGLE_HOST]) {
          const before = portsOf(first, host);
          for (const after of [portsOf(second, host), portsOf(removed, host)]) {
            for (const [k, v] of after) if (before.has(k)) expect([k, v]).toEqual([k, before.get(k)]);
          }
        }
      }),
      { numRuns: 100 },
    );
  });
});
