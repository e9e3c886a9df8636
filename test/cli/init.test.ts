/** `agent-infra init`: a spec for a repository from what is in it, then `check` on that spec. */
import { describe, expect, it } from 'vitest';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseNvidiaSmi } from '../../lib/init/discover.ts';
import { cli, HAS_UPSTREAM, STACK, UPSTREAM } from '../helpers.ts';

const NO_GPU_PATH = { PATH: '/usr/bin:/bin' };

/** A repository with a snapshot's two configs at the two-PC system's paths (and the source slice when asked). */
function repo(snapshot: string, opts: { source?: boolean; pc2?: boolean } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), `init-${snapshot}-`));
  if (opts.source) cpSync(join(UPSTREAM, 'src-9ff5bdfb'), dir, { recursive: true });
  mkdirSync(join(dir, 'main_pc_code', 'config'), { recursive: true });
  cpSync(join(UPSTREAM, `${snapshot}_mainpc.yaml`), join(dir, 'main_pc_code', 'config', 'startup_config.yaml'));
  if (opts.pc2 !== false) {
    mkdirSync(join(dir, 'pc2_code', 'config'), { recursive: true });
    cpSync(join(UPSTREAM, `${snapshot}_pc2.yaml`), join(dir, 'pc2_code', 'config', 'startup_config.yaml'));
  }
  return dir;
}

function initJson(dir: string, args: string[] = [], env: NodeJS.ProcessEnv = NO_GPU_PATH) {
  const r = cli(['init', dir, '--format', 'json', ...args], dir, env);
  return {
    ...r,
    json: JSON.parse(r.stdout) as { ok: boolean; written?: any; diagnostics: { code: string; message: string }[] },
  };
}

function checkErrors(dir: string, extra: string[] = []) {
  const r = cli(['check', '--spec', join(dir, 'agent-infra.yaml'), '--format', 'json', ...extra], dir);
  const j = JSON.parse(r.stdout) as {
    diagnostics: { code: string; severity: string; message: string; line: number | null; file: string | null }[];
  };
  return { code: r.code, errors: j.diagnostics.filter((d) => d.severity === 'error') };
}

/** A fake nvidia-smi on PATH that prints `out` (and exits `status`). */
function fakeNvidiaSmi(out: string, status = 0): NodeJS.ProcessEnv {
  const bin = mkdtempSync(join(tmpdir(), 'nvidia-smi-'));
  writeFileSync(
    join(bin, 'nvidia-smi'),
    `#!/bin/sh\n[ "$1 $2" = "--query-gpu=name,memory.total,index --format=csv" ] || { echo "unexpected arguments: $*" >&2; exit 64; }\ncat <<'EOF'\n${out}EOF\nexit ${status}\n`,
  );
  chmodSync(join(bin, 'nvidia-smi'), 0o755);
  return { PATH: `${bin}:/usr/bin:/bin` };
}

/** What the real configs are known to hold that check rightly reports (../shared/upstream/README.md). */
const REAL_DEFECTS = new Set(['port-conflict', 'dependency-cycle', 'unknown-dependency', 'duplicate-agent']);

