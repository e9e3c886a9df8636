/**
 * Inputs that would hang, grow without end or lie: each is refused with a diagnostic, its code and
 * exit 2, never a stack trace, and a synth that refuses leaves its output folder as it was.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstInvalidUtf8 } from '../../lib/io/read-input.ts';
import { cli, exampleWithOutput, ROOT, STACK, treeHash } from '../helpers.ts';

describe('inputs that would hang or grow without end', () => {
  const cases: [string, (dir: string) => string, RegExp][] = [
    [
      'a FIFO with no writer',
      (dir) => (execFileSync('mkfifo', [join(dir, 'fifo.yaml')]), join(dir, 'fifo.yaml')),
      /fifo\.yaml: is not a regular file \(a FIFO, socket or device\); fix machines\.pc2\.config or pass --machine pc2=FILE \[unreadable-file\]/,
    ],
    [
      '/dev/zero',
      () => '/dev/zero',
      /zero: is not a regular file \(a FIFO, socket or device\); fix machines\.pc2\.config or pass --machine pc2=FILE \[unreadable-file\]/,
    ],
    [
      'a 9 MiB file',
      (dir) => (writeFileSync(join(dir, 'big.yaml'), `# ${'x'.repeat(9 * 2 ** 20)}\n`), join(dir, 'big.yaml')),
      /big\.yaml: is 9\.0 MiB, more than the 8 MiB an input may be; fix machines\.pc2\.config or pass --machine pc2=FILE \[unreadable-file\]/,
    ],
    [
      'a symbolic link loop',
      (dir) => (
        symlinkSync(join(dir, 'loop-b.yaml'), join(dir, 'loop-a.yaml')),
        symlinkSync(join(dir, 'loop-a.yaml'), join(dir, 'loop-b.yaml')),
        join(dir, 'loop-a.yaml')
      ),
      /loop-a\.yaml: is a symbolic link loop; fix machines\.pc2\.config or pass --machine pc2=FILE \[unreadable-file\]/,
    ],
    [
      'a file that is not UTF-8',
      (dir) => (
        writeFileSync(
          join(dir, 'latin1.yaml'),
          Buffer.from('pc2_services:\n- name: Caf\xe9\n  port: 7100\n', 'latin1'),
        ),
        join(dir, 'latin1.yaml')
      ),
      /latin1\.yaml:2: byte 0xe9 is not valid UTF-8; save the file as UTF-8 \[parse-error\]/,
    ],
  ];
  it.each(cases)('refuses %s as a startup config with exit 2, and synth writes nothing', (_name, make, message) => {
    const { dir, spec, out } = exampleWithOutput();
    const before = treeHash(out);
    const file = make(dir);
    const t0 = performance.now();
    for (const command of ['check', 'synth']) {
      const r = cli(
        [command, '--spec', spec, '--machine', `pc2=${file}`, ...(command === 'synth' ? ['--out', out] : [])],
        dir,
      );
      expect([command, r.code]).toEqual([command, 2]);
      expect(r.stderr).toMatch(message);
      expect(r.stderr + r.stdout).not.toMatch(STACK);
    }
    // Never a hang: two runs of about 2 s each, with room for a loaded machine (10 times).
    expect(performance.now() - t0).toBeLessThan(60_000);
    expect(treeHash(out)).toBe(before);
  });

  it('refuses a FIFO given as the spec', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hostile-'));
    execFileSync('mkfifo', [join(dir, 'agent-infra.yaml')]);
    const r = cli(['check', '--spec', join(dir, 'agent-infra.yaml')], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'agent-infra.yaml: is not a regular file (a FIFO, socket or device); pass the spec file to --spec [unreadable-file]',
    );
  });

  it('ignores a port lock that is a FIFO, with a warning that says so', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hostile-'));
    cpSync(join(ROOT, 'examples', 'two-pc'), dir, { recursive: true, filter: (s) => !s.endsWith('.lock.yaml') });
    execFileSync('mkfifo', [join(dir, 'agent-infra.lock.yaml')]);
    const r = cli(['check', '--spec', join(dir, 'agent-infra.yaml')], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      'warning agent-infra.lock.yaml:1: the port lock cannot be read and is ignored (it is not a regular file (a FIFO, socket or device)); delete it to have it written anew [parse-error]',
    );
  });

  it('leaves the output folder as it was when a config in it is refused', () => {
    const { dir, spec, out } = exampleWithOutput();
    const before = treeHash(out);
    mkdirSync(join(dir, 'sub'));
    writeFileSync(
      join(dir, 'sub', 'bomb.yaml'),
      `a: &a [x, x, x, x, x, x, x, x, x, x]\n${[...'bcdefghi'].map((c, i) => `${c}: &${c} [${Array(10).fill(`*${'abcdefgh'[i]}`).join(', ')}]`).join('\n')}\n`,
    );
    const r = cli(['synth', '--spec', spec, '--machine', `pc2=${join(dir, 'sub', 'bomb.yaml')}`, '--out', out], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('aliases expand the document past 100,000 nodes');
    expect(treeHash(out)).toBe(before);
  });
});

describe('firstInvalidUtf8', () => {
  it.each([
    ['ASCII', [0x61, 0x62], -1],
    ['a two-byte letter', [0xc3, 0xa9], -1],
    ['an emoji', [0xf0, 0x9f, 0x8e, 0x89], -1],
    ['a Latin-1 byte', [0x61, 0xe9, 0x62], 1],
    ['an overlong slash', [0xc0, 0xaf], 0],
    ['a UTF-16 surrogate', [0x61, 0xed, 0xa0, 0x80], 1],
    ['a truncated sequence', [0xe2, 0x82], 0],
    ['a code point past U+10FFFF', [0xf4, 0x90, 0x80, 0x80], 0],
  ])('finds %s', (_name, bytes, expected) => {
    expect(firstInvalidUtf8(Uint8Array.from(bytes))).toBe(expected);
  });
});

describe('dangerous choices refused', () => {
  /** The example with its spec edited; the last argument names the extra CLI arguments. */
  const edited = (edit: (t: string) => string) => {
    const { dir, spec, out } = exampleWithOutput();
    writeFileSync(spec, edit(readFileSync(spec, 'utf8')));
    return { dir, spec, out };
  };
  const cases: [string, (t: string) => string, string[], string][] = [
    [
      'the kube-system namespace',
      (t) => t.replace('namespace: voice-assistant', 'namespace: kube-system'),
      [],
      "agent-infra.yaml:4 namespace: is a namespace Kubernetes or every workload shares; the output labels it PodSecurity restricted and denies all traffic in it by default: name a namespace of the system's own; see the spec reference in the README [invalid-spec]",
    ],
    [
      'the default namespace',
      (t) => t.replace('namespace: voice-assistant', 'namespace: default'),
      [],
      'agent-infra.yaml:4 namespace: is a namespace Kubernetes or every workload shares',
    ],
    [
      'an inverted port range',
      (t) => t.replace('range: {start: 7170, end: 7199}', 'range: {start: 7199, end: 7170}'),
      [],
      'agent-infra.yaml:27 machines.pc2.ports.range.end: the range is inverted: start must not be above end; see the spec reference in the README [invalid-spec]',
    ],
    [
      'a uid of 2^32',
      (t) => t.replace('defaults:\n', 'defaults:\n  user: 4294967296\n'),
      [],
      'defaults.user: too big: expected number to be <=4294967294',
    ],
    [
      'two GPUs on one device index',
      (t) =>
        t.replace(
          '- {model: NVIDIA GeForce RTX 4090, vramGiB: 24, device: 0}',
          '- {model: NVIDIA GeForce RTX 4090, vramGiB: 24, device: 0}\n      - {model: NVIDIA GeForce RTX 4090, vramGiB: 24, device: 0}',
        ),
      [],
      "agent-infra.yaml:14 machines.mainpc.gpus[1].device: device 0 is also GPU 0's; give each GPU its own device index; see the spec reference in the README [invalid-spec]",
    ],
    [
      'one startup config for two machines',
      (t) =>
        t.replace('config: pc2_code/config/startup_config.yaml', 'config: main_pc_code/config/startup_config.yaml'),
      [],
      'agent-infra.yaml:17 machines.pc2.config: machines mainpc and pc2 both read main_pc_code/config/startup_config.yaml; give each machine its own startup config [invalid-spec]',
    ],
    [
      'a machine named like the system chart',
      (t) => t.replace('  pc2:\n    config:', '  system:\n    config:'),
      [],
      "agent-infra.yaml:16 machines.system: names one of the system's own outputs (system, gpu-sharing, kustomization, single-host, redis, nats); rename the machine; see the spec reference in the README [invalid-spec]",
    ],
    [
      '--machine named kustomization',
      (t) => t,
      ['--machine', 'kustomization=pc2_code/config/startup_config.yaml'],
      "--machine kustomization: the name is one of the system's own outputs (system, gpu-sharing, kustomization, single-host, redis, nats); name the machine otherwise [usage]",
    ],
    [
      '--machine given twice',
      (t) => t,
      ['--machine', 'pc2=pc2_code/config/startup_config.yaml', '--machine', 'pc2=pc2_code/config/startup_config.yaml'],
      '--machine pc2 is given twice; give each machine once [usage]',
    ],
  ];
  it.each(cases)('refuses %s with exit 2, writing nothing', (_name, edit, extra, message) => {
    const { dir, spec, out } = edited(edit);
    const before = treeHash(out);
    for (const command of ['check', 'synth']) {
      const r = cli([command, '--spec', spec, ...extra, ...(command === 'synth' ? ['--out', out] : [])], dir);
      expect([command, r.code]).toEqual([command, 2]);
      expect(r.stderr).toContain(message);
      expect(r.stderr + r.stdout).not.toMatch(STACK);
    }
    expect(treeHash(out)).toBe(before);
  });

  it('fails a privileged port, which a non-root agent without capabilities cannot bind, with exit 1', () => {
    const { dir, spec, out } = exampleWithOutput();
    const cfg = join(dir, 'pc2_code', 'config', 'startup_config.yaml');
    writeFileSync(cfg, readFileSync(cfg, 'utf8').replace('port: ${PORT_OFFSET}+7150', 'port: 80'));
    const before = treeHash(out);
    const r = cli(['synth', '--spec', spec, '--out', out], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /pc2_services\[0\]\.port: service port 80 of CentralErrorBus is below 1024: the agent runs as uid 10001 without capabilities and cannot bind it; pick a port from 1024 up \[invalid-value\]/,
    );
    expect(treeHash(out)).toBe(before);
  });
});

