/** Firewall: the ports that another machine reaches, the only ones a machine must open to the network. */
import { byString } from '../names.ts';
import type { FirewallRule, PlannedAgent, PlannedService, SystemPlan } from '../types.ts';

/** The `from` of the rules for metrics ports: the host Prometheus runs on, which may be any. */
export const PROMETHEUS = 'prometheus';

/**
 * One rule per (from machine, to machine, port): an agent's cross-machine dependencies (their service
 * and health ports), the error bus, which every agent of every other machine reports to, and metrics
 * ports, which Prometheus scrapes from wherever it runs.
 */
export function firewallRules(
  agents: readonly PlannedAgent[],
  errorBus: SystemPlan['errorBus'],
  machines: readonly string[],
  services: readonly PlannedService[] = [],
): FirewallRule[] {
  const byId = new Map(agents.map((a) => [a.id, a]));
  const rules = new Map<string, FirewallRule>();
  const add = (from: string, target: { id: string; machine: string }, port: number, why: string) => {
    const key = `${from}>${target.machine}:${port}`;
    if (!rules.has(key)) rules.set(key, { from, to: target.machine, port, agent: target.id, why });
  };
  for (const a of agents) {
    for (const d of a.dependencies.filter((x) => x.crossMachine)) {
      const target = byId.get(d.id)!;
      add(a.machine, target, d.port, `${a.id} depends on it`);
      add(a.machine, target, d.healthPort, `${a.id} waits for its health`);
    }
  }
  // The scrape config names each machine: Prometheus reaches metrics ports from wherever it runs.
  for (const a of agents) if (a.metricsPort) add(PROMETHEUS, a, a.metricsPort.port, 'Prometheus scrapes its metrics');
  const bus = errorBus?.agent ? byId.get(errorBus.agent) : undefined;
  if (bus)
    for (const m of machines.filter((x) => x !== bus.machine))
      add(m, bus, bus.servicePort.port, 'every agent reports errors to it');
  // Peers found through discovery variables (SERVICE_REGISTRY_HOST...) and the infrastructure services.
  for (const a of agents) {
    for (const e of a.env) {
      if (e.kind !== 'agent-host') continue;
      const target = byId.get(e.agent);
      if (target && target.machine !== a.machine)
        add(a.machine, target, target.servicePort.port, `${a.id} finds it through ${e.name}`);
    }
    for (const s of services)
      if (s.machine !== a.machine && s.clients.includes(a.id)) {
        add(a.machine, s, s.port, `${a.id} uses ${s.kind}`);
        // Its entrypoint waits for NATS's /healthz on the monitor port before the agent starts.
        if (s.monitorPort !== undefined) add(a.machine, s, s.monitorPort, `${a.id} waits for ${s.kind}'s health`);
      }
  }
  return [...rules.values()].sort((x, y) => byString(x.from, y.from) || byString(x.to, y.to) || x.port - y.port);
}