describe.skipIf(!HAS_UPSTREAM)('init on the real configs', () => {
  it.each([
    ['20250706_6584679d', 0],
    ['20250708_60ea66cb', 0],
    ['20250719_b2b4e0c2', 0],
    ['20250731_afcc8738', 0],
    ['20250814_9ff5bdfb', 1],
  ])("writes a spec for %s that check takes, with only the configs' own defects as errors", (snapshot, vramFigures) => {
    const dir = repo(snapshot);
    const r = initJson(dir);
    expect(r.code).toBe(0);
    const w = r.json.written;
    expect(w.machines.map((m: any) => [m.name, m.config, m.gpuSource])).toEqual([
      ['mainpc', 'main_pc_code/config/startup_config.yaml', 'default'],
      ['pc2', 'pc2_code/config/startup_config.yaml', 'default'],
    ]);
    expect(w.vram).toHaveLength(vramFigures);
    const spec = parse(readFileSync(join(dir, 'agent-infra.yaml'), 'utf8'));
    expect(spec.machines.mainpc.gpus).toEqual([{ model: 'NVIDIA GeForce RTX 4090', vramGiB: 24, device: 0 }]);
    expect(spec.machines.pc2.gpus).toEqual([{ model: 'NVIDIA GeForce RTX 3060', vramGiB: 12, device: 0 }]);
    expect(spec.machines.mainpc.addressEnv).toBe('MAIN_PC_IP');
    expect(spec.machines.pc2.addressEnv).toBe('PC2_IP');
    const c = checkErrors(dir);
    expect(c.errors.filter((d) => !REAL_DEFECTS.has(d.code))).toEqual([]);
    expect(c.code).toBe(c.errors.length ? 1 : 0);
  });

  it('finds 54 + 23 agents in the roadmap-era configs and the one cycle the README names', () => {
    const dir = repo('20250719_b2b4e0c2');
    expect(initJson(dir).json.written.machines.map((m: any) => m.agents)).toEqual([54, 23]);
    expect(
      checkErrors(dir)
        .errors.filter((d) => d.code === 'dependency-cycle')
        .map((d) => d.message),
    ).toEqual([
      'dependency cycle: StreamingInterruptHandler -> StreamingTTSAgent -> TTSService -> StreamingInterruptHandler; remove one of these dependencies',
    ]);
  });

  it('takes the VRAM figure, the GPU groups and PORT_OFFSET from the newest configs, each with where it came from', () => {
    const dir = repo('20250814_9ff5bdfb');
    initJson(dir);
    const text = readFileSync(join(dir, 'agent-infra.yaml'), 'utf8');
    const file = readFileSync(join(dir, 'main_pc_code', 'config', 'startup_config.yaml'), 'utf8').split('\n');
    const line = file.findIndex((l) => /^\s+vram_soft_limit_mb: 22000$/.test(l)) + 1;
    expect(line).toBeGreaterThan(0);
    // 22000 MiB / 1024 = 21.48..., to one decimal as the plan converts it.
    expect(text).toContain(
      `  ModelOpsCoordinator: {vramGiB: 21.5}  # main_pc_code/config/startup_config.yaml:${line} vram_soft_limit_mb: 22000\n`,
    );
    const spec = parse(text);
    expect(Object.keys(spec.groups)).toEqual([
      'learning_gpu',
      'reasoning_gpu',
      'speech_gpu',
      'vision_dream_gpu',
      'vision_gpu',
    ]);
    for (const g of Object.values(spec.groups)) expect(g).toEqual({ family: 'gpu' });
    expect(spec.variables).toEqual({ PORT_OFFSET: 0 });
    expect(spec.source).toBeUndefined();
    // The card's 24 GiB less the 21.5 its config names leaves 2.5 for the GPU agents that name none:
    // less than half a GiB each, which no GPU agent runs in. Said plainly, no share guessed, a TODO each.
    expect(spec.defaults.vramGiB).toBeGreaterThan(0);
    const n = Number(/leaves 2\.5 GiB for (\d+) GPU agents that name none, ([\d.]+) GiB each/.exec(text)?.[1]);
    expect(n).toBeGreaterThan(5);
    expect(text).toMatch(
      /vramGiB: [\d.]+ {2}# TODO: the figures cannot fit: mainpc's 24 GiB less the 21\.5 GiB its configs name \(ModelOpsCoordinator's vram_soft_limit_mb\)/,
    );
    expect(text.match(/^ {2}# \w+: \{vramGiB: TODO\}$/gm)).toHaveLength(n);
    expect(checkErrors(dir).errors).toEqual([]);
  });

  it('reads the source slice below the repository: source ., framework baseagent from the scripts', () => {
    const dir = repo('20250814_9ff5bdfb', { source: true });
    const r = initJson(dir);
    expect(r.code).toBe(0);
    expect(r.json.written.source).toBe('.');
    expect(r.json.written.framework).toBe('baseagent');
    const text = readFileSync(join(dir, 'agent-infra.yaml'), 'utf8');
    // 13 scripts in the slice; two do not compile; of the other 11, the error bus and the relay are no BaseAgent.
    expect(text).toContain(
      '  framework: baseagent  # 9 of the 11 scripts read subclass BaseAgent (2 more do not compile)',
    );
    // The slice's only requirement file is common/pyproject.toml (pydantic, python-dotenv, redis, pyzmq,
    // psutil, PyYAML): init gives it to both families, since agents of each import common/.
    expect(r.json.written.requirements).toEqual({ cpu: ['common/pyproject.toml'], gpu: ['common/pyproject.toml'] });
    // Images that install only that start no agent of the slice: every BaseAgent imports nats through
    // common/error_bus, the error bus prometheus_client. Every agent is left out, and that is an error.
    const loose = checkErrors(dir);
    expect(loose.code).toBe(1);
    expect(loose.errors.map((d) => d.code)).toEqual(['left-out']);
    const summary = cli(['check', '--spec', join(dir, 'agent-infra.yaml')], dir);
    expect(summary.stdout).toContain(': 0 agents on 2 machines; 72 left out (72 cannot start, 0 blocked)\n');
    expect(summary.stdout).toContain('\nstart levels: none (no agent is deployed)\nsingle host: nothing to deploy\n');
    const c = checkErrors(dir, ['--strict']);
    // The slice holds 13 of the 68 scripts: the others are missing there, two do not compile, and the
    // rest import modules the families do not install.
    expect([...new Set(c.errors.map((d) => d.code))].sort()).toEqual([
      'missing-module',
      'missing-requirement',
      'missing-script',
      'port-conflict',
      'script-syntax-error',
    ]);
    // protoc's output is no distribution: the fix is to generate it.
    expect(
      c.errors.filter((d) => d.code === 'missing-requirement' && /relay_pb2\b/.test(d.message)).map((d) => d.message),
    ).toEqual([
      'SpeechRelayService imports relay_pb2, code that protoc generates from a .proto file and that is not in the source tree; generate it (python -m grpc_tools.protoc) where the code imports it from, before the images are built',
    ]);
    // One diagnostic per import line, naming every agent it reaches in each family.
    const nats = c.errors.filter((d) => d.code === 'missing-requirement' && /import nats \(nats-py\)/.test(d.message));
    expect(nats.map((d) => `${d.file!.replace(/^.*?(common)/, '$1')}:${d.line}`)).toEqual([
      'common/error_bus/nats_client.py:8',
    ]);
    expect(nats[0]!.message).toMatch(
      /^AdvancedRouter, .* \(family 'cpu': common\/pyproject\.toml\) and LearningManager and StreamingTTSAgent \(family 'gpu': common\/pyproject\.toml\) import nats \(nats-py\), which their image families do not install: they cannot start without it; add nats-py to the requirements of 'cpu' and 'gpu'$/,
    );
    const broken = [
      ...new Set(
        c.errors
          .filter((d) => d.code === 'script-syntax-error')
          .map((d) => d.file!.replace(/^.*?(main_pc_code|pc2_code)/, '$1')),
      ),
    ].sort();
    // The two scripts, and two pc2 utilities they import (each fails Python's own ast.parse).
    expect(broken).toEqual([
      'main_pc_code/FORMAINPC/tiny_llama_service_enhanced.py',
      'pc2_code/agents/cache_manager.py',
      'pc2_code/utils/config_loader.py',
      'pc2_code/utils/pc2_error_publisher.py',
    ]);
  });

  it('writes the machine whose config does not parse, and check names the line', () => {
    const dir = repo('20250809_9c83ebbd', { pc2: false });
    const r = initJson(dir);
    expect(r.code).toBe(0);
    expect(r.json.written.machines.map((m: any) => m.name)).toEqual(['mainpc']);
    const c = checkErrors(dir);
    expect(c.code).toBe(2);
    expect(c.errors.map((d) => d.code)).toContain('parse-error');
    expect(c.errors.find((d) => d.code === 'parse-error')!.line).toBeGreaterThanOrEqual(240);
  });

  it('takes the GPUs of this host from nvidia-smi for the machine whose card it is', () => {
    const dir = repo('20250814_9ff5bdfb');
    const r = initJson(
      dir,
      [],
      fakeNvidiaSmi('name, memory.total [MiB], index\nNVIDIA GeForce RTX 3060, 12288 MiB, 0\n'),
    );
    expect(r.code).toBe(0);
    expect(r.json.written.machines.map((m: any) => [m.name, m.gpuSource])).toEqual([
      ['mainpc', 'default'],
      ['pc2', 'nvidia-smi'],
    ]);
    const text = readFileSync(join(dir, 'agent-infra.yaml'), 'utf8');
    expect(text).toContain(
      '    gpus:  # this host\'s GPUs (nvidia-smi)\n      - {model: "NVIDIA GeForce RTX 3060", vramGiB: 12, device: 0}\n',
    );
    expect(text).toContain(
      "    gpus:  # the two-PC system's default, not detected (nvidia-smi here shows another machine); TODO: confirm with nvidia-smi on mainpc\n",
    );
  });
});

describe('init', () => {
  function singleMachineRepo(): string {
    const dir = mkdtempSync(join(tmpdir(), 'init-one-'));
    mkdirSync(join(dir, 'robot', 'config'), { recursive: true });
    writeFileSync(
      join(dir, 'robot', 'config', 'startup_config.yaml'),
      [
        'agent_groups:',
        '  core:',
        '    Planner:',
        '      script_path: agents/planner.py',
        '      port: 7000',
        '      health_check_port: 8000',
        '  vision_gpu:',
        '    Detector:',
        '      script_path: agents/detector.py',
        '      port: 7010',
        '      health_check_port: 8010',
        '      config:',
        '        max_vram_mb: 6144',
        '',
      ].join('\n'),
    );
    return dir;
  }

  it('names a machine after its folder and gives it every GPU nvidia-smi lists', () => {
    const dir = singleMachineRepo();
    const env = fakeNvidiaSmi(
      'name, memory.total [MiB], index\nNVIDIA A100-SXM4-80GB, 81920 MiB, 0\nNVIDIA A100-SXM4-80GB, 81920 MiB, 1\n',
    );
    const r = initJson(dir, [], env);
    expect(r.code).toBe(0);
    const spec = parse(readFileSync(join(dir, 'agent-infra.yaml'), 'utf8'));
    expect(Object.keys(spec.machines)).toEqual(['robot']);
    expect(spec.machines.robot).toEqual({
      config: 'robot/config/startup_config.yaml',
      addressEnv: 'ROBOT_IP',
      gpus: [
        { model: 'NVIDIA A100-SXM4-80GB', vramGiB: 80, device: 0 },
        { model: 'NVIDIA A100-SXM4-80GB', vramGiB: 80, device: 1 },
      ],
    });
    expect(spec.groups).toEqual({ vision_gpu: { family: 'gpu' } });
    expect(spec.agents).toEqual({ Detector: { vramGiB: 6 } });
    expect(readFileSync(join(dir, 'agent-infra.yaml'), 'utf8')).toContain('addressEnv: ROBOT_IP  # TODO:');
    expect(checkErrors(dir)).toEqual({ code: 0, errors: [] });
  });

  it('writes no GPU and says why when nvidia-smi fails', () => {
    const dir = singleMachineRepo();
    const r = initJson(
      dir,
      [],
      fakeNvidiaSmi('NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.\n', 9),
    );
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'agent-infra.yaml'), 'utf8')).toContain(
      '    gpus: []  # TODO: no GPU known (nvidia-smi exited with 9: NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.)',
    );
    expect(r.json.written.machines[0].gpuSource).toBe('none');
  });

  it('leaves out a GPU whose name no spec can hold, and says so', () => {
    const dir = singleMachineRepo();
    const r = initJson(
      dir,
      [],
      fakeNvidiaSmi(
        `name, memory.total [MiB], index\n${'X'.repeat(80)} "quoted" # card, 8192 MiB, 0\nNVIDIA L4, 0 MiB, 1\n`,
      ),
    );
    expect(r.code).toBe(0);
    const text = readFileSync(join(dir, 'agent-infra.yaml'), 'utf8');
    expect(text).toMatch(
      / {4}gpus: \[\] {2}# TODO: no GPU known \(nvidia-smi reports GPUs a spec cannot name \(X{60}, NVIDIA L4\)\)/,
    );
    expect(checkErrors(dir)).toEqual({ code: 0, errors: [] });
  });

  it('writes a spec for configs that are not YAML or name agents badly, and check reports each on one line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'init-hostile-'));
    mkdirSync(join(dir, 'a', 'config'), { recursive: true });
    writeFileSync(
      join(dir, 'a', 'config', 'startup_config.yaml'),
      Buffer.from([0x61, 0x3a, 0x20, 0x9e, 0xff, 0x00, 0x0a]),
    );
    mkdirSync(join(dir, 'b'));
    writeFileSync(
      join(dir, 'b', 'startup_config_system.yaml'),
      'agent_groups:\n  g:\n    "Bad\\nName: x":\n      script_path: x.py\n      port: 7000\n',
    );
    const r = initJson(dir);
    expect(r.code).toBe(0);
    // 'system' names one of the outputs: the machine gets another name, marked as a guess.
    expect(r.json.written.machines.map((m: any) => m.name)).toEqual(['a', 'system-machine']);
    const check = cli(['check', '--spec', join(dir, 'agent-infra.yaml')], dir);
    expect(check.code).toBe(2);
    const lines = check.stderr.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(
        /^error a\/config\/startup_config\.yaml:1: byte 0x9e is not valid UTF-8; save the file as UTF-8 \[parse-error\]$/,
      ),
      expect.stringMatching(
        /^error b\/startup_config_system\.yaml:3 agent_groups\.g\.Bad\?Name: x: agent name 'Bad\?Name: x' has characters an agent name may not have; .* \[invalid-value\]$/,
      ),
    ]);
    expect(check.stderr).not.toMatch(STACK);
  });

  it('fails with --force where agent-infra.yaml is a folder, with nothing changed there', () => {
    const dir = singleMachineRepo();
    mkdirSync(join(dir, 'agent-infra.yaml'));
    const r = cli(['init', dir, '--force'], dir, NO_GPU_PATH);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^error cannot write agent-infra\.yaml \(EISDIR[^)]*\); nothing was changed there: make the folder writable or run init where you can write \[unwritable-output\]\n$/,
    );
    expect(readdirSync(dir).sort()).toEqual(['agent-infra.yaml', 'robot']);
  });

  it('fails on a --source that is not a folder', () => {
    const dir = singleMachineRepo();
    const r = cli(['init', dir, '--source', join(dir, 'nowhere')], dir, NO_GPU_PATH);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--source \S+nowhere is not a folder; pass the root of the agents' code \[missing-file\]/);
    expect(existsSync(join(dir, 'agent-infra.yaml'))).toBe(false);
  });

  it('fails on an empty folder with a clear error and writes nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'init-empty-'));
    const r = cli(['init', dir], dir, NO_GPU_PATH);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^error no startup config below \. \(looked for main_pc_code\/config\/startup_config\.yaml, pc2_code\/config\/startup_config\.yaml and any startup_config\*\.yaml\); run init in the system's repository, or write agent-infra\.yaml by hand \(README\) \[no-startup-config\]\n$/,
    );
    expect(r.stderr).not.toMatch(STACK);
    expect(existsSync(join(dir, 'agent-infra.yaml'))).toBe(false);
  });

  it('fails on a folder that does not exist', () => {
    const r = cli(['init', '/nonexistent/repo'], tmpdir(), NO_GPU_PATH);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /\/nonexistent\/repo is not a folder; pass the repository's folder to init \[missing-file\]/,
    );
  });

  it('refuses to replace a spec; --force replaces it and keeps the old one', () => {
    const dir = singleMachineRepo();
    writeFileSync(join(dir, 'agent-infra.yaml'), 'name: mine\n');
    const r = cli(['init', dir], dir, NO_GPU_PATH);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'error agent-infra.yaml:1: agent-infra.yaml exists and is left as it is; edit it, or run init --force to replace it (the old one is kept as agent-infra.yaml.bak) [spec-exists]',
    );
    expect(readFileSync(join(dir, 'agent-infra.yaml'), 'utf8')).toBe('name: mine\n');
    const f = cli(['init', dir, '--force'], dir, NO_GPU_PATH);
    expect(f.code).toBe(0);
    expect(f.stdout).toContain('agent-infra: wrote agent-infra.yaml (the old one is agent-infra.yaml.bak)');
    expect(readFileSync(join(dir, 'agent-infra.yaml.bak'), 'utf8')).toBe('name: mine\n');
    expect(parse(readFileSync(join(dir, 'agent-infra.yaml'), 'utf8')).machines.robot.config).toBe(
      'robot/config/startup_config.yaml',
    );
    // A second --force keeps both earlier specs.
    expect(cli(['init', dir, '--force', '--quiet'], dir, NO_GPU_PATH)).toMatchObject({ code: 0, stdout: '' });
    expect(existsSync(join(dir, 'agent-infra.yaml.bak.1'))).toBe(true);
  });

  it('prints its usage with --help', () => {
    const r = cli(['init', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^usage: agent-infra init \[DIR\] \[--source DIR\] \[--force\] \[--format text\|json\] \[--quiet\]\n/,
    );
  });
});

