/** Port map: every port per host with its owner, for the reports and the firewall list. */
import { byString } from '../names.ts';
import type { PlannedAgent, PortMapRow } from '../types.ts';
import { SINGLE_HOST } from './port-assignment.ts';

export function portMap(agents: readonly PlannedAgent[]): PortMapRow[] {
  const rows: PortMapRow[] = [];
  for (const a of agents) {
    for (const p of a.ports) {
      rows.push({
        host: a.machine,
        port: p.port,
        agent: a.id,
        machine: a.machine,
        name: p.name,
        role: p.role,
        declared: p.declared,
      });
      if (p.singleHostPort !== undefined)
        rows.push({
          host: SINGLE_HOST,
          port: p.singleHostPort,
          agent: a.id,
          machine: a.machine,
          name: p.name,
          role: p.role,
          declared: p.declared,
        });
    }
  }
  return rows.sort((a, b) => byString(a.host, b.host) || a.port - b.port || byString(a.agent, b.agent));
}
