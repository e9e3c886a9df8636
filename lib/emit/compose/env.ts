/** The value of each of an agent's variables in a compose file: literals, addresses, ports and secret references. */
import { composeLiteral } from '../../config/grammar.ts';
import { probeTarget, waitFor } from '../../contract/probe.ts';
import { DEFAULTS } from '../../config/defaults.ts';
import { agentIndex } from '../../plan/agent-index.ts';
import { byString } from '../../plan/names.ts';
import type { PlannedAgent, PlannedEnv, PlannedService, SystemPlan } from '../../plan/types.ts';
import { LOOPBACK, type Topology } from './topology.ts';

function serviceById(plan: SystemPlan, id: string): PlannedService {
  return plan.services.find((x) => x.id === id)!;
}

function envValue(plan: SystemPlan, t: Topology, agent: PlannedAgent, e: PlannedEnv): string {
  switch (e.kind) {
    case 'literal':
      // `$` would be interpolated by compose; the value is meant literally.
      return composeLiteral(e.value);
    case 'machine-address':
      return t.machineAddress(e.machine);
    case 'agent-host':
      return t.agentHost(agent, agentIndex(plan).get(e.agent)!);
    case 'port':
      return String(t.port(e));
    case 'bind-address':
      return t.bindAddress;
    case 'secret':
      // A reference to the variable of the shell or .env that runs compose; never a value.
      return `\${${e.secret}:-}`;
    case 'service-host':
      return t.serviceHost(agent, serviceById(plan, e.service));
    case 'service-url': {
      const s = serviceById(plan, e.service);
      return `${e.scheme}://${t.serviceHost(agent, s)}:${s.port}${e.path}`;
    }
    case 'health-target':
      return probeTarget(e.probe, LOOPBACK, t.port({ port: e.probe.port!, singleHostPort: e.probe.singleHostPort }))!;
  }
}

/** What an agent waits for before it starts: Redis answering a TCP connect, NATS's `/healthz`. */
function serviceReady(s: PlannedService, host: string): string {
  return s.kind === 'nats' ? `http://${host}:${s.monitorPort}/healthz` : `tcp://${host}:${s.port}`;
}

/** An agent's environment, sorted by name: its planned variables, the GPU mask and what the entrypoint waits for. */
export function agentEnvironment(plan: SystemPlan, t: Topology, agent: PlannedAgent): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of agent.env) env[e.name] = envValue(plan, t, agent, e);
  if (!t.reservesGpu(agent)) env['NVIDIA_VISIBLE_DEVICES'] = 'void';
  // Compose orders startup only within one project: the entrypoint waits for the rest.
  const waited = t.waited(agent);
  const services = t.waitedServices(agent);
  if (waited.length > 0 || services.length > 0) {
    const agents = agentIndex(plan);
    env['WAIT_FOR'] = [
      ...services.map((s) => serviceReady(s, t.serviceHost(agent, s))),
      ...(waited.length ? [waitFor(waited, (d) => t.agentHost(agent, agents.get(d.id)!), t.singleHostPorts)] : []),
    ].join(',');
    env['WAIT_TIMEOUT_SECONDS'] = String(DEFAULTS.waitTimeoutSeconds);
  }
  return Object.fromEntries(Object.entries(env).sort((a, b) => byString(a[0], b[0])));
}