describe('secrets in a config', () => {
  it('never writes a literal secret: references in every output, the names in .env.example, a warning where the value is', () => {
    const { dir, spec } = exampleWithOutput();
    const cfg = join(dir, 'pc2_code', 'config', 'startup_config.yaml');
    writeFileSync(
      cfg,
      readFileSync(cfg, 'utf8').replace(
        '    LOG_LEVEL: INFO\n',
        '    LOG_LEVEL: INFO\n    OPENAI_API_KEY: sk-canary-one\n    DB_PASSWORD: canary-two\n    HF_AUTH: canary-three\n',
      ),
    );
    writeFileSync(
      spec,
      readFileSync(spec, 'utf8').replace(
        '  SystemHealthManager: {startupSeconds: 2}',
        '  SystemHealthManager: {startupSeconds: 2, secrets: [HF_AUTH]}',
      ),
    );
    const out = join(dir, 'fresh');
    const r = cli(['synth', '--spec', spec, '--out', out], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      "warning pc2_code/config/startup_config.yaml:7 global_settings.environment.OPENAI_API_KEY: 'OPENAI_API_KEY' looks like a secret and the config holds its value; it is written to no output, the agents get it as a reference (a Secret in Kubernetes, ${OPENAI_API_KEY} from .env in compose): remove the value from the config [literal-secret]",
    );
    expect(r.stderr).toContain("global_settings.environment.DB_PASSWORD: 'DB_PASSWORD' looks like a secret");
    const files: string[] = [];
    const walk = (d: string) =>
      readdirSync(d).forEach((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : files.push(join(d, n))));
    walk(out);
    const all = files.map((f) => readFileSync(f, 'utf8')).join('\n');
    for (const canary of ['sk-canary-one', 'canary-two', 'canary-three']) expect(all).not.toContain(canary);
    const pc2Compose = readFileSync(join(out, 'compose', 'docker-compose.pc2.yml'), 'utf8');
    expect(pc2Compose).toContain('OPENAI_API_KEY: "${OPENAI_API_KEY:-}"');
    expect(pc2Compose).toContain('DB_PASSWORD: "${DB_PASSWORD:-}"');
    expect(readFileSync(join(out, 'compose', '.env.example'), 'utf8')).toMatch(/^DB_PASSWORD=$/m);
    const pc2K8s = readFileSync(join(out, 'k8s', 'pc2.yaml'), 'utf8');
    expect(pc2K8s).toMatch(/- name: OPENAI_API_KEY\n\s+valueFrom:\n\s+secretKeyRef:/);
  });
});

