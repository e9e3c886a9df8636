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

/**
 * Every option the spec allows, drawn: each machine's onConflict (error or reassign) with or without a
 * range, health ports declared or derived (port + 1), and pc2's reserved error bus port.
 */
const optionsArb = fc.record({
  agents: systemArb,
  derived: fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
  mainpc: fc.record({
    onConflict: fc.constantFrom('error', 'reassign'),
    range: fc.option(fc.constant({ start: 7000, end: 7200 }), { nil: undefined }),
  }),
  pc2: fc.record({
    onConflict: fc.constantFrom('error', 'reassign'),
    range: fc.option(fc.constant({ start: 7000, end: 7200 }), { nil: undefined }),
  }),
  errorBus: fc.option(fc.integer({ min: 7000, max: 7030 }), { nil: undefined }),
});

describe('plan properties over every port option', () => {
  it('moves only where a machine reassigns, keeps reserved and declared ports over derived ones, and reports every clash it leaves', () => {
    fc.assert(
      fc.property(optionsArb, ({ agents, derived, mainpc, pc2, errorBus }) => {
        const drawn = agents.map((a, i) =>
          derived[i] ? { ...a, healthCheckPort: { value: a.port.value + 1, at, derived: true } } : a,
        );
        const s = DeploymentSpecSchema.parse({
          machines: {
            mainpc: {
              config: 'm.yaml',
              addressEnv: 'MAIN_PC_IP',
              ports: { onConflict: mainpc.onConflict, ...(mainpc.range ? { range: mainpc.range } : {}) },
            },
            pc2: {
              config: 'p.yaml',
              addressEnv: 'PC2_IP',
              ports: { onConflict: pc2.onConflict, ...(pc2.range ? { range: pc2.range } : {}) },
            },
          },
        });
        const cs = configs(drawn).map((c) =>
          c.machine === 'pc2' && errorBus !== undefined
            ? { ...c, settings: { ...c.settings, errorBusPort: { value: errorBus, at } } }
            : c,
        );
        const p = plan(s, cs, EMPTY_LOCK);
        const byMachine = { mainpc, pc2 };
        const rows = p.portMap.filter((r) => r.host !== SINGLE_HOST);
        for (const machine of ['mainpc', 'pc2'] as const) {
          const mine = rows.filter((r) => r.host === machine);
          const conflicts = p.diagnostics.filter(
            (d) =>
              d.code === 'port-conflict' &&
              d.message.includes(`machines.${machine}.ports`) &&
              !d.message.includes('single host'),
          );
          if (byMachine[machine].onConflict === 'error') {
            // No declared port moves on such a machine; a derived health port (ours to choose) may.
            const isDerived = (r: (typeof mine)[number]) =>
              r.role === 'health' && drawn.some((d) => d.name.toLowerCase() === r.agent && d.healthCheckPort.derived);
            for (const r of mine.filter((x) => !isDerived(x)))
              expect([r.agent, r.name, r.port]).toEqual([r.agent, r.name, r.declared]);
          } else {
            // Nothing is left clashing where ports can move, but where a range has no room.
            expect(
              new Set(mine.map((r) => r.port)).size === mine.length ||
                conflicts.some((d) => /no free port is left/.test(d.message)),
            ).toBe(true);
          }
          // A port two rows of the machine share is always reported.
          const seen = new Map<number, number>();
          for (const r of mine) seen.set(r.port, (seen.get(r.port) ?? 0) + 1);
          const shared = [...seen].filter(([, n]) => n > 1).map(([port]) => port);
          for (const port of shared) expect(conflicts.some((d) => d.message.startsWith(`port ${port} `))).toBe(true);
        }
        // The reserved error bus port never moves: an agent of pc2 that asks for it moves, or is reported.
        if (errorBus !== undefined) {
          for (const r of rows.filter((x) => x.host === 'pc2' && x.port === errorBus)) {
            expect(pc2.onConflict).toBe('error');
            expect(
              p.diagnostics.some(
                (d) =>
                  d.code === 'port-conflict' &&
                  d.message.startsWith(
                    `port ${errorBus} of ${p.agents.find((a) => a.id === r.agent)!.name} (${r.name}) is also used by 'error_bus_port'`,
                  ),
              ),
            ).toBe(true);
          }
        }
        // A port moves only because another port of its machine (or pc2's reserved one) asks for the same number.
        for (const r of rows) {
          if (r.port === r.declared) continue;
          const reservedThere = r.host === 'pc2' && r.declared === errorBus;
          expect(reservedThere || rows.some((o) => o !== r && o.host === r.host && o.declared === r.declared)).toBe(
            true,
          );
        }
      }),
      { numRuns: 150 },
    );
  });
});
