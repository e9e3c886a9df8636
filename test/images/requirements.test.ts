/**
 * Images that carry what their agents import, proved offline: a repository whose requirement files
 * (a top-level one, one beside a service that includes a shared one, a package's pyproject.toml) name
 * small packages this suite builds into wheels itself (`pip wheel --no-build-isolation` of folders it
 * writes) and serves as a PEP 503 index on loopback. `init` proposes the families, `check` finds nothing
 * missing, `images` builds them with PIP_INDEX_URL pointing at the index, and each built image, as uid
 * 10001 with a read-only root and no network, imports every third-party module each agent's code
 * imports. A pin that conflicts is refused by `check` and `images` before any build.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cli } from '../helpers.ts';
import { BASE_MAP, HAS_ENGINE, hasImage, LOCAL_BASE } from '../docker-helpers.ts';
import { freePorts, labelArgs, runLabels } from '../docker-run.ts';

const PIP =
  spawnSync('/usr/bin/python3', ['-c', 'import setuptools, wheel'], { encoding: 'utf8' }).status === 0 &&
  spawnSync('/usr/bin/python3', ['-m', 'pip', '--version'], { encoding: 'utf8' }).status === 0;
const why = !HAS_ENGINE
  ? 'no Docker engine (scripts/docker-engine.sh starts one)'
  : !PIP
    ? "no pip, setuptools and wheel for Debian's python3 (scripts/test-deps.sh installs them)"
    : undefined;
if (why) console.warn(`requirements images suite skipped: ${why}`);

/** The packages the suite builds: distribution, version, and its module's text. */
const PACKAGES = [
  ['tinyalpha', '1.0.0', 'VERSION = "1.0.0"\n'],
  ['tinybeta', '2.0.0', 'VERSION = "2.0.0"\n'],
  ['tinygamma', '0.1.0', 'VERSION = "0.1.0"\n'],
  ['tinydelta', '0.3.0', 'VERSION = "0.3.0"\n'],
] as const;

const REPO: Record<string, string> = {
  'main_pc_code/config/startup_config.yaml': [
    'agent_groups:',
    '  core_services:',
    '    Greeter: {script_path: main_pc_code/agents/greeter.py, port: 7200, health_check_port: 8200}',
    '    Counter: {script_path: services/counter/counter.py, port: 7210, health_check_port: 8210}',
    '',
  ].join('\n'),
  'main_pc_code/agents/greeter.py': 'import tinyalpha\nimport shared.util\n',
  'services/counter/counter.py': 'import tinybeta.deep\nimport tinydelta\n',
  'services/counter/requirements.txt': '-r ../../requirements.common.txt\ntinybeta==2.0.0\n',
  'requirements.common.txt': 'tinydelta==0.3.0\n',
  'requirements.txt': 'tinyalpha==1.0.0\n',
  'requirements-dev.txt': 'pytest==7.4.0\n',
  'shared/__init__.py': '',
  'shared/util.py': 'import tinygamma\n',
  'shared/pyproject.toml': '[project]\nname = "shared"\nversion = "0.1.0"\ndependencies = ["tinygamma>=0.1"]\n',
};

const write = (root: string, files: Record<string, string>) => {
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, f)), { recursive: true });
    writeFileSync(join(root, f), text);
  }
};

