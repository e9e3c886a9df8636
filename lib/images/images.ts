/** `agent-infra images`: builds every image family on a real engine (dockerode), measures and compares them. */
import Docker from 'dockerode';
import { Agent } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { PlannedImage, SystemPlan } from '../plan/types.ts';
import { debianPythonPackages } from '../config/spec.ts';
import { contextTar } from './context.ts';
import { analyzeSavedImage, sharing, type ImageAnalysis } from './layers.ts';

export interface BuildOptions {
  readonly context: string;
  /** Base image substitutions, e.g. python:3.11-slim-bookworm -> a local image. */
  readonly baseMap: Readonly<Record<string, string>>;
  /** More build arguments for every build (`PIP_INDEX_URL`...), as `docker build --build-arg` gives them. */
  readonly buildArgs?: Readonly<Record<string, string>>;
  readonly noCache: boolean;
  readonly naive: boolean;
  /** With `naive`: build the naive twin of these families only. @default - every family built */
  readonly naiveFamilies?: readonly string[];
  /** Labels set on every image built, beside those of the Dockerfile. */
  readonly labels?: Readonly<Record<string, string>>;
  readonly families?: readonly string[];
  /** Progress lines go here. */
  readonly log: (line: string) => void;
}

/** One instruction of a build, and whether the engine took its layer from the cache. */
export interface BuildStep {
  readonly instruction: string;
  readonly cached: boolean;
}

export interface FamilyResult {
  readonly family: string;
  readonly image: string;
  readonly imageId: string;
  readonly sizeBytes: number;
  readonly layers: number;
  readonly wastedBytes: number;
  readonly wastedRatio: number;
  readonly buildSeconds: number;
  /** Each instruction of the build, and whether its layer came from the cache. */
  readonly steps: readonly BuildStep[];
  readonly user: string;
  readonly maxSizeMiB?: number;
  readonly naive?: {
    readonly image: string;
    readonly sizeBytes: number;
    readonly buildSeconds: number;
    readonly wastedBytes: number;
  };
  /** Optimized size divided by naive size; absent where the family installs no Python package (a ratio of nothing). */
  readonly ratioToNaive?: number;
  /** What the family installs into its environment: requirement files, Debian python3 packages it sees. */
  readonly installs: { readonly requirementFiles: number; readonly debianPython: readonly string[] };
  readonly analysis: ImageAnalysis;
}

export interface ImagesReport {
  readonly system: string;
  readonly families: readonly FamilyResult[];
  /** Distinct layer bytes across the family images against the sum of their sizes. */
  readonly sharing: { readonly sumBytes: number; readonly uniqueBytes: number; readonly ratio: number };
}

/**
 * A client of the engine at DOCKER_SOCKET (default /var/run/docker.sock). One connection per request:
 * with Node's keep-alive default, a connection the engine closed while this process was busy (a
 * synchronous build, a loaded machine) was reused and the request failed with EPIPE.
 */
export function docker(): Docker {
  return new Docker({
    socketPath: process.env['DOCKER_SOCKET'] ?? '/var/run/docker.sock',
    agent: new Agent({ keepAlive: false }),
  } as Docker.DockerOptions);
}

