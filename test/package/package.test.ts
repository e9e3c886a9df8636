/**
 * The npm package as a user installs it: packed from this checkout, installed into an empty folder,
 * and used there without this repository: the command line, and the constructs in a cdk8s app of the
 * user's own (type-checked against the shipped declarations, then run).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { packAndInstall, type Installed } from '../package-install.ts';
import { ROOT, STACK, withStandInPackages } from '../helpers.ts';

let u: Installed;

/** `agent-infra` from the installed package, in the user's folder. */
function run(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [u.bin, ...args], {
    cwd: u.dir,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', PATH: '/usr/bin:/bin', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every file below `dir`, relative to it. */
function files(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(dir, join(prefix, e.name)) : [join(prefix, e.name)],
  );
}

/** kind/name of every object in the YAML files of `dir`. */
function objects(dir: string): string[] {
  return files(dir)
    .filter((f) => f.endsWith('.yaml') && !f.endsWith('kustomization.yaml'))
    .flatMap((f) =>
      parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map(
        (d) => d.toJS() as { kind: string; metadata: { name: string; namespace?: string } },
      ),
    )
    .filter(Boolean)
    .map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`)
    .sort();
}

beforeAll(() => {
  u = packAndInstall();
  // A repository of the user's: the example system's two configs at the two-PC paths.
  for (const d of ['main_pc_code', 'pc2_code'])
    cpSync(join(ROOT, 'examples', 'two-pc', d), join(u.dir, 'repo', d), { recursive: true });
});

describe('the installed package', () => {
  it('ships JavaScript with declarations, templates, scripts and the example, and no test tools', () => {
    const shipped = files(u.pkg);
    expect(shipped.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    for (const f of [
      'build/lib/index.js',
      'build/lib/index.d.ts',
      'build/cli/index.mjs',
      'templates/Dockerfile.hbs',
      'templates/scripts/agent-infra-health',
      'examples/two-pc/agent-infra.yaml',
      'scripts/docker-engine.sh',
    ])
      expect(shipped).toContain(f);
    const pkg = JSON.parse(readFileSync(join(u.pkg, 'package.json'), 'utf8'));
    expect(pkg.private).toBeUndefined();
    for (const tool of ['vitest', 'tsx', 'typescript', 'esbuild', 'cdk8s-cli', 'fast-check']) {
      expect(Object.keys(pkg.dependencies)).not.toContain(tool);
      expect(existsSync(join(u.dir, 'node_modules', tool))).toBe(false);
    }
  });

  it('under an address-space limit of 8 GB (ulimit -v 8000000), check and synth with a source tree work as without it', () => {
    const repo = join(u.dir, 'limited');
    cpSync(join(ROOT, 'examples', 'two-pc'), repo, { recursive: true });
    cpSync(join(ROOT, 'test', 'fixtures', 'mini-monorepo'), repo, { recursive: true });
    // The mini monorepo's agents import zmq, redis and yaml: Debian's packages stand in for them.
    const spec = join(repo, 'agent-infra.yaml');
    writeFileSync(spec, withStandInPackages(readFileSync(spec, 'utf8')));
    const line = (args: string) =>
      spawnSync('sh', ['-c', `ulimit -v 8000000 && exec "$NODE" "$BIN" ${args}`], {
        cwd: repo,
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1', NODE: process.execPath, BIN: u.bin },
      });
    const free = spawnSync(
      process.execPath,
      [u.bin, 'check', '--spec', 'agent-infra.yaml', '--source', '.', '--format', 'json'],
      { cwd: repo, encoding: 'utf8' },
    );
    const check = line('check --spec agent-infra.yaml --source . --format json');
    expect([check.status, check.stdout]).toEqual([free.status, free.stdout]);
    const synth = line('synth --spec agent-infra.yaml --source . --quiet');
    expect([synth.status, synth.stderr]).toEqual([0, '']);
    expect(readFileSync(join(repo, 'dist', 'reports', 'graph.svg'), 'utf8')).toContain('<svg');
  });

  it('npx agent-infra --version prints the package version', () => {
    const version = `${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version}\n`;
    expect(run(['--version'])).toMatchObject({ code: 0, stdout: version });
    const npx = spawnSync('npx', ['--no-install', 'agent-infra', '--version'], { cwd: u.dir, encoding: 'utf8' });
    expect([npx.status, npx.stdout]).toEqual([0, version]);
  });

  it('checks the example it ships', () => {
    const r = run(['check', '--spec', 'node_modules/agent-infra/examples/two-pc/agent-infra.yaml']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^voice-assistant: 82 agents on 2 machines$/m);
    expect(r.stderr).not.toMatch(STACK);
  });

  it('init writes a spec for the repository, and check and synth take it', () => {
    const init = run(['init', 'repo']);
    expect(init.code).toBe(0);
    expect(init.stdout).toContain('agent-infra: wrote repo/agent-infra.yaml');
    // The next step it prints runs, as printed, in the user's folder (npx finds the installed package).
    const next = /^ {2}next: (.+), then (.+) \(writes dist\/\)$/m.exec(init.stdout);
    expect(next, init.stdout).not.toBeNull();
    for (const command of [next![1]!, next![2]!]) {
      expect(command).toMatch(/^npx agent-infra (check|synth) --spec repo\/agent-infra\.yaml$/);
      const r = spawnSync('sh', ['-c', `${command} --quiet`], { cwd: u.dir, encoding: 'utf8' });
      expect([r.status, r.stderr], command).toEqual([0, '']);
    }
    expect(existsSync(join(u.dir, 'dist', 'k8s', 'mainpc.yaml'))).toBe(true);
    const check = run(['check', '--spec', 'repo/agent-infra.yaml', '--quiet']);
    expect(check).toMatchObject({ code: 0, stdout: '' });
    const synth = run(['synth', '--spec', 'repo/agent-infra.yaml', '--out', 'dist', '--format', 'json']);
    expect(synth.code).toBe(0);
    const written = JSON.parse(synth.stdout).written.files as string[];
    for (const f of [
      'dist/k8s/mainpc.yaml',
      'dist/compose/docker-compose.mainpc.yml',
      'dist/docker/cpu.Dockerfile',
      'dist/reports/graph.svg',
    ])
      expect(written).toContain(f);
    for (const f of written) expect(existsSync(join(u.dir, f))).toBe(true);
    // The Dockerfiles' helper programs (written into them) come from the package's templates.
    const dockerfile = readFileSync(join(u.dir, 'dist', 'docker', 'cpu.Dockerfile'), 'utf8');
    for (const p of ['agent-infra-health', 'agent-infra-wait', 'agent-infra-entrypoint'])
      expect(dockerfile).toContain(`/usr/local/bin/${p}`);
  });

  it("gives a cdk8s app of the user's own its constructs: an AgentSystem beside the user's ConfigMap", () => {
    const app = join(u.dir, 'app');
    mkdirSync(app, { recursive: true });
    writeFileSync(
      join(app, 'main.ts'),
      [
        "import { App, Chart } from 'cdk8s';",
        "import { k8s } from 'cdk8s-plus-27';",
        "import { AgentSystem, AgentSystemError, agentSystemFromSpec, planSystem, type AgentSystemOptions } from 'agent-infra';",
        '',
        'const options: AgentSystemOptions = {};',
        "const app = new App({ outdir: 'manifests' });",
        "const voice = agentSystemFromSpec(app, 'voice', { spec: '../repo/agent-infra.yaml', ...options });",
        "const mine = new Chart(app, 'mine', { namespace: voice.plan.namespace });",
        "new k8s.KubeConfigMap(mine, 'registry', { metadata: { name: 'registry-address' }, data: { address: `${voice.workload('ServiceRegistry').service.name}:${voice.workload('ServiceRegistry').agent.servicePort.port}` } });",
        '// A plan made first (what a spec with a source tree needs), then a second system from it.',
        "const planned = await planSystem({ spec: '../repo/agent-infra.yaml' });",
        "const again = new AgentSystem(new App({ outdir: 'again' }), 'voice', { plan: planned.plan });",
        "let refused = '';",
        'try {',
        "  agentSystemFromSpec(new App(), 'broken', { spec: '../repo/missing.yaml' });",
        '} catch (e) {',
        '  if (e instanceof AgentSystemError) refused = e.diagnostics[0]!.code;',
        '}',
        'app.synth();',
        'console.log(JSON.stringify({ charts: voice.charts.map((c) => c.node.id), machines: voice.machineCharts.length, again: again.charts.length, refused }));',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: true,
          outDir: 'out',
          types: [],
        },
        include: ['main.ts'],
      }),
    );
    writeFileSync(join(app, 'package.json'), JSON.stringify({ type: 'module' }));
    // Type-checked against the declarations the package ships (TypeScript is this checkout's: the user's folder has none).
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], {
      cwd: app,
      encoding: 'utf8',
    });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
    const out = execFileSync(process.execPath, [join(app, 'out', 'main.js')], {
      cwd: app,
      encoding: 'utf8',
      env: { ...process.env, PATH: '/usr/bin:/bin' },
    });
    expect(JSON.parse(out)).toEqual({
      charts: ['system', 'mainpc', 'pc2', 'gpu-sharing'],
      machines: 2,
      again: 4,
      refused: 'missing-file',
    });
    const manifests = join(app, 'manifests');
    const mine = parseAllDocuments(readFileSync(join(manifests, 'mine.k8s.yaml'), 'utf8')).map((d) => d.toJS());
    expect(mine).toEqual([
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'registry-address', namespace: expect.any(String) },
        data: { address: 'service-registry:7200' },
      },
    ]);
    // The constructs build the objects agent-infra synth writes for the same spec, no more, no fewer.
    const synthOut = join(u.dir, 'dist', 'k8s');
    const theirs = objects(manifests).filter((o) => o !== `ConfigMap/${mine[0].metadata.namespace}/registry-address`);
    expect(theirs).toEqual(objects(synthOut));
    expect(theirs.length).toBeGreaterThan(300);
    expect(relative(u.dir, manifests)).toBe('app/manifests');
  });
});