describe.skipIf(why !== undefined)('images that carry what their agents import, from a loopback index', () => {
  const run = inject('dockerRun');
  const dir = mkdtempSync(join(tmpdir(), 'reqimages-'));
  const repo = join(dir, 'repo');
  const index = join(dir, 'index');
  const tag = `reqs-${run.id}`;
  let server: ChildProcess | undefined;
  let url = '';
  const figures: string[] = [];

  beforeAll(async () => {
    if (!(await hasImage(LOCAL_BASE)))
      throw new Error(`base image ${LOCAL_BASE} is missing: run scripts/base-images.sh`);
    // Wheels built by pip from folders written here, laid out as a PEP 503 simple index.
    const wheels = join(index, 'wheels');
    mkdirSync(wheels, { recursive: true });
    for (const [name, version, text] of PACKAGES) {
      const src = join(dir, 'pkgs', name);
      write(src, {
        'pyproject.toml': `[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n[project]\nname = "${name}"\nversion = "${version}"\n[tool.setuptools]\npackages = ["${name}"]\n`,
        [`${name}/__init__.py`]: text,
        [`${name}/deep.py`]: 'DEEP = True\n',
      });
      const w = spawnSync(
        '/usr/bin/python3',
        ['-m', 'pip', 'wheel', '--no-build-isolation', '--no-deps', '--no-index', '-q', '-w', wheels, src],
        { encoding: 'utf8', env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1' } },
      );
      expect(w.status, w.stderr).toBe(0);
    }
    for (const file of readdirSync(wheels)) {
      const name = file.split('-')[0]!;
      mkdirSync(join(index, 'simple', name), { recursive: true });
      writeFileSync(join(index, 'simple', name, 'index.html'), `<a href="../../wheels/${file}">${file}</a>\n`);
    }
    const [port] = await freePorts(1, 1, 31_000 + (process.pid % 100) * 10);
    url = `http://127.0.0.1:${port}/simple/`;
    server = spawn(
      '/usr/bin/python3',
      ['-m', 'http.server', '--bind', '127.0.0.1', String(port), '--directory', index],
      {
        stdio: 'ignore',
      },
    );
    // Until the index answers (a loaded machine may take seconds to start Python), then no further.
    let up = false;
    for (const t0 = performance.now(); !up && performance.now() - t0 < 120_000;) {
      up = await fetch(`${url}tinyalpha/`).then(
        (r) => r.ok,
        () => false,
      );
      if (!up) await new Promise((r) => setTimeout(r, 200));
    }
    if (!up) throw new Error(`the loopback package index at ${url} did not answer within 120 s`);
    write(repo, REPO);
  }, 600_000);

  afterAll(() => {
    if (server?.pid) process.kill(server.pid);
    for (const family of ['cpu', 'gpu']) spawnSync('docker', ['rmi', '-f', `agent-infra/${family}:${tag}`]);
    rmSync(dir, { recursive: true, force: true });
    if (figures.length) console.log(`requirements images suite:\n  ${figures.join('\n  ')}`);
  });

  it('init finds the runtime requirement files, and check finds every import installed', () => {
    const init = cli(['init', '--format', 'json'], repo);
    expect(init.code, init.stderr).toBe(0);
    // Greeter: the top-level file, and shared/'s pyproject (it imports shared.util); Counter: its own
    // folder's file (which includes requirements.common.txt). Not requirements-dev.txt.
    expect(JSON.parse(init.stdout).written.requirements).toEqual({
      cpu: ['requirements.txt', 'services/counter/requirements.txt', 'shared/pyproject.toml'],
    });
    writeFileSync(
      join(repo, 'agent-infra.yaml'),
      `${readFileSync(join(repo, 'agent-infra.yaml'), 'utf8')}tag: ${tag}\n`,
    );
    const check = cli(['check', '--format', 'json'], repo);
    const said = JSON.parse(check.stdout) as { diagnostics: { code: string; message: string }[] };
    expect(said.diagnostics.filter((d) => d.code === 'missing-requirement')).toEqual([]);
    expect(check.code).toBe(0);
  });

  it('builds the family from the loopback index, and its image imports what every agent imports, as uid 10001 read-only', () => {
    const s = cli(['synth', '--only', 'docker', '--out', 'dist'], repo);
    expect(s.code, s.stderr).toBe(0);
    const t0 = performance.now();
    const built = cli(
      ['images', '--context', '.', ...BASE_MAP, '--build-arg', `PIP_INDEX_URL=${url}`, ...labelArgs(run), '--no-cache'],
      repo,
    );
    expect(built.code, built.stderr.slice(-3000)).toBe(0);
    const seconds = (performance.now() - t0) / 1000;
    const check = JSON.parse(cli(['check', '--format', 'json'], repo).stdout) as {
      plan: { agents: { name: string; code: { external: string[] } }[] };
    };
    const imported = [...new Set(check.plan.agents.flatMap((a) => a.code.external))].sort();
    expect(imported).toEqual(['tinyalpha', 'tinybeta', 'tinydelta', 'tinygamma']);
    const image = `agent-infra/cpu:${tag}`;
    const r = spawnSync(
      'docker',
      [
        'run',
        '--rm',
        '--network',
        'none',
        '--user',
        '10001:10001',
        '--read-only',
        ...Object.entries(runLabels(run)).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
        '--entrypoint',
        'python3',
        image,
        '-c',
        'import tinyalpha, tinybeta.deep, tinydelta, tinygamma, shared.util; print(tinyalpha.VERSION, tinybeta.VERSION, tinydelta.VERSION, tinygamma.VERSION)',
      ],
      { encoding: 'utf8' },
    );
    expect([r.status, r.stdout.trim()], r.stderr).toEqual([0, '1.0.0 2.0.0 0.3.0 0.1.0']);
    const size = spawnSync('docker', ['image', 'inspect', '--format', '{{.Size}}', image], { encoding: 'utf8' });
    figures.push(
      `family cpu: ${imported.length} distributions from 3 listed requirement files, 1 they include and 1 pyproject.toml among them, installed from the loopback index in ${seconds.toFixed(0)} s; image ${(Number(size.stdout) / 2 ** 20).toFixed(1)} MiB; every import of both agents resolves as uid 10001, read-only, no network`,
    );
  });

  it('refuses a pin that cannot hold together, in check and in images, before any build', () => {
    const conflicted = join(dir, 'conflicted');
    write(conflicted, {
      ...REPO,
      'services/counter/requirements.txt': '-r ../../requirements.common.txt\ntinybeta==2.0.0\ntinyalpha==2.0.0\n',
    });
    writeFileSync(
      join(conflicted, 'agent-infra.yaml'),
      readFileSync(join(repo, 'agent-infra.yaml'), 'utf8').replace(`tag: ${tag}`, `tag: ${tag}-conflict`),
    );
    const check = cli(['check'], conflicted);
    expect(check.code).toBe(1);
    expect(check.stderr).toContain(
      "error requirements.txt:1: image family 'cpu' installs tinyalpha pinned to 1.0.0 (requirements.txt:1) and 2.0.0 (services/counter/requirements.txt:3)",
    );
    const images = cli(
      ['images', '--context', '.', ...BASE_MAP, '--build-arg', `PIP_INDEX_URL=${url}`, ...labelArgs(run)],
      conflicted,
    );
    expect(images.code).toBe(1);
    expect(spawnSync('docker', ['image', 'inspect', `agent-infra/cpu:${tag}-conflict`]).status).not.toBe(0);
  });
});
