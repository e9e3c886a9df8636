/** Dockerfiles: one multi-stage Dockerfile per image family (and its naive single-stage twin), from handlebars templates. Pure. */
import { packageRoot } from '../package-root.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import type { PlannedImage, SystemPlan } from '../plan/types.ts';
import { headerLine } from '../contract/yaml.ts';

const TEMPLATES = join(packageRoot(), 'templates');
/** Scripts every image carries; the compose and Kubernetes outputs rely on them. */
export const IMAGE_SCRIPTS = ['agent-infra-wait', 'agent-infra-entrypoint', 'agent-infra-health'] as const;

let compiled:
  | {
      dockerfile: Handlebars.TemplateDelegate;
      naive: Handlebars.TemplateDelegate;
      dockerignore: Handlebars.TemplateDelegate;
      scripts: { path: string; lines: string[] }[];
    }
  | undefined;

function templates() {
  if (compiled) return compiled;
  // strict: a missing context field is an error, not an empty string; noEscape: `&&` stays `&&`.
  const hb = Handlebars.create();
  for (const p of ['builder', 'runtime', 'scripts'])
    hb.registerPartial(p, readFileSync(join(TEMPLATES, 'partials', `${p}.hbs`), 'utf8'));
  const compile = (f: string) => hb.compile(readFileSync(join(TEMPLATES, f), 'utf8'), { strict: true, noEscape: true });
  compiled = {
    dockerfile: compile('Dockerfile.hbs'),
    naive: compile('naive.Dockerfile.hbs'),
    dockerignore: compile('dockerignore.hbs'),
    scripts: IMAGE_SCRIPTS.map(scriptLines),
  };
  return compiled;
}

/** A script as printf arguments: one single-quoted line each (a quote becomes '\''). */
function scriptLines(name: string): { path: string; lines: string[] } {
  const text = readFileSync(join(TEMPLATES, 'scripts', name), 'utf8');
  return {
    path: `/usr/local/bin/${name}`,
    lines: text
      .replace(/\n$/, '')
      .split('\n')
      .map((l) => l.replace(/'/g, `'\\''`)),
  };
}

const isPyproject = (file: string) => file === 'pyproject.toml' || file.endsWith('/pyproject.toml');

/** Everything a family's templates show, computed and sorted here: templates only loop and test. */
export function dockerfileContext(plan: SystemPlan, image: PlannedImage, input: string) {
  const pip = image.pip ?? {};
  return {
    header: headerLine(input),
    family: image.family,
    image: image.image,
    dockerfilePath: `dist/docker/${image.family}.Dockerfile`,
    agentCount: image.agents.length,
    builderBase: image.builderBase,
    runtimeBase: image.runtimeBase,
    buildPackages: image.buildPackages,
    runtimePackages: image.runtimePackages,
    allPackages: [...new Set([...image.buildPackages, ...image.runtimePackages])].sort(),
    hasRequirements: image.requirements.length > 0,
    requirements: image.requirements,
    requirementCopies: image.requirementCopies ?? image.requirements,
    // A pyproject.toml installs its [project] dependencies: the builder writes them beside it as a requirement file.
    pyprojects: image.requirements.filter(isPyproject),
    pipRequirements: image.requirements.map((r) => (isPyproject(r) ? `${r}.txt` : r)),
    // Build arguments pip reads from its environment; unset (no default, none passed) they are not set.
    pipArgs: [
      { name: 'PIP_INDEX_URL', value: pip.indexUrl ?? '' },
      { name: 'PIP_EXTRA_INDEX_URL', value: (pip.extraIndexUrls ?? []).join(' ') },
      { name: 'PIP_FIND_LINKS', value: (pip.findLinks ?? []).join(' ') },
    ],
    sourceDirs: image.sourceDirs,
    sourceFiles: image.sourceFiles ?? [],
    user: plan.user,
    labels: [
      { key: 'org.opencontainers.image.title', value: `${plan.name}-${image.family}` },
      { key: 'org.opencontainers.image.description', value: `agents of ${plan.name}, image family ${image.family}` },
      { key: 'org.opencontainers.image.version', value: plan.tag },
      { key: 'io.agent-infra.family', value: image.family },
      { key: 'io.agent-infra.gpu', value: String(image.gpu) },
    ],
    scripts: templates().scripts,
    health: image.health,
    venvOptions: image.systemSitePackages ? ' --system-site-packages' : '',
  };
}

/** `docker/<family>.Dockerfile`, `docker/<family>.naive.Dockerfile` and `docker/.dockerignore`. */
export function emitDockerfiles(plan: SystemPlan, input: string): Map<string, string> {
  const t = templates();
  const files = new Map<string, string>();
  for (const image of plan.images) {
    const ctx = dockerfileContext(plan, image, input);
    files.set(`docker/${image.family}.Dockerfile`, t.dockerfile(ctx));
    files.set(`docker/${image.family}.naive.Dockerfile`, t.naive(ctx));
  }
  files.set('docker/.dockerignore', t.dockerignore({ header: headerLine(input) }));
  return files;
}
