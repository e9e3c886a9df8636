/**
 * The firewall of each machine as files: an nftables ruleset (`nft -f`) and the same rules as ufw commands.
 * Both admit exactly the plan's firewall list (the ports another machine, or Prometheus, reaches) from the
 * address that reaches them, refuse every other port the machine's compose project publishes, and leave
 * every port agent-infra does not hand out (SSH, say) as it was.
 */
import type { SystemPlan } from '../../plan/types.ts';
import { PROMETHEUS } from '../../plan/phases/firewall.ts';
import { machineOf } from '../../plan/agent-index.ts';
import { oneLine } from '../../diagnostics.ts';

/** The variable holding the address of the host Prometheus runs on (`.env`, and `nft -D`). */
export const PROMETHEUS_ADDRESS_VAR = 'PROMETHEUS_IP';

/** Every TCP port the machine's two-PC compose project publishes: its agents' ports, Redis's and NATS's. */
export function publishedPorts(plan: SystemPlan, machine: string): number[] {
  const ports = new Set<number>();
  for (const a of plan.agents) if (a.machine === machine) for (const p of a.ports) if (!p.shadowed) ports.add(p.port);
  for (const s of plan.services)
    if (s.machine === machine) for (const p of [s.port, s.monitorPort]) if (p !== undefined) ports.add(p);
  return [...ports].sort((x, y) => x - y);
}

/** The address variable of a rule's source: a machine's `addressEnv`, or Prometheus's host. */
function sourceVar(plan: SystemPlan, from: string): string {
  return from === PROMETHEUS ? PROMETHEUS_ADDRESS_VAR : machineOf(plan, from).addressEnv;
}

interface Admission {
  readonly variable: string;
  readonly from: string;
  readonly ports: readonly number[];
  /** One line per port: who reaches it, and why. */
  readonly reasons: readonly string[];
}

/** The machine's rules grouped by source, in the plan's order (by source, then port). */
function admissions(plan: SystemPlan, machine: string): Admission[] {
  const bySource = new Map<string, { ports: number[]; reasons: string[] }>();
  for (const r of plan.firewall) {
    if (r.to !== machine) continue;
    const g = bySource.get(r.from) ?? { ports: [], reasons: [] };
    bySource.set(r.from, g);
    g.ports.push(r.port);
    g.reasons.push(`${r.port}/tcp ${r.agent}: ${oneLine(r.why)}`);
  }
  return [...bySource].map(([from, g]) => ({ from, variable: sourceVar(plan, from), ...g }));
}

/** The address variables a machine's ruleset needs (`nft -D NAME=address`), in the order of its rules. */
export function firewallDefines(plan: SystemPlan, machine: string): string[] {
  return variablesOf(admissions(plan, machine));
}

const variablesOf = (admitted: readonly Admission[]) => [...new Set(admitted.map((a) => a.variable))];

/** The nftables table of a machine: one per machine, so that one host can hold two machines' rules. */
export function nftTable(machine: string): string {
  return `agent_infra_${machine.replace(/[^A-Za-z0-9]/g, '_')}`;
}

const set = (ports: readonly number[]) => `{ ${ports.join(', ')} }`;

/** `firewall/<machine>.nft`: applied with `nft -D VAR=address ... -f`, idempotently (the table is replaced). */
export function nftRuleset(plan: SystemPlan, machine: string, header: string): string {
  const table = nftTable(machine);
  const admitted = admissions(plan, machine);
  const guarded = publishedPorts(plan, machine);
  const defines = variablesOf(admitted)
    .map((v) => `-D ${v}=<address>`)
    .join(' ');
  const out = [
    '#!/usr/sbin/nft -f',
    header,
    `# The firewall of ${machine}: it admits exactly the ports other hosts reach (the firewall list in reports/ports.md),`,
    `# each from the one address that reaches it, and refuses every other port ${machine}'s compose project publishes.`,
    '# Ports agent-infra does not hand out (SSH, say) are left as they are; so is traffic between the',
    "# machine's own containers. It filters before Docker's port forwarding, so it holds for published ports",
    '# whether Docker runs its iptables rules or its userland proxy. IPv4 addresses; IPv6 to these ports is refused.',
    `# Apply as root on ${machine}, with the addresses as in .env:`,
    `#   nft ${defines ? `${defines} ` : ''}-f firewall/${machine}.nft`,
    `# Applying again replaces the table; remove it with: nft delete table inet ${table}`,
    '',
    `table inet ${table}`,
    `delete table inet ${table}`,
    '',
    `table inet ${table} {`,
    `\t# Every port ${machine}'s compose project publishes (${guarded.length}).`,
    '\tset published {',
    '\t\ttype inet_service',
    ...(guarded.length ? [`\t\telements = ${set(guarded)}`] : []),
    '\t}',
    '',
    '\tchain ingress {',
    '\t\t# Before Docker rewrites the destination of a published port (its DNAT runs at priority -100).',
    '\t\ttype filter hook prerouting priority -150; policy accept;',
    '\t\tfib daddr type != local accept',
    '\t\tiif "lo" accept',
    '\t\tct state established,related accept',
  ];
  for (const a of admitted) {
    out.push('', `\t\t# From ${a.from} (${a.variable}):`, ...a.reasons.map((r) => `\t\t#   ${r}`));
    out.push(`\t\tip saddr $${a.variable} tcp dport ${set([...new Set(a.ports)])} accept`);
  }
  out.push(
    '',
    `\t\t# Nothing else reaches ${machine}'s published ports.`,
    '\t\ttcp dport @published counter drop',
    '\t}',
    '}',
    '',
  );
  return out.join('\n');
}

/** `firewall/<machine>.ufw.sh`: the same admissions as ufw commands, for hosts managed with ufw. */
export function ufwScript(plan: SystemPlan, machine: string, header: string): string {
  const admitted = admissions(plan, machine);
  const guarded = publishedPorts(plan, machine);
  const vars = variablesOf(admitted);
  const out = [
    '#!/bin/sh',
    header,
    `# The firewall of ${machine} as ufw commands: the same admissions as ${machine}.nft. Run as root on ${machine},`,
    `# with the addresses as in .env: ${vars.length ? vars.map((v) => `${v}=<address>`).join(' ') : ''} sh firewall/${machine}.ufw.sh`,
    '# ufw filters what the host itself receives. Docker forwards its published ports to the containers',
    '# (iptables DNAT, then its own FORWARD rules), which passes beside ufw: with Docker managing iptables,',
    `# apply ${machine}.nft, which filters before that forwarding, and keep these for ports on the host network.`,
    'set -eu',
    ...vars.map((v) => `: "\${${v}:?${v} must be set to the address of the host it names}"`),
  ];
  for (const a of admitted) {
    out.push('', `# From ${a.from} (${a.variable}):`, ...a.reasons.map((r) => `#   ${r}`));
    for (const p of [...new Set(a.ports)])
      out.push(`ufw allow proto tcp from "$${a.variable}" to any port ${p} comment 'agent-infra ${machine}'`);
  }
  out.push('', `# Nothing else reaches ${machine}'s published ports.`);
  for (const p of guarded) out.push(`ufw deny proto tcp from any to any port ${p} comment 'agent-infra ${machine}'`);
  out.push('');
  return out.join('\n');
}