describe('what a message may show', () => {
  it("never quotes a file outside the spec's folder that is no startup config (a link to a password file)", () => {
    const { dir, spec, out } = exampleWithOutput();
    const secret = join(mkdtempSync(join(tmpdir(), 'outside-')), 'shadow');
    writeFileSync(secret, 'root:$6$CANARYHASH:19000:0:99999:7:::\nuser:$6$OTHERCANARY:19000::::::\n');
    const cfg = join(dir, 'pc2_code', 'config', 'startup_config.yaml');
    rmSync(cfg);
    symlinkSync(secret, cfg);
    const before = treeHash(out);
    for (const command of ['check', 'synth']) {
      const r = cli([command, '--spec', spec, ...(command === 'synth' ? ['--out', out] : [])], dir);
      expect([command, r.code]).toEqual([command, 1]);
      expect(r.stderr).toContain(
        "error pc2_code/config/startup_config.yaml:1: no agents found: expected 'agent_groups' or top-level lists of agents with 'name', got top-level keys 2 (not shown: the file is outside the spec's folder); use one of the layouts in the README [unsupported-layout]",
      );
      expect(r.stderr + r.stdout).not.toContain('CANARY');
    }
    expect(treeHash(out)).toBe(before);
  });

  it('quotes the keys of a file inside the spec folder, where they help', () => {
    const { dir, spec } = exampleWithOutput();
    writeFileSync(join(dir, 'pc2_code', 'config', 'startup_config.yaml'), 'services: 3\nagents_list: {}\n');
    const r = cli(['check', '--spec', spec], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "got top-level keys 'services', 'agents_list'; use one of the layouts in the README [unsupported-layout]",
    );
  });
});