/** Builds one Dockerfile from the context; resolves with the built image's inspection and the seconds it took. */
export async function buildImage(
  d: Docker,
  o: {
    context: string;
    dockerignore: string;
    dockerfile: string;
    dockerfileText: string;
    tag: string;
    buildargs: Record<string, string>;
    noCache: boolean;
    log: (l: string) => void;
    label: string;
    labels?: Readonly<Record<string, string>>;
  },
): Promise<{ info: Docker.ImageInspectInfo; seconds: number; steps: BuildStep[] }> {
  const { stream } = contextTar(
    o.context,
    o.dockerignore,
    new Map([
      [o.dockerfile, o.dockerfileText],
      ['.dockerignore', o.dockerignore],
    ]),
  );
  const t0 = performance.now();
  const steps: BuildStep[] = [];
  const progress = await d.buildImage(stream, {
    t: o.tag,
    dockerfile: o.dockerfile,
    buildargs: o.buildargs,
    networkmode: 'host',
    nocache: o.noCache,
    rm: true,
    forcerm: true,
    pull: false,
    ...(o.labels && Object.keys(o.labels).length ? { labels: o.labels } : {}),
  } as Docker.ImageBuildOptions);
  const events = await new Promise<Record<string, unknown>[]>((resolve, reject) =>
    d.modem.followProgress(
      progress,
      (err: Error | null, res: Record<string, unknown>[]) => (err ? reject(err) : resolve(res)),
      (e: Record<string, unknown>) => {
        if (typeof e['stream'] !== 'string') return;
        const step = /^Step \d+\/\d+ : (.*)/.exec(e['stream']);
        if (step) {
          steps.push({ instruction: step[1]!.trim().slice(0, 160), cached: false });
          o.log(`[${o.label}] ${e['stream'].trim().slice(0, 160)}`);
        } else if (/^ ---> Using cache/.test(e['stream']) && steps.length)
          steps[steps.length - 1] = { ...steps.at(-1)!, cached: true };
      },
    ),
  );
  const failed = events.find((e) => e['error']);
  if (failed) throw new Error(`building ${o.label} failed: ${String(failed['error']).trim()}`);
  const info = await d.getImage(o.tag).inspect();
  return { info, seconds: (performance.now() - t0) / 1000, steps };
}

function buildargs(
  image: PlannedImage,
  baseMap: Readonly<Record<string, string>>,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  return {
    ...extra,
    BUILDER_BASE: baseMap[image.builderBase] ?? image.builderBase,
    RUNTIME_BASE: baseMap[image.runtimeBase] ?? image.runtimeBase,
  };
}

/** Builds one image and analyzes its layers (`docker save`). */
async function buildAndAnalyze(
  d: Docker,
  o: Parameters<typeof buildImage>[1],
): Promise<{ info: Docker.ImageInspectInfo; seconds: number; steps: BuildStep[]; analysis: ImageAnalysis }> {
  const built = await buildImage(d, o);
  return { ...built, analysis: await analyzeSavedImage(await d.getImage(o.tag).get()) };
}

/** Builds, inspects and analyzes every family (and its naive twin when asked). */
export async function buildFamilies(
  plan: SystemPlan,
  dockerfiles: ReadonlyMap<string, string>,
  o: BuildOptions,
): Promise<ImagesReport> {
  const d = docker();
  await d.ping();
  const dockerignore = dockerfiles.get('docker/.dockerignore')!;
  const families: FamilyResult[] = [];
  const analyses: ImageAnalysis[] = [];
  for (const image of plan.images.filter((i) => !o.families || o.families.includes(i.family))) {
    const args = buildargs(image, o.baseMap, o.buildArgs);
    o.log(`[${image.family}] building ${image.image} (${args['RUNTIME_BASE']})`);
    const { info, seconds, steps, analysis } = await buildAndAnalyze(d, {
      context: o.context,
      dockerignore,
      dockerfile: `.agent-infra/${image.family}.Dockerfile`,
      dockerfileText: dockerfiles.get(`docker/${image.family}.Dockerfile`)!,
      tag: image.image,
      buildargs: args,
      noCache: o.noCache,
      log: o.log,
      label: image.family,
      labels: o.labels,
    });
    analyses.push(analysis);
    let naive: FamilyResult['naive'];
    if (o.naive && (!o.naiveFamilies || o.naiveFamilies.includes(image.family))) {
      const tag = `${image.image}-naive`;
      o.log(`[${image.family}-naive] building ${tag}`);
      const nb = await buildAndAnalyze(d, {
        context: o.context,
        dockerignore,
        dockerfile: `.agent-infra/${image.family}.naive.Dockerfile`,
        dockerfileText: dockerfiles.get(`docker/${image.family}.naive.Dockerfile`)!,
        tag,
        buildargs: args,
        noCache: o.noCache,
        log: o.log,
        label: `${image.family}-naive`,
        labels: o.labels,
      });
      naive = { image: tag, sizeBytes: nb.info.Size, buildSeconds: nb.seconds, wastedBytes: nb.analysis.wastedBytes };
    }
    const installs = {
      requirementFiles: image.requirements.length,
      debianPython: debianPythonPackages(image),
    };
    families.push({
      family: image.family,
      image: image.image,
      imageId: info.Id,
      sizeBytes: info.Size,
      layers: analysis.layers.length,
      wastedBytes: analysis.wastedBytes,
      wastedRatio: analysis.bytes === 0 ? 0 : analysis.wastedBytes / analysis.bytes,
      buildSeconds: seconds,
      steps,
      user: info.Config.User,
      ...(image.maxSizeMiB !== undefined ? { maxSizeMiB: image.maxSizeMiB } : {}),
      installs,
      ...(naive ? { naive } : {}),
      ...(naive && (installs.requirementFiles > 0 || installs.debianPython.length > 0)
        ? { ratioToNaive: info.Size / naive.sizeBytes }
        : {}),
      analysis,
    });
  }
  return { system: plan.name, families, sharing: sharing(analyses) };
}

