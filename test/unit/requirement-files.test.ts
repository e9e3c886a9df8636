/**
 * Requirement files as pip reads them: what each line names and pins, the files an image must copy (the
 * listed ones and what they include), a distribution pinned to two versions in one family (with both
 * places), a line pip refuses and an include that names no file. Expected values by hand.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPipeline } from '../../lib/pipeline.ts';
import { emitAll } from '../../lib/synth.ts';
import { normalName, parseRequirements } from '../../lib/source/requirement-files.ts';
import { DISTRIBUTION_OF } from '../../lib/source/requirements.ts';

describe('import names and the distributions that provide them', () => {
  it('maps the common ones whose names differ, as their projects publish them', () => {
    // From each project's own install line (pip install <name>) and the module it documents.
    const published: [string, string][] = [
      ['zmq', 'pyzmq'],
      ['yaml', 'PyYAML'],
      ['cv2', 'opencv-python'],
      ['PIL', 'Pillow'],
      ['sklearn', 'scikit-learn'],
      ['google', 'protobuf'],
      ['grpc', 'grpcio'],
      ['dotenv', 'python-dotenv'],
      ['bs4', 'beautifulsoup4'],
      ['nats', 'nats-py'],
    ];
    expect(published.map(([m]) => normalName(DISTRIBUTION_OF[m] ?? m))).toEqual(
      published.map(([, d]) => normalName(d)),
    );
  });
});

describe('a requirement file, line by line', () => {
  it('reads names, exact pins, includes and options as pip does', () => {
    const r = parseRequirements(
      'svc/requirements.txt',
      [
        '# a comment',
        'pyzmq==25.1.2',
        'pydantic >= 1.10, < 2  # a range, no pin',
        'Redis[hiredis]==5.0.1 ; python_version >= "3.8"',
        'numpy==1.26.*',
        '-r ../requirements.common.txt',
        '--constraint=constraints.txt',
        '--extra-index-url https://download.pytorch.org/whl/cu121',
        'torch==2.1.2 \\',
        '    --hash=sha256:0123',
        'mypkg @ https://example.invalid/mypkg-1.0-py3-none-any.whl',
        '-e ./local_pkg',
        'git+https://example.invalid/x.git#egg=x',
        'prometheus_client===0.19.0',
        '',
      ].join('\n'),
    );
    expect(r.requirements.map((q) => `${q.name}:${q.line}${q.pin ? `=${q.pin}` : ''}`)).toEqual([
      'pyzmq:2=25.1.2',
      'pydantic:3',
      'redis:4', // markers: the pin may not apply
      'numpy:5', // a wildcard allows many versions
      'torch:9=2.1.2',
      'mypkg:11',
      'prometheus-client:14',
    ]);
    expect(r.includes).toEqual([
      { file: 'requirements.common.txt', line: 6, constraint: false },
      { file: 'svc/constraints.txt', line: 7, constraint: true },
    ]);
    expect(r.problems).toEqual([]);
  });

  it('refuses a line pip cannot read', () => {
    const r = parseRequirements('r.txt', 'pyzmq 25.1\nfastapi==0.104.1\nuvicorn[standard]==0.24 extra words\n');
    expect(r.problems.map((p) => p.line)).toEqual([1, 3]);
    expect(r.requirements.map((q) => q.name)).toEqual(['fastapi']);
  });
});

function system(files: Record<string, string>, families: string) {
  const dir = mkdtempSync(join(tmpdir(), 'reqfiles-'));
  const all: Record<string, string> = {
    'main.yaml':
      'agent_groups:\n  core:\n    A: {script_path: agents/a.py, port: 7400, health_check_port: 8400}\n  gpu_services:\n    B: {script_path: agents/b.py, port: 7500, health_check_port: 8500}\n',
    'agents/a.py': '',
    'agents/b.py': '',
    'agent-infra.yaml': `name: t\nmachines:\n  mainpc: {config: main.yaml, addressEnv: MAIN_PC_IP, gpus: [{model: NVIDIA GeForce RTX 4090, vramGiB: 24, device: 0}]}\ngroups: {gpu_services: {family: gpu}}\nimages:\n${families}`,
    ...files,
  };
  for (const [f, text] of Object.entries(all)) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    writeFileSync(join(dir, f), text);
  }
  const r = runPipeline({ spec: join(dir, 'agent-infra.yaml'), cwd: dir });
  return {
    r,
    said: r.diagnostics
      .filter((d) => d.code === 'conflicting-pins' || d.code === 'invalid-requirement')
      .map((d) => `${d.severity} ${d.file}:${d.line} ${d.message}`),
  };
}

const FAMILY = (reqs: string) =>
  `{builderBase: python:3.11-slim-bookworm, runtimeBase: python:3.11-slim-bookworm, requirements: [${reqs}]}`;

describe('the requirement files of an image family', () => {
  it('refuses a distribution pinned to two versions in one family, naming both places (in path order)', () => {
    const { r, said } = system(
      {
        'requirements.txt': 'pyzmq==25.1.2\npydantic==1.10.13\n',
        'services/b/requirements.txt': '-r ../../requirements.txt\nfastapi==0.104.1\npydantic==2.5.3\n',
      },
      `  cpu: ${FAMILY('requirements.txt')}\n  gpu: ${FAMILY('services/b/requirements.txt')}\n`,
    );
    expect(said).toEqual([
      "error requirements.txt:2 image family 'gpu' installs pydantic pinned to 1.10.13 (requirements.txt:2) and 2.5.3 (services/b/requirements.txt:3): one environment cannot hold both, and pip refuses the build; agree on one version, or put the agents that need each in families of their own",
    ]);
    expect(r.ok).toBe(false);
  });

  it('copies each file with its path and the files it includes; the same pin twice is no conflict', () => {
    const { r, said } = system(
      {
        'requirements.common.txt': 'pyzmq==25.1.2\n',
        'services/b/requirements.txt': '-r ../../requirements.common.txt\n-c constraints.txt\npyzmq==25.1.2\n',
        'services/b/constraints.txt': 'pyzmq<26\n',
      },
      `  cpu: ${FAMILY('requirements.common.txt')}\n  gpu: ${FAMILY('services/b/requirements.txt')}\n`,
    );
    expect(said).toEqual([]);
    const gpu = emitAll(r.plan, 'x', ['docker']).get('docker/gpu.Dockerfile')!;
    expect(gpu.match(/^COPY \S+ \/tmp\/requirements\/\S+$/gm)).toEqual([
      'COPY services/b/requirements.txt /tmp/requirements/services/b/requirements.txt',
      'COPY requirements.common.txt /tmp/requirements/requirements.common.txt',
      'COPY services/b/constraints.txt /tmp/requirements/services/b/constraints.txt',
    ]);
    expect(gpu).toContain('pip install --no-cache-dir -r /tmp/requirements/services/b/requirements.txt \\');
  });

  it("installs a pyproject.toml's [project] dependencies, written out in the builder (run: test/cli/pyproject-build.test.ts)", () => {
    const pyproject =
      '[project]\nname = "shared"\ndependencies = [\n  "pyzmq>=25",  # the bus\n  \'redis==5.0.1\',\n]\n[tool.x]\ndependencies = ["not-this"]\n';
    const { r, said } = system(
      { 'shared/pyproject.toml': pyproject },
      `  cpu: ${FAMILY('shared/pyproject.toml')}\n  gpu: ${FAMILY('shared/pyproject.toml')}\n`,
    );
    expect(said).toEqual([]);
    const text = emitAll(r.plan, 'x', ['docker']).get('docker/cpu.Dockerfile')!;
    expect(text).toContain('COPY shared/pyproject.toml /tmp/requirements/shared/pyproject.toml\n');
    expect(text).toContain('pip install --no-cache-dir -r /tmp/requirements/shared/pyproject.toml.txt \\');
    expect(text).toMatch(/^RUN python3 -c .*tomllib.* \/tmp\/requirements\/shared\/pyproject\.toml$/m);
  });

  it('refuses a line pip cannot read and an include that names no file, at their lines', () => {
    const { said } = system(
      { 'requirements.txt': 'pyzmq==25.1.2\n-r missing.txt\nredis 5.0\n' },
      `  cpu: ${FAMILY('requirements.txt')}\n  gpu: ${FAMILY('requirements.txt')}\n`,
    );
    expect(said).toEqual([
      'error requirements.txt:2 -r missing.txt names no file under the source root (or one outside it); fix the path',
      "error requirements.txt:3 'redis 5.0' is no requirement pip reads (name[extras] specifiers ; markers); fix or remove the line",
    ]);
  });
});
