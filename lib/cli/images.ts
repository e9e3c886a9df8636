/** `agent-infra images`: the command line around buildFamilies. */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { runPipelineAsync } from '../pipeline.ts';
import { emitDockerfiles } from '../emit/dockerfile.ts';
import { writeFileAtomic } from '../write.ts';
import { buildFamilies, checkReport, reportJson, reportMarkdown } from '../images/images.ts';
import { loadArgs, OUTPUT_OPTIONS, outputArgs, parse, UsageError } from './args.ts';
import { printDiagnostics } from './output.ts';

export const IMAGES_USAGE = `agent-infra images --context DIR [--spec FILE] [--source DIR] [--base-map IMAGE=LOCAL ...] [--build-arg NAME=VALUE ...] [--family NAME ...]
                  [--label KEY=VALUE ...] [--naive | --naive-family NAME ...] [--no-cache] [--baseline FILE] [--max-growth RATIO] [--json FILE] [--markdown FILE]
                  [--format text|json] [--quiet]`;

const LABEL_KEY = /^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$/;

export async function imagesCommand(args: readonly string[]): Promise<number> {
  const { values } = parse(args, {
    spec: { type: 'string' },
    machine: { type: 'string', multiple: true },
    source: { type: 'string' },
    context: { type: 'string' },
    'base-map': { type: 'string', multiple: true },
    'build-arg': { type: 'string', multiple: true },
    family: { type: 'string', multiple: true },
    label: { type: 'string', multiple: true },
    naive: { type: 'boolean', default: false },
    'naive-family': { type: 'string', multiple: true },
    'no-cache': { type: 'boolean', default: false },
    baseline: { type: 'string' },
    'max-growth': { type: 'string', default: '1.10' },
    json: { type: 'string' },
    markdown: { type: 'string' },
    ...OUTPUT_OPTIONS,
  });
  const output = outputArgs(values);
  if (typeof values.context !== 'string')
    throw new UsageError(`images needs --context DIR, the root of the agents' source tree; usage: ${IMAGES_USAGE}`);
  const context = resolve(values.context);
  if (!existsSync(context)) {
    console.error(
      `${values.context}: source tree not found; pass the root of the agents' sources to --context [missing-file]`,
    );
    return 2;
  }
  const baseMap: Record<string, string> = {};
  for (const m of (values['base-map'] as string[] | undefined) ?? []) {
    const i = m.indexOf('=');
    if (i < 1) throw new UsageError(`--base-map takes IMAGE=LOCAL, got '${m}'`);
    baseMap[m.slice(0, i)] = m.slice(i + 1);
  }
  const buildArgs: Record<string, string> = {};
  for (const a of (values['build-arg'] as string[] | undefined) ?? []) {
    const i = a.indexOf('=');
    // The base images are --base-map's: a second way to set them would hide which one a build used.
    if (i < 1 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(a.slice(0, i)) || /^(BUILDER|RUNTIME)_BASE$/.test(a.slice(0, i)))
      throw new UsageError(
        `--build-arg takes NAME=VALUE with a variable name such as PIP_INDEX_URL (not BUILDER_BASE or RUNTIME_BASE: use --base-map), got '${a}'`,
      );
    buildArgs[a.slice(0, i)] = a.slice(i + 1);
  }
  const labels: Record<string, string> = {};
  for (const l of (values.label as string[] | undefined) ?? []) {
    const i = l.indexOf('=');
    const key = i < 0 ? l : l.slice(0, i);
    // Docker's label keys: lowercase alphanumerics, dots and dashes (reverse DNS); values on one line.
    if (i < 1 || !LABEL_KEY.test(key) || /[\r\n]/.test(l))
      throw new UsageError(
        `--label takes KEY=VALUE with a key such as org.example.build (lowercase letters, digits, '.', '-'), got '${l}'`,
      );
    labels[key] = l.slice(i + 1);
  }
  const maxGrowth = Number(values['max-growth']);
  if (!(maxGrowth > 0))
    throw new UsageError(`--max-growth takes a ratio such as 1.10, got '${String(values['max-growth'])}'`);
  let baseline: Record<string, number> | undefined;
  if (typeof values.baseline === 'string') {
    try {
      const j = JSON.parse(readFileSync(values.baseline, 'utf8')) as {
        families: { family: string; sizeBytes: number }[];
      };
      baseline = Object.fromEntries(j.families.map((f) => [f.family, f.sizeBytes]));
    } catch (e) {
      console.error(
        `${values.baseline}: cannot read the baseline: ${(e as Error).message}; pass the --json of an earlier run [invalid-baseline]`,
      );
      return 2;
    }
  }
  const load = loadArgs(values);
  const r = await runPipelineAsync(load);
  if (!r.ok) {
    printDiagnostics(r.diagnostics, output.quiet, output.verbose);
    return r.unusable ? 2 : 1;
  }
  const spec = load.spec;
  const dockerfiles = emitDockerfiles(r.plan, spec ? relative(process.cwd(), resolve(spec)) : 'startup configs');
  const families = values.family as string[] | undefined;
  // The naive twin of some families only: each costs a whole single-stage build, tools and all.
  const naiveFamilies = values['naive-family'] as string[] | undefined;
  for (const f of naiveFamilies ?? [])
    if (families && !families.includes(f))
      throw new UsageError(
        `--naive-family '${f}' is not among the families this run builds (--family ${families.join(', ')})`,
      );
  for (const [option, names] of [
    ['--family', families],
    ['--naive-family', naiveFamilies],
  ] as const)
    for (const f of names ?? [])
      if (!r.plan.images.some((i) => i.family === f))
        throw new UsageError(
          `${option} '${f}' is not an image family of this system (${r.plan.images.map((i) => i.family).join(', ')})`,
        );
  let report;
  try {
    report = await buildFamilies(r.plan, dockerfiles, {
      context,
      baseMap,
      buildArgs,
      noCache: values['no-cache'] === true,
      naive: values.naive === true || naiveFamilies !== undefined,
      ...(naiveFamilies ? { naiveFamilies } : {}),
      labels,
      ...(families ? { families } : {}),
      log: (l) => {
        if (!output.quiet) console.error(l);
      },
    });
  } catch (e) {
    const msg = (e as Error).message;
    const hint = /ENOENT|ECONNREFUSED|docker\.sock/.test(msg)
      ? '; start an engine with scripts/docker-engine.sh'
      : /pull access denied|not found|manifest unknown/i.test(msg)
        ? '; build local bases with scripts/base-images.sh and pass --base-map'
        : '';
    console.error(`agent-infra images: ${msg.split('\n')[0]}${hint} [build-failed]`);
    return 1;
  }
  const checks = checkReport(report, baseline, maxGrowth);
  const md = reportMarkdown(report, checks);
  const json = `${JSON.stringify(reportJson(report, checks), null, 2)}\n`;
  if (output.json) process.stdout.write(json);
  else if (!output.quiet) console.log(md);
  else
    for (const c of checks.filter((x) => !x.ok))
      console.error(`agent-infra images: ${c.family}: ${c.message} [image-budget]`);
  if (typeof values.json === 'string') writeFileAtomic(values.json, json);
  if (typeof values.markdown === 'string') writeFileAtomic(values.markdown, md);
  writeFileAtomic(join('dist', 'images', 'report.json'), json);
  return checks.every((c) => c.ok) ? 0 : 1;
}