export interface Check {
  readonly family: string;
  readonly ok: boolean;
  readonly message: string;
}

/** Budgets per family, and growth against a baseline of sizes from an earlier run. */
export function checkReport(
  r: ImagesReport,
  baseline: Readonly<Record<string, number>> | undefined,
  maxGrowth: number,
): Check[] {
  const checks: Check[] = [];
  for (const f of r.families) {
    if (f.maxSizeMiB !== undefined) {
      const mib = f.sizeBytes / 2 ** 20;
      checks.push({
        family: f.family,
        ok: mib <= f.maxSizeMiB,
        message: `size ${mib.toFixed(1)} MiB against a budget of ${f.maxSizeMiB} MiB`,
      });
    }
    const before = baseline?.[f.family];
    if (before !== undefined) {
      const ratio = f.sizeBytes / before;
      checks.push({
        family: f.family,
        ok: ratio <= maxGrowth,
        message: `size ${(ratio * 100).toFixed(1)}% of the baseline (at most ${(maxGrowth * 100).toFixed(0)}%)`,
      });
    }
  }
  return checks;
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

/** The report as a Markdown table (for a CI job summary). */
export function reportMarkdown(r: ImagesReport, checks: readonly Check[]): string {
  const installs = (f: FamilyResult) =>
    [
      ...(f.installs.requirementFiles
        ? [`${f.installs.requirementFiles} requirement file${f.installs.requirementFiles === 1 ? '' : 's'}`]
        : []),
      ...(f.installs.debianPython.length ? [`Debian ${f.installs.debianPython.join(', ')}`] : []),
    ].join('; ') || 'no Python package';
  const ratio = (f: FamilyResult) =>
    f.ratioToNaive !== undefined
      ? f.ratioToNaive.toFixed(2)
      : f.naive
        ? 'none: it installs no Python package, so its agents cannot import theirs'
        : '-';
  const rows = r.families.map(
    (f) =>
      `| ${f.family} | ${installs(f)} | ${mib(f.sizeBytes)} | ${f.naive ? mib(f.naive.sizeBytes) : '-'} | ${ratio(f)} | ${mib(f.wastedBytes)} (${(f.wastedRatio * 100).toFixed(2)}%) | ${f.layers} | ${f.buildSeconds.toFixed(1)} s | ${f.user} |`,
  );
  const failed = checks.filter((c) => !c.ok);
  return [
    `## Images of ${r.system}`,
    '',
    '| family | installs | size | naive single-stage | ratio | wasted | layers | build | user |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `Shared layers: distinct bytes ${mib(r.sharing.uniqueBytes)} of ${mib(r.sharing.sumBytes)} summed over the images (${r.sharing.ratio.toFixed(2)}).`,
    '',
    ...checks.map((c) => `- ${c.ok ? 'ok' : '**failed**'}: ${c.family}: ${c.message}`),
    failed.length ? `\n${failed.length} check(s) failed.` : '',
    '',
  ].join('\n');
}

/** The report as plain JSON (no analysis internals but the largest wasted paths). */
export function reportJson(r: ImagesReport, checks: readonly Check[]) {
  return {
    system: r.system,
    families: r.families.map(({ analysis, ...f }) => ({ ...f, wastedTop: analysis.wasted })),
    sharing: r.sharing,
    checks,
    ok: checks.every((c) => c.ok),
  };
}
