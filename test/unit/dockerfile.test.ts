/** Generated Dockerfiles: lint-clean, multi-stage, pinned bases, numeric user, layers ordered for caching. */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { validate } from 'dockerfile-utils';
import { runPipeline } from '../../lib/pipeline.ts';
import { emitAll } from '../../lib/synth.ts';
import type { SystemPlan } from '../../lib/plan/types.ts';
import { EXAMPLE_SPEC, ROOT } from '../helpers.ts';

let plan: SystemPlan;
let files: Map<string, string>;
beforeAll(() => {
  plan = runPipeline({ spec: EXAMPLE_SPEC, cwd: ROOT }).plan;
  files = emitAll(plan, 'examples/two-pc/agent-infra.yaml', ['docker']);
});
const dockerfiles = () => [...files].filter(([k]) => k.endsWith('Dockerfile'));

describe('Dockerfiles of the example', () => {
  it('writes one multi-stage Dockerfile and one naive twin per image family, and a .dockerignore', () => {
    expect([...files.keys()].sort()).toEqual([
      'docker/.dockerignore',
      'docker/cpu.Dockerfile',
      'docker/cpu.naive.Dockerfile',
      'docker/gpu-audio.Dockerfile',
      'docker/gpu-audio.naive.Dockerfile',
      'docker/gpu-torch.Dockerfile',
      'docker/gpu-torch.naive.Dockerfile',
    ]);
  });

  it('lints clean with dockerfile-utils', () => {
    for (const [f, text] of dockerfiles())
      expect([f, validate(text).map((d) => `${d.range.start.line + 1}: ${d.message}`)]).toEqual([f, []]);
    expect(validate('FROM x\nEXPOSE abc\n').length).toBeGreaterThan(0);
  });

  it('takes pinned base images as build arguments, never latest', () => {
    for (const [f, text] of dockerfiles()) {
      const args = [...text.matchAll(/^ARG (BUILDER_BASE|RUNTIME_BASE)=(\S+)$/gm)].map((m) => m[2]!);
      expect([f, args.length]).toEqual([f, f.includes('naive') ? 1 : 2]);
      for (const a of args) expect(a).toMatch(/^[^:@]+(:[^:]+|@sha256:[0-9a-f]{64})$/);
      for (const a of args) expect(a).not.toMatch(/:latest$/);
      expect(text).not.toMatch(/^FROM (?!\$\{(BUILDER|RUNTIME)_BASE\})/m);
    }
  });

  it('keeps build-only packages in the builder stage and copies only the venv from it', () => {
    const text = files.get('docker/gpu-audio.Dockerfile')!;
    const [builder, runtime] = text.split(/^FROM \$\{RUNTIME_BASE\} AS runtime$/m);
    expect(builder).toMatch(/apt-get install -y --no-install-recommends build-essential/);
    expect(runtime).not.toMatch(/build-essential/);
    expect(runtime).toMatch(/apt-get install -y --no-install-recommends libgomp1 libsndfile1/);
    expect(runtime).toMatch(/^COPY --from=builder \/opt\/venv \/opt\/venv$/m);
    expect(runtime!.match(/^COPY --from=/gm)).toHaveLength(1);
    expect(builder).toMatch(
      /pip install --no-cache-dir -r \/tmp\/requirements\/requirements\/base\.txt -r \/tmp\/requirements\/requirements\/audio\.txt/,
    );
  });

  it('copies each requirement file with its path, before the sources, and lets a build point pip anywhere', () => {
    const text = files.get('docker/gpu-audio.Dockerfile')!;
    const lines = text.split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    expect(lines.filter((l) => l.startsWith('COPY requirements/'))).toEqual([
      'COPY requirements/base.txt /tmp/requirements/requirements/base.txt',
      'COPY requirements/audio.txt /tmp/requirements/requirements/audio.txt',
    ]);
    // The pip build arguments are declared (no default in the example) before the install that reads them.
    expect(lines.filter((l) => l.startsWith('ARG PIP_'))).toEqual([
      'ARG PIP_INDEX_URL',
      'ARG PIP_EXTRA_INDEX_URL',
      'ARG PIP_FIND_LINKS',
    ]);
    expect(at(/^ARG PIP_FIND_LINKS$/)).toBeLessThan(at(/pip install/));
    expect(at(/pip install/)).toBeLessThan(at(/^COPY --from=sources|^COPY common\//));
    const naive = files.get('docker/gpu-audio.naive.Dockerfile')!;
    expect(naive.match(/^ARG PIP_\w+$/gm)).toEqual([
      'ARG PIP_INDEX_URL',
      'ARG PIP_EXTRA_INDEX_URL',
      'ARG PIP_FIND_LINKS',
    ]);
  });

  it("writes a family's pip locations as the build arguments' defaults, and two files of one name side by side", () => {
    const spec = readFileSync(EXAMPLE_SPEC, 'utf8').replace(
      'requirements: [requirements/base.txt, requirements/gpu.txt]',
      'requirements: [requirements/base.txt, services/gpu/requirements/base.txt]\n    pip: {extraIndexUrls: [https://download.pytorch.org/whl/cu121, https://wheels.example/simple], findLinks: [/wheels]}',
    );
    const p = runPipeline({ spec: EXAMPLE_SPEC, specText: spec, cwd: ROOT }).plan;
    const text = emitAll(p, 'x', ['docker']).get('docker/gpu-torch.Dockerfile')!;
    expect(text.match(/^ARG PIP_.*$/gm)).toEqual([
      'ARG PIP_INDEX_URL',
      'ARG PIP_EXTRA_INDEX_URL="https://download.pytorch.org/whl/cu121 https://wheels.example/simple"',
      'ARG PIP_FIND_LINKS="/wheels"',
    ]);
    expect(text).toContain('COPY requirements/base.txt /tmp/requirements/requirements/base.txt\n');
    expect(text).toContain(
      'COPY services/gpu/requirements/base.txt /tmp/requirements/services/gpu/requirements/base.txt\n',
    );
    expect(validate(text)).toEqual([]);
  });

  it('runs as the numeric non-root user, with a standard-library HEALTHCHECK and the waiting entrypoint', () => {
    for (const [f, text] of dockerfiles().filter(([k]) => !k.includes('naive'))) {
      expect([f, text.match(/^USER (.+)$/m)?.[1]]).toEqual([f, '10001:10001']);
      // The probe program reads AGENT_HEALTH, which every agent is given (its readiness probe).
      expect(text).toMatch(/^HEALTHCHECK .* CMD \["python3", "-S", "\/usr\/local\/bin\/agent-infra-health"\]$/m);
      expect(text).toMatch(/^ENTRYPOINT \["python3", "\/usr\/local\/bin\/agent-infra-entrypoint"\]$/m);
      expect(text).toContain('\'    host, colon, port = hostport.rpartition(":")\'');
      expect(text).not.toContain('&amp;');
    }
  });

  it('copies only the source folders of the family, last, so that a source change rebuilds only those layers', () => {
    for (const image of plan.images) {
      const text = files.get(`docker/${image.family}.Dockerfile`)!;
      const lines = text.split('\n');
      const copies = lines
        .filter((l) => /^COPY [^-]\S*\/ \/app\//.test(l))
        .map((l) => l.split(' ')[1]!.replace(/\/$/, ''));
      expect(copies).toEqual(image.sourceDirs);
      const lastCopy = lines.findLastIndex((l) => l.startsWith('COPY '));
      const firstSource = lines.findIndex((l) => /^COPY [^-]\S*\/ \/app\//.test(l));
      expect(lines.slice(firstSource, lastCopy + 1).every((l) => /^COPY [^-]\S*\/ \/app\//.test(l))).toBe(true);
      expect(lines.slice(lastCopy + 1).filter((l) => /^(RUN|COPY|ADD) /.test(l))).toEqual([]);
    }
    expect(plan.images.find((i) => i.family === 'gpu-audio')!.sourceDirs).toEqual(['common', 'main_pc_code']);
  });

  it('keeps models, data, logs, .git, caches and virtual environments out of the context', () => {
    const ignore = files.get('docker/.dockerignore')!;
    for (const p of [
      '.git',
      '**/__pycache__',
      '**/.venv',
      '**/venv',
      'models',
      '**/models',
      'data',
      'logs',
      '**/*.gguf',
      '**/.env',
    ])
      expect(ignore.split('\n')).toContain(p);
  });
});
