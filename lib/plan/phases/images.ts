/** Images: the image families in use, with the source folders their agents need. */
import { DEFAULT_IMAGES, ImageFamilySchema, type DeploymentSpec } from '../../config/spec.ts';
import { byString } from '../names.ts';
import type { PlannedAgent, PlannedImage } from '../types.ts';

/** `closures`: per agent (`machine/name`), the local files its code needs, when the code was read. */
export function planImages(
  spec: DeploymentSpec,
  families: Readonly<Record<string, unknown>>,
  agents: readonly PlannedAgent[],
  closures?: ReadonlyMap<string, readonly string[]>,
): PlannedImage[] {
  const images: PlannedImage[] = [];
  for (const fam of [...new Set(agents.map((a) => a.family))].sort(byString)) {
    const f = ImageFamilySchema.parse(Object.hasOwn(families, fam) ? families[fam] : DEFAULT_IMAGES['cpu']);
    const members = agents.filter((a) => a.family === fam);
    const dirs = new Set<string>();
    for (const a of members) if (a.scriptPath && a.scriptPath.includes('/')) dirs.add(a.scriptPath.split('/')[0]!);
    for (const d of f.sharedDirs) dirs.add(d);
    const slowest = Math.max(...members.map((a) => a.startupSeconds), 1);
    const files = closures
      ? [...new Set(members.flatMap((a) => closures.get(`${a.machine}/${a.name}`) ?? []))].sort(byString)
      : [];
    images.push({
      family: fam,
      image: `${spec.registry}/${fam}:${spec.tag}`,
      gpu: f.gpu,
      builderBase: f.builderBase,
      runtimeBase: f.runtimeBase,
      buildPackages: [...f.buildPackages].sort(byString),
      runtimePackages: [...f.runtimePackages].sort(byString),
      requirements: f.requirements,
      ...(f.pip ? { pip: f.pip } : {}),
      sourceDirs: [...dirs].sort(byString),
      agents: members.map((a) => a.id),
      // The image's own check, for `docker run` without compose: after twice the slowest start, plus 10 s.
      health: { intervalSeconds: 10, timeoutSeconds: 3, startPeriodSeconds: slowest * 2 + 10, retries: 3 },
      ...(files.length ? { sourceFiles: files } : {}),
      ...(f.maxSizeMiB !== undefined ? { maxSizeMiB: f.maxSizeMiB } : {}),
      systemSitePackages: f.systemSitePackages ?? false,
    });
  }
  return images;
}
