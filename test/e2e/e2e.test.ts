/**
 * The whole example on a real Docker engine, single-host mode: every agent healthy, cross-machine edges
 * reached through the address variables, no restart, memory within limits, startup against the
 * critical path, nothing left behind. Needs scripts/docker-engine.sh and scripts/base-images.sh.
 */
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { HAS_ENGINE } from '../docker-helpers.ts';
import { composeDoc, leftovers, runStack, type StackRun } from './stack.ts';

let run: StackRun;
const testRun = inject('dockerRun');

describe.skipIf(!HAS_ENGINE)('the example system on one Docker engine', () => {
  beforeAll(async () => {
    run = await runStack({ healthIntervalSeconds: 30, timeoutSeconds: 300, log: (l) => console.log(l), run: testRun });
    const { criticalPath, sequentialSeconds } = run.plan;
    console.log(`up -> all healthy ${run.seconds.toFixed(1)} s; critical path ${criticalPath.seconds} s (ratio ${(run.seconds / criticalPath.seconds).toFixed(2)}); sequential ${sequentialSeconds} s (ratio ${(run.seconds / sequentialSeconds).toFixed(2)})`);
  });

  it('runs on ports chosen at run time: every single-host port shifted by the offset it found free', () => {
    expect(run.portOffset).toBeGreaterThanOrEqual(10_000);
    const registry = run.plan.agents.find((a) => a.name === 'ServiceRegistry')!;
    // The example's config declares ServiceRegistry on ${PORT_OFFSET}+7200, health ${PORT_OFFSET}+8200.
    expect([registry.servicePort.singleHostPort, registry.healthPort.singleHostPort]).toEqual([7200 + run.portOffset, 8200 + run.portOffset]);
  });

  it('brings every agent of both machines up healthy', () => {
    expect(run.plan.agents.length).toBe(82);
    expect(run.agents.length).toBe(82);
    expect(run.agents.filter((a) => a.health !== 'healthy').map((a) => `${a.service}: ${a.health}`)).toEqual([]);
    expect(Number.isFinite(run.seconds)).toBe(true);
  });

  it('restarts nothing, and no agent failed to bind a port', () => {
    expect(run.agents.filter((a) => a.restarts > 0).map((a) => a.service)).toEqual([]);
    const bad = run.agents.filter((a) => /cannot bind|Traceback|gave up on/.test(a.logs));
    expect(bad.map((a) => `${a.service}: ${a.logs.split('\n').find((l) => /cannot bind|Traceback|gave up on|Error/.test(l))}`)).toEqual([]);
    expect(run.agents.every((a) => /agent-stub \w+: ready after/.test(a.logs))).toBe(true);
  });

  it('reaches every cross-machine dependency through MAIN_PC_IP / PC2_IP, and same-machine ones on loopback', () => {
    let cross = 0;
    let same = 0;
    for (const a of run.plan.agents) {
      const state = run.agents.find((s) => s.service === a.id)!;
      const env = composeDoc(run.composeFiles[a.machine]!).services[a.id]!.environment;
      for (const d of a.dependencies) {
        if (d.crossMachine) {
          const variable = run.plan.machines.find((m) => m.name === d.machine)!.addressEnv;
          expect(env[`${d.envPrefix}_HOST`]).toBe(`\${${variable}:-127.0.0.1}`);
          // The run sets the variables to `localhost`: the address in the log can only have come from them.
          expect(state.logs).toContain(`reached dependency ${d.envPrefix} at localhost:${d.singleHostPort}`);
          cross++;
        } else {
          expect(state.logs).toContain(`reached dependency ${d.envPrefix} at 127.0.0.1:${d.singleHostPort}`);
          same++;
        }
      }
    }
    expect(cross).toBe(1);
    expect(same).toBe(run.plan.agents.reduce((n, a) => n + a.dependencies.filter((d) => !d.crossMachine).length, 0));
    expect(same).toBeGreaterThan(100);
  });

  it('keeps every agent within its generated memory limit', () => {
    for (const a of run.agents) {
      const planned = run.plan.agents.find((p) => p.id === a.service)!;
      expect([a.service, a.memoryLimit]).toEqual([a.service, planned.resources.memoryMiB * 2 ** 20]);
      expect(a.memoryUsage).toBeGreaterThan(0);
      expect(a.memoryUsage).toBeLessThan(a.memoryLimit);
    }
  });

  it('starts the agents in parallel: all healthy sooner than their startup times one after the other', () => {
    // The ratio to the critical path is a figure for the benchmark (npm run bench:startup), not a test:
    // on a shared machine it moves with the load. Parallel start is the behaviour, and the sum of the
    // agents' startup seconds is about five times what a parallel start takes here.
    expect(run.seconds).toBeLessThan(run.plan.sequentialSeconds);
  });

  it('leaves no container, network or volume behind', async () => {
    expect(await leftovers(run.projects, testRun)).toEqual([]);
  });
});