describe('colours', () => {
  // `script` gives the command a terminal: the stream redirected to a file is no terminal.
  const hasScript = spawnSync('script', ['--version']).status === 0;
  // Without the variables that turn colours off whatever the stream (NO_COLOR, CI, NODE_DISABLE_COLORS).
  const quiet = new Set(['NO_COLOR', 'CI', 'NODE_DISABLE_COLORS', 'FORCE_COLOR']);
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !quiet.has(k))),
    TERM: 'xterm-256color',
  };
  const inTerminal = (command: string, dir: string) =>
    spawnSync('script', ['-qec', command, '/dev/null'], { cwd: dir, encoding: 'utf8', env });
  const ESC = '\u001b[';
  it.skipIf(!hasScript)(
    'follow the stream they are written to: diagnostics on a terminal stderr coloured, a piped stdout plain, and the other way round',
    () => {
      if (!hasScript) console.warn('skipping the colour test: the script command is not installed');
      const { dir, spec } = exampleWithOutput();
      const cfg = join(dir, 'pc2_code', 'config', 'startup_config.yaml');
      writeFileSync(cfg, readFileSync(cfg, 'utf8').replace('port: ${PORT_OFFSET}+7140', 'port: ${PORT_OFFSET}+7150'));
      writeFileSync(spec, readFileSync(spec, 'utf8').replace('onConflict: reassign', 'onConflict: error'));
      const node = `"${process.execPath}" "${join(ROOT, 'bin', 'agent-infra.mjs')}" check --spec "${spec}"`;
      const a = inTerminal(`${node} > stdout.txt`, dir);
      expect(a.stdout).toContain(`${ESC}31merror${ESC}39m pc2_code/config/startup_config.yaml:23`);
      expect(readFileSync(join(dir, 'stdout.txt'), 'utf8')).not.toContain(ESC);
      const b = inTerminal(`${node} 2> stderr.txt`, dir);
      expect(b.stdout).toContain(`${ESC}1mvoice-assistant${ESC}22m: 82 agents`);
      expect(readFileSync(join(dir, 'stderr.txt'), 'utf8')).toMatch(
        /^error pc2_code\/config\/startup_config\.yaml:23/m,
      );
      expect(readFileSync(join(dir, 'stderr.txt'), 'utf8')).not.toContain(ESC);
    },
  );
});
