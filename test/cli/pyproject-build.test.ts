/**
 * The builder's step that turns a pyproject.toml into a requirement file, run as the builder's shell runs
 * it (python3 -c from the generated Dockerfile) on a copy of the file: pip then reads exactly the
 * `[project] dependencies`, not another table's. Python is the authority on its own TOML reader.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers.ts';

const PYPROJECT = [
  '[project]',
  'name = "shared"',
  'dependencies = [',
  '  "pyzmq>=25",  # the bus',
  "  'redis==5.0.1',",
  ']',
  '[tool.x]',
  'dependencies = ["not-this"]',
  '',
].join('\n');

describe('a pyproject.toml in an image family', () => {
  it('gives pip its [project] dependencies when the generated RUN line runs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pyproject-build-'));
    const files: Record<string, string> = {
      'main.yaml': 'agent_groups:\n  core:\n    A: {script_path: agents/a.py, port: 7400, health_check_port: 8400}\n',
      'agents/a.py': 'import zmq\n',
      'shared/pyproject.toml': PYPROJECT,
      'agent-infra.yaml':
        'name: t\nmachines:\n  mainpc: {config: main.yaml, addressEnv: MAIN_PC_IP}\nimages:\n  cpu: {builderBase: python:3.11-slim-bookworm, runtimeBase: python:3.11-slim-bookworm, requirements: [shared/pyproject.toml]}\n',
    };
    for (const [f, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, f)), { recursive: true });
      writeFileSync(join(dir, f), text);
    }
    const s = cli(['synth', '--only', 'docker', '--out', 'dist'], dir);
    expect(s.code, s.stderr).toBe(0);
    const text = readFileSync(join(dir, 'dist', 'docker', 'cpu.Dockerfile'), 'utf8');
    const run = /^RUN (python3 -c .*tomllib.*)$/m.exec(text)![1]!;
    const where = join(dir, 'builder');
    mkdirSync(join(where, 'tmp/requirements/shared'), { recursive: true });
    writeFileSync(join(where, 'tmp/requirements/shared/pyproject.toml'), PYPROJECT);
    const done = spawnSync('sh', ['-c', run.replaceAll('/tmp/requirements/', `${where}/tmp/requirements/`)], {
      encoding: 'utf8',
    });
    expect([done.status, done.stderr]).toEqual([0, '']);
    expect(readFileSync(join(where, 'tmp/requirements/shared/pyproject.toml.txt'), 'utf8')).toBe(
      'pyzmq>=25\nredis==5.0.1\n',
    );
    expect(text).toContain('pip install --no-cache-dir -r /tmp/requirements/shared/pyproject.toml.txt \\');
  });
});