describe('parseNvidiaSmi', () => {
  it.each([
    [
      'name, memory.total [MiB], index\nNVIDIA GeForce RTX 4090, 24564 MiB, 0\n',
      [{ model: 'NVIDIA GeForce RTX 4090', vramGiB: 24, device: 0 }],
      undefined,
    ],
    [
      'NVIDIA GeForce RTX 3060, 12288 MiB, 1\r\nTesla T4, 15360 MiB, 0\r\n',
      [
        { model: 'Tesla T4', vramGiB: 15, device: 0 },
        { model: 'NVIDIA GeForce RTX 3060', vramGiB: 12, device: 1 },
      ],
      undefined,
    ],
    ['name, memory.total [MiB], index\n', [], 'nvidia-smi reports no GPU'],
    ['No devices were found\n', [], 'nvidia-smi printed rows that are not GPUs: No devices were found'],
    [
      'A, 100 MiB, 0\nB, 200 MiB, 0\n',
      [{ model: 'A', vramGiB: 0.1, device: 0 }],
      'nvidia-smi printed rows that are not GPUs: B, 200 MiB, 0',
    ],
  ])('reads %j', (csv, gpus, why) => {
    expect(parseNvidiaSmi(csv)).toEqual(why ? { gpus, why } : { gpus });
  });
});
