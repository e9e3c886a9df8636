/**
 * The example's output checked by the real tools, as processes: kubectl kustomize renders the
 * Kubernetes files, docker-compose config reads the compose files, and cdk8s import still makes the
 * imported types that are committed.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { runPipeline } from '../../lib/pipeline.ts';
import { emitAll } from '../../lib/synth.ts';
import { EXAMPLE_SPEC, ROOT } from '../helpers.ts';
import { composeConfig, HAS_DOCKER_COMPOSE } from '../compose-helpers.ts';
import { parseManifests, type K8sObject } from '../k8s-helpers.ts';

const HAS_KUBECTL = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
if (!HAS_KUBECTL) console.warn('skipping the kubectl kustomize test: no kubectl on PATH');

let files: Map<string, string>;
let objects: K8sObject[];
beforeAll(() => {
  files = emitAll(runPipeline({ spec: EXAMPLE_SPEC, cwd: ROOT }).plan, 'examples/two-pc/agent-infra.yaml', [
    'k8s',
    'compose',
  ]);
  objects = parseManifests(files);
});

describe('kubernetes manifests of the example', () => {
  it.skipIf(!HAS_KUBECTL)('renders with kubectl kustomize: every object of every file, none lost or added', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kustomize-'));
    mkdirSync(join(dir, 'k8s'));
    for (const [f, text] of [...files].filter(([k]) => k.startsWith('k8s/'))) writeFileSync(join(dir, f), text);
    const r = spawnSync('kubectl', ['kustomize', join(dir, 'k8s')], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
    expect([r.status, r.stderr]).toEqual([0, '']);
    const rendered = parseAllDocuments(r.stdout)
      .map((d) => d.toJS())
      .filter(Boolean);
    const key = (o: any) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    expect(rendered.map(key).sort()).toEqual(objects.map(key).sort());
  });
});

describe('compose output of the example', () => {
  it.skipIf(!HAS_DOCKER_COMPOSE)('passes docker-compose config -q with the values of .env.example', () => {
    const dir = mkdtempSync(join(tmpdir(), 'compose-'));
    for (const [k, v] of files) {
      mkdirSync(dirname(join(dir, k)), { recursive: true });
      writeFileSync(join(dir, k), v);
    }
    for (const f of [...files.keys()].filter((k) => k.endsWith('.yml') && k.includes('docker-compose')))
      expect([f, composeConfig(join(dir, f), join(dir, 'compose/.env.example'), dir)]).toEqual([
        f,
        { code: 0, stderr: '' },
      ]);
    // The validator is real: an unset address fails fast.
    writeFileSync(join(dir, 'empty.env'), '');
    const r = composeConfig(join(dir, 'compose/docker-compose.pc2.yml'), join(dir, 'empty.env'), dir);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/MAIN_PC_IP must be set; see \.env\.example/);
  });
});

describe('imported types', () => {
  it('imports/ is what cdk8s import makes of crds/ (regenerate with npm run gen:imports)', () => {
    // Run elsewhere: cdk8s import adds what it imported to the cdk8s.yaml of its working folder.
    const cwd = mkdtempSync(join(tmpdir(), 'imports-'));
    const out = join(cwd, 'imports');
    const r = spawnSync(
      process.execPath,
      [
        join(ROOT, 'node_modules', 'cdk8s-cli', 'bin', 'cdk8s'),
        'import',
        join(ROOT, 'crds', 'servicemonitor.yaml'),
        '--output',
        out,
        '--language',
        'typescript',
        '--check-upgrade=false',
      ],
      { cwd, encoding: 'utf8' },
    );
    expect(r.status).toBe(0);
    expect(readFileSync(join(out, 'monitoring.coreos.com.ts'), 'utf8')).toBe(
      readFileSync(join(ROOT, 'imports', 'monitoring.coreos.com.ts'), 'utf8'),
    );
  });
});
