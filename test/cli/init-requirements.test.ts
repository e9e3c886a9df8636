/**
 * init proposes what each image family installs: for every agent the requirement file nearest to its
 * script, and those of the packages its code imports; files for development or tests are not runtime
 * requirements. Expected files by hand from the tree written below.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { cli } from '../helpers.ts';

const TREE: Record<string, string> = {
  'main_pc_code/config/startup_config.yaml': [
    'agent_groups:',
    '  core_services:',
    '    ServiceRegistry: {script_path: main_pc_code/agents/registry.py, port: 7200, health_check_port: 8200}',
    '    ErrorBus: {script_path: services/error_bus/bus.py, port: 7150, health_check_port: 8150}',
    '  speech_gpu:',
    '    TTSAgent: {script_path: main_pc_code/agents/tts.py, port: 7300, health_check_port: 8300}',
    '',
  ].join('\n'),
  'main_pc_code/agents/registry.py': 'import shared.util\n',
  'main_pc_code/agents/tts.py': 'import shared.util\nimport numpy\n',
  'services/error_bus/bus.py': 'import prometheus_client\n',
  'services/error_bus/requirements.txt': 'prometheus-client==0.19.0\n',
  'services/error_bus/requirements-dev.txt': 'pytest==7.4.0\n',
  'shared/__init__.py': '',
  'shared/util.py': 'import zmq\n',
  'shared/pyproject.toml': '[project]\nname = "shared"\ndependencies = ["pyzmq>=25"]\n',
  'requirements.txt': 'numpy==1.26.4\n',
  'requirements.test.txt': 'pytest==7.4.0\n',
  'docker/families/torch/Dockerfile': [
    'FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04',
    'RUN apt-get update && apt-get install -y --no-install-recommends \\',
    '    ffmpeg libsndfile1 \\',
    '    portaudio19-dev && rm -rf /var/lib/apt/lists/*',
    'RUN pip install --extra-index-url https://download.pytorch.org/whl/cu121 torch==2.1.2',
    '',
  ].join('\n'),
};

describe('init: the requirement files of each image family', () => {
  it('takes the nearest file to each script and those of the packages its code imports, not development files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'init-reqs-'));
    for (const [f, text] of Object.entries(TREE)) {
      mkdirSync(dirname(join(dir, f)), { recursive: true });
      writeFileSync(join(dir, f), text);
    }
    const r = cli(['init', '--format', 'json'], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).written.requirements).toEqual({
      // registry.py: nearest is the top-level file; it imports shared/ (shared/pyproject.toml).
      // bus.py: its own folder's requirements.txt (not requirements-dev.txt).
      cpu: ['requirements.txt', 'services/error_bus/requirements.txt', 'shared/pyproject.toml'],
      // tts.py, in a *_gpu group: the top-level file, and shared/'s.
      gpu: ['requirements.txt', 'shared/pyproject.toml'],
    });
    const spec = parse(readFileSync(join(dir, 'agent-infra.yaml'), 'utf8')) as {
      images: Record<string, { requirements: string[]; gpu?: boolean }>;
    };
    expect(spec.images['gpu']!.gpu).toBe(true);
    expect(readFileSync(join(dir, 'agent-infra.yaml'), 'utf8')).toContain(
      '      - shared/pyproject.toml  # what shared/ needs, imported by ServiceRegistry',
    );
    // The repository's own Dockerfile: hints to confirm, as comments, never values.
    expect(JSON.parse(r.stdout).written.dockerfileHints).toEqual([
      {
        file: 'docker/families/torch/Dockerfile',
        aptPackages: ['ffmpeg', 'libsndfile1', 'portaudio19-dev'],
        indexUrls: ['https://download.pytorch.org/whl/cu121'],
      },
    ]);
    expect(readFileSync(join(dir, 'agent-infra.yaml'), 'utf8')).toContain(
      '#   docker/families/torch/Dockerfile: apt ffmpeg libsndfile1 portaudio19-dev; pip index https://download.pytorch.org/whl/cu121\n',
    );
    // What the families install covers every import: check finds no missing requirement.
    const check = cli(['check', '--format', 'json'], dir);
    const codes = (JSON.parse(check.stdout).diagnostics as { code: string }[]).map((d) => d.code);
    expect(codes).not.toContain('missing-requirement');
  });
});
