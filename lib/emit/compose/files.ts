/** The files beside the compose projects: `.env.example`, the Prometheus scrape config and the operators' README. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import { packageRoot } from '../../package-root.ts';
import type { SystemPlan } from '../../plan/types.ts';
import { toYaml } from '../../contract/yaml.ts';
import { oneLine } from '../../diagnostics.ts';
import { DOCKER_GID_VAR, IMAGE_REGISTRY_VAR, IMAGE_TAG_VAR, MODELS_DIR_VAR } from './service.ts';

export function envExample(plan: SystemPlan, header: string): string {
  const lines = [header, '# Values for docker-compose: copy to .env beside the compose files and fill in.'];
  for (const m of plan.machines)
    lines.push(
      `# Address (or host name) of ${m.name}, reachable from the other machines.`,
      `${m.addressEnv}=${m.name}.local`,
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

export function prometheus(plan: SystemPlan, header: string): string {
  const scrape = plan.agents
    .filter((a) => a.metricsPort)
    .map((a) => ({
      job_name: a.id,
      metrics_path: '/metrics',
      static_configs: [
        { targets: [`${a.machine}:${a.metricsPort!.port}`], labels: { agent: a.name, machine: a.machine } },
      ],
    }));
  const machines = plan.machines.map((m) => m.name).join(' and ');
  return `${header}\n# Targets name each machine by its agent-infra name: resolve ${machines} in DNS or /etc/hosts where Prometheus runs.\n${toYaml({ global: { scrape_interval: '30s' }, scrape_configs: scrape })}`;
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
    machines: plan.machines.map((m) => ({ name: m.name, addressEnv: m.addressEnv })),
  });
}
