/** The files beside the compose projects: `.env.example`, the Prometheus scrape config and the operators' README. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import { packageRoot } from '../../package-root.ts';
import type { SystemPlan } from '../../plan/types.ts';
import { toYaml } from '../../contract/yaml.ts';
import { alertRules, scrapeConfig, type PrometheusLayout } from '../prometheus.ts';
import { oneLine } from '../../diagnostics.ts';
import { PROMETHEUS } from '../../plan/phases/firewall.ts';
import { firewallDefines, PROMETHEUS_ADDRESS_VAR } from './firewall.ts';
import { DOCKER_GID_VAR, IMAGE_REGISTRY_VAR, IMAGE_TAG_VAR, MODELS_DIR_VAR } from './service.ts';

export function envExample(plan: SystemPlan, header: string): string {
  const lines = [header, '# Values for docker-compose: copy to .env beside the compose files and fill in.'];
  for (const m of plan.machines)
    lines.push(
      `# Address (or host name) of ${m.name}, reachable from the other machines.`,
      `${m.addressEnv}=${m.name}.local`,
    );
  if (plan.firewall.some((r) => r.from === PROMETHEUS))
    lines.push(
      '# Address of the host Prometheus runs on: the firewall files (firewall/*.nft, *.ufw.sh) admit it to the metrics ports.',
      `${PROMETHEUS_ADDRESS_VAR}=`,
    );
  const offset = plan.portOffset;
  lines.push(
    `# Ports in the compose files were computed with PORT_OFFSET=${offset} from agent-infra.yaml; change it there and regenerate.`,
  );
  lines.push(`PORT_OFFSET=${offset}`);
  lines.push('# Where the images come from.', `${IMAGE_REGISTRY_VAR}=${plan.registry}`, `${IMAGE_TAG_VAR}=${plan.tag}`);
  lines.push('# Host folder with the models, mounted read-only at /app/models.', `${MODELS_DIR_VAR}=./models`);
  const socket = plan.agents.filter((a) => a.dockerSocket).map((a) => oneLine(a.name));
  if (socket.length)
    lines.push(
      `# The docker group's id (getent group docker): ${socket.join(', ')} get the engine's socket (dockerSocket: true), which is root on the host.`,
      `${DOCKER_GID_VAR}=`,
    );
  if (plan.secrets.length > 0) {
    lines.push('# Secrets: set them in the environment of docker-compose or here, never in a generated file.');
    for (const s of plan.secrets) lines.push(`${s}=`);
  }
  return `${lines.join('\n')}\n`;
}

/** A compose layout's prometheus.yml: the two-PC one names each machine, the single-host one scrapes loopback. */
export function prometheus(plan: SystemPlan, header: string, layout: PrometheusLayout = 'two-pc'): string {
  const machines = plan.machines.map((m) => m.name).join(' and ');
  const note =
    layout === 'two-pc'
      ? `# Targets name each machine by its agent-infra name: resolve ${machines} in DNS or /etc/hosts where Prometheus runs,\n# and give the firewall files that host's address (${PROMETHEUS_ADDRESS_VAR}). Redis and NATS export no Prometheus metrics of their own.`
      : '# Every machine on this host: each agent is scraped on 127.0.0.1 at its single-host port.';
  return `${header}\n${note}\n${toYaml(scrapeConfig(plan, layout))}`;
}

/** The alert rules beside prometheus.yml (`alerts.yml`). */
export function alerts(plan: SystemPlan, header: string): string {
  return `${header}\n${toYaml({ groups: alertRules(plan, 'compose') })}`;
}

let readmeTemplate: Handlebars.TemplateDelegate | undefined;

/** The operators' README, from `templates/compose-README.md.hbs`. */
export function readme(plan: SystemPlan, header: string): string {
  // strict: a missing context field is an error, not an empty string; noEscape: Markdown, not HTML.
  readmeTemplate ??= Handlebars.create().compile(
    readFileSync(join(packageRoot(), 'templates', 'compose-README.md.hbs'), 'utf8'),
    { strict: true, noEscape: true },
  );
  return readmeTemplate({
    header,
    name: plan.name,
    machines: plan.machines.map((m) => ({
      name: m.name,
      addressEnv: m.addressEnv,
      defines: firewallDefines(plan, m.name),
    })),
  });
}
