/**
 * Strings and numbers that would land in generated files unchecked, and inputs that `check` passed
 * but `synth` could not build: each is refused by both with its diagnostic and exit code, and a
 * refused synth leaves the output folder as it was. Literal values reach the output escaped.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { cli, exampleWithOutput, STACK, treeHash } from '../helpers.ts';

const SPEC = 'agent-infra.yaml';
const PC2 = 'pc2_code/config/startup_config.yaml';
const MAINPC = 'main_pc_code/config/startup_config.yaml';

/** An edit of one file of the example: replace `from` (which must be there) with `to`. */
type Edit = readonly [file: string, from: string, to: string];

function apply(dir: string, edits: readonly Edit[]): void {
  for (const [file, from, to] of edits) {
    const text = readFileSync(join(dir, file), 'utf8');
    expect(text, `${file} holds the text to edit`).toContain(from);
    writeFileSync(join(dir, file), text.replace(from, to));
  }
}

/** Runs check and synth on the edited example; both must give `code` and `message`; the output is unchanged. */
function refused(edits: readonly Edit[], code: number, message: string): void {
  const { dir, spec, out } = exampleWithOutput();
  apply(dir, edits);
  const before = treeHash(out);
  for (const command of ['check', 'synth']) {
    const r = cli([command, '--spec', spec, ...(command === 'synth' ? ['--out', out] : [])], dir);
    expect([command, r.code]).toEqual([command, code]);
    expect(r.stderr).toContain(message);
    expect(r.stderr + r.stdout).not.toMatch(STACK);
    expect(r.stderr).not.toContain('internal error');
  }
  expect(treeHash(out)).toBe(before);
}

/**
 * An agent whose own config entry cannot start it: with `--strict` check and synth refuse, as for any
 * error, and write nothing; without it the agent is left out (no service, no Deployment), the problem is a
 * warning and both exit 0. The example's pc2 compose file has CentralErrorBus as `central-error-bus`.
 */
function leftOutUnlessStrict(edits: readonly Edit[], message: string): void {
  const { dir, spec, out } = exampleWithOutput();
  const services = () =>
    Object.keys(
      (parse(readFileSync(join(out, 'compose', 'docker-compose.pc2.yml'), 'utf8')) as { services: object }).services,
    );
  expect(services()).toContain('central-error-bus');
  apply(dir, edits);
  const before = treeHash(out);
  for (const command of ['check', 'synth']) {
    const r = cli([command, '--strict', '--spec', spec, ...(command === 'synth' ? ['--out', out] : [])], dir);
    expect([command, r.code]).toEqual([command, 1]);
    expect(r.stderr).toContain(`error ${message}`);
    expect(r.stderr + r.stdout).not.toMatch(STACK);
  }
  expect(treeHash(out)).toBe(before);
  for (const command of ['check', 'synth']) {
    const r = cli([command, '--spec', spec, ...(command === 'synth' ? ['--out', out] : [])], dir);
    expect([command, r.code]).toEqual([command, 0]);
    expect(r.stderr).toContain(`warning ${message}`);
    expect(r.stderr).toMatch(/warning 1 agent left out of what is deployed, 1 that cannot start .*: CentralErrorBus;/);
  }
  expect(services()).not.toContain('central-error-bus');
  expect(readFileSync(join(out, 'k8s', 'pc2.yaml'), 'utf8')).not.toMatch(/name: central-error-bus$/m);
}

describe('an agent whose config entry cannot start it', () => {
  const cases: [string, Edit[], string][] = [
    [
      'an absolute script path (COPY of anything)',
      [[PC2, 'script_path: services/central_error_bus/error_bus.py', 'script_path: /etc/shadow']],
      "pc2_code/config/startup_config.yaml:16 pc2_services[0].script_path: 'script_path' must be relative to the root of the source tree, not absolute; write the script's path from the root of the source tree [invalid-value]",
    ],
    [
      'a script path that leaves the tree',
      [[PC2, 'script_path: services/central_error_bus/error_bus.py', 'script_path: services/../../x.py']],
      "pc2_code/config/startup_config.yaml:16 pc2_services[0].script_path: 'script_path' must stay inside the source tree: no '..' or '.' components",
    ],
    [
      'a script path with a $ and a space',
      [[PC2, 'script_path: services/central_error_bus/error_bus.py', 'script_path: "services/${HOME} x.py"']],
      "pc2_code/config/startup_config.yaml:16 pc2_services[0].script_path: 'script_path' is not a plain relative path (letters, digits, _ . @ + - and /; no spaces, quotes, $ or backslashes)",
    ],
    [
      'no script_path (nothing to start)',
      [[PC2, '  script_path: services/central_error_bus/error_bus.py\n', '']],
      "pc2_code/config/startup_config.yaml:15 pc2_services[0]: agent 'CentralErrorBus' has no script_path, so its container has nothing to start: add 'script_path', or remove the agent [missing-field]",
    ],
  ];
  it.each(cases)('%s: refused with --strict, else left out', (_name, edits, message) =>
    leftOutUnlessStrict(edits, message),
  );
});

describe('strings checked against the grammar of where they go', () => {
  const cases: [string, Edit[], number, string][] = [
    [
      'a newline in a Debian package (a new Dockerfile instruction)',
      [
        [
          SPEC,
          'buildPackages: [build-essential]\n    runtimePackages: []\n    requirements: [requirements/base.txt]',
          'buildPackages: ["build-essential\\nRUN curl x"]\n    runtimePackages: []\n    requirements: [requirements/base.txt]',
        ],
      ],
      2,
      'error agent-infra.yaml:39 images.cpu.buildPackages[0]: is not a Debian package name (lowercase letters, digits, + . -, optionally :arch and =version); see the spec reference in the README [invalid-spec]',
    ],
    [
      'a ; in a package (a second shell command)',
      [[SPEC, 'runtimePackages: [libgomp1]', 'runtimePackages: ["libgomp1; rm -rf /"]']],
      2,
      'error agent-infra.yaml:49 images.gpu-torch.runtimePackages[0]: is not a Debian package name',
    ],
    [
      'a base image on latest',
      [
        [
          SPEC,
          'runtimeBase: python:3.11-slim-bookworm\n    buildPackages: [build-essential]\n    runtimePackages: []\n',
          'runtimeBase: python:latest\n    buildPackages: [build-essential]\n    runtimePackages: []\n',
        ],
      ],
      2,
      'error agent-infra.yaml:38 images.cpu.runtimeBase: is pinned to latest, which moves: give it a version tag or a digest; see the spec reference in the README [invalid-spec]',
    ],
    [
      'an untagged base image',
      [
        [
          SPEC,
          'builderBase: python:3.11-slim-bookworm\n    runtimeBase: python:3.11-slim-bookworm\n    buildPackages: [build-essential]\n    runtimePackages: []\n',
          'builderBase: python\n    runtimeBase: python:3.11-slim-bookworm\n    buildPackages: [build-essential]\n    runtimePackages: []\n',
        ],
      ],
      2,
      'error agent-infra.yaml:37 images.cpu.builderBase: is not pinned: give it a tag or a digest',
    ],
    [
      'a base image with a newline',
      [[SPEC, 'builderBase: python:3.11-slim-bookworm', 'builderBase: "python:3.11\\nUSER root"']],
      2,
      'error agent-infra.yaml:37 images.cpu.builderBase: is not an image reference (name[:tag][@digest], lowercase name, no spaces)',
    ],
    [
      'a requirement file outside the tree',
      [[SPEC, 'requirements: [requirements/base.txt]', 'requirements: [/etc/passwd]']],
      2,
      'error agent-infra.yaml:41 images.cpu.requirements[0]: must be relative to the root of the source tree, not absolute',
    ],
    [
      'an environment name with =',
      [[PC2, '    LOG_LEVEL: INFO', '    "A=B": INFO']],
      1,
      "error pc2_code/config/startup_config.yaml:6 global_settings.environment.A=B: 'A=B' is not an environment variable name (letters, digits and _, not starting with a digit); rename it [invalid-value]",
    ],
    [
      'an image tag with a newline',
      [[SPEC, 'agents:\n', 'tag: "1\\nRUN x"\nagents:\n']],
      2,
      'agent-infra.yaml:68 tag: is not an image tag (letters, digits, _ . -, at most 128)',
    ],
    [
      'a registry with capitals and a space',
      [[SPEC, 'agents:\n', 'registry: "My Registry"\nagents:\n']],
      2,
      'agent-infra.yaml:68 registry: is not an image repository (lowercase [host[:port]/]path, no tag)',
    ],
    [
      'a spec variable holding a $',
      [[SPEC, 'PORT_OFFSET: 0', 'PORT_OFFSET: 0\n  HOME_DIR: "${HOME}"']],
      2,
      'agent-infra.yaml:7 variables.HOME_DIR: must be one line, without $',
    ],
    [
      'a GPU model that makes no node label',
      [[SPEC, 'model: NVIDIA GeForce RTX 3060', 'model: "NVIDIA/GeForce:3060"']],
      2,
      'agent-infra.yaml:21 machines.pc2.gpus[0].model: as a node label (spaces as dashes, with -SHARED) it is not a Kubernetes label value',
    ],
    [
      'an agent name with markup in it',
      [[PC2, '- name: ResourceManager', '- name: "Resource|<b>"']],
      1,
      "agent name 'Resource|<b>' has characters an agent name may not have; agent names are words of letters, digits, _ . - (starting with a letter, at most 63), such as CodeGenerator [invalid-value]",
    ],
  ];
  it.each(cases)('refuses %s', (_name, edits, code, message) => refused(edits, code, message));

  it('keeps a literal $ literal: $$ in compose, $$( in Kubernetes, where each would expand it', () => {
    const { dir, spec } = exampleWithOutput();
    apply(dir, [[PC2, '    LOG_LEVEL: INFO', '    LOG_LEVEL: "a$(HOME)x$y"']]);
    const out = join(dir, 'fresh');
    const r = cli(['synth', '--spec', spec, '--out', out], dir);
    expect(r.code).toBe(0);
    expect(readFileSync(join(out, 'compose', 'docker-compose.pc2.yml'), 'utf8')).toContain(
      'LOG_LEVEL: "a$$(HOME)x$$y"',
    );
    expect(readFileSync(join(out, 'k8s', 'pc2.yaml'), 'utf8')).toMatch(
      /- name: LOG_LEVEL\n\s+value: "a\$\$\(HOME\)x\$y"/,
    );
  });
});

describe('what check passed and synth could not build', () => {
  const cases: [string, Edit[], number, string][] = [
    [
      'an agent named constructor',
      [[PC2, '- name: ResourceManager', '- name: constructor']],
      1,
      "error pc2_code/config/startup_config.yaml:29 pc2_services[2]: agent name 'constructor' is reserved (the Kubernetes output cannot hold a key 'constructor'); rename the agent [invalid-value]",
    ],
    [
      'an agent name of 64 characters',
      [[PC2, '- name: ResourceManager', `- name: R${'x'.repeat(63)}`]],
      1,
      "pc2_services[2]: agent name 'R" + 'x'.repeat(63) + "' is longer than 63 characters",
    ],
    [
      'startupSeconds: 1e308',
      [[SPEC, 'ServiceRegistry: {startupSeconds: 4}', 'ServiceRegistry: {startupSeconds: 1e308}']],
      2,
      'error agent-infra.yaml:69 agents.ServiceRegistry.startupSeconds: too big: expected number to be <=86400',
    ],
    [
      'healthChecks.intervalSeconds: 0.5',
      [[SPEC, 'agents:\n', 'healthChecks: {intervalSeconds: 0.5}\nagents:\n']],
      2,
      'agent-infra.yaml:68 healthChecks.intervalSeconds: must be whole seconds',
    ],
    [
      'memory_mb: -1',
      [[PC2, 'memory_mb: 1024', 'memory_mb: -1']],
      1,
      'error pc2_code/config/startup_config.yaml:9 global_settings.resource_limits.memory_mb: memory_mb must be a whole number from 1 to 67,108,864, got -1; fix the value or remove it for the default [invalid-value]',
    ],
    [
      'timeout_seconds: 0',
      [[PC2, 'timeout_seconds: 3', 'timeout_seconds: 0']],
      1,
      'global_settings.health_checks.timeout_seconds: timeout_seconds must be a whole number from 1 to 86,400, got 0',
    ],
    [
      'a pip index URL with credentials (they would be written into the Dockerfile)',
      [
        [
          SPEC,
          'requirements: [requirements/base.txt, requirements/gpu.txt]',
          'requirements: [requirements/base.txt, requirements/gpu.txt]\n    pip: {extraIndexUrls: ["https://me:hunter2@wheels.example/simple"]}',
        ],
      ],
      2,
      'error agent-infra.yaml:51 images.gpu-torch.pip.extraIndexUrls[0]: holds credentials, which would be written into the Dockerfile: pass the URL at build time (--build-arg) instead',
    ],
    [
      'a pip index URL with a space and a quote (a second ARG)',
      [
        [
          SPEC,
          'requirements: [requirements/base.txt, requirements/gpu.txt]',
          'requirements: [requirements/base.txt, requirements/gpu.txt]\n    pip: {indexUrl: "https://x/simple\\" RUN id"}',
        ],
      ],
      2,
      'error agent-infra.yaml:51 images.gpu-torch.pip.indexUrl: is not a package index URL (http, https or file) or an absolute path without spaces, quotes or $',
    ],
    [
      'retries: -3',
      [[MAINPC, 'retries: 3', 'retries: -3']],
      1,
      'main_pc_code/config/startup_config.yaml:15 global_settings.health_checks.retries: retries must be a whole number from 1 to 1,000, got -3',
    ],
  ];
  it.each(cases)('refuses %s in check and in synth', (_name, edits, code, message) => refused(edits, code, message));

  it('refuses a port lock that is a directory in check too, since synth could not write the lock', () => {
    const { dir, spec, out } = exampleWithOutput();
    rmSync(join(dir, 'agent-infra.lock.yaml'));
    mkdirSync(join(dir, 'agent-infra.lock.yaml'));
    const before = treeHash(out);
    for (const command of ['check', 'synth']) {
      const r = cli([command, '--spec', spec, ...(command === 'synth' ? ['--out', out] : [])], dir);
      expect([command, r.code]).toEqual([command, 1]);
      expect(r.stderr).toContain(
        'error agent-infra.lock.yaml:1: the port lock is a directory, which synth cannot replace with the lock file; remove it [unreadable-file]',
      );
    }
    expect(treeHash(out)).toBe(before);
  });

  it('writes the reports without images.md, with a warning, when the images report is malformed', () => {
    for (const report of [
      '{"families": 5}',
      '{"families": [{"family": 3}]}',
      '[1, 2]',
      '{"families": [{"family": "cpu", "sizeBytes": -1, "wastedBytes": 0}]}',
      'not json',
    ]) {
      const { dir, spec } = exampleWithOutput();
      const out = join(dir, 'dist');
      mkdirSync(join(out, 'images'), { recursive: true });
      writeFileSync(join(out, 'images', 'report.json'), report);
      const r = cli(['synth', '--spec', spec, '--out', out, '--only', 'reports'], dir);
      expect([report, r.code]).toEqual([report, 0]);
      expect(r.stderr).toMatch(
        /warning dist\/images\/report\.json:1: the images report cannot be read and is left out of reports\/images\.md \(.+\); run 'agent-infra images' again to rewrite it \[parse-error\]/,
      );
      expect(() => readFileSync(join(out, 'reports', 'images.md'))).toThrow();
      expect(readFileSync(join(out, 'reports', 'ports.md'), 'utf8')).toContain('# Ports of voice-assistant');
    }
  });

  it('reports a clash a lock had moved once the machine no longer allows moves, naming the agent', () => {
    const { dir, spec, out } = exampleWithOutput();
    // With reassign, synth moves ObservabilityHubPC2 off the error bus's port and locks the move.
    apply(dir, [[PC2, 'port: ${PORT_OFFSET}+7140', 'port: ${PORT_OFFSET}+7150']]);
    expect(cli(['synth', '--spec', spec, '--out', out], dir).code).toBe(0);
    expect(readFileSync(join(dir, 'agent-infra.lock.yaml'), 'utf8')).toContain(
      '{"host": "pc2", "machine": "pc2", "agent": "ObservabilityHubPC2", "port": "service", "wanted": 7150, "assigned": 7170}',
    );
    apply(dir, [[SPEC, 'onConflict: reassign', 'onConflict: error']]);
    const r = cli(['check', '--spec', spec], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'error pc2_code/config/startup_config.yaml:23 pc2_services[1].port: port 7150 of ObservabilityHubPC2 (service) is also used by CentralErrorBus (service) on pc2 (pc2_code/config/startup_config.yaml:17); pick a free port or set machines.pc2.ports.onConflict: reassign [port-conflict]',
    );
  });
});

describe('secrets: references only, wherever the value comes from', () => {
  /** Every file below `dir`, concatenated. */
  const everything = (dir: string) => {
    const r = cli(['synth', '--spec', join(dir, 'agent-infra.yaml'), '--out', join(dir, 'fresh')], dir);
    expect(r.code).toBe(0);
    const files = readFileSync(join(dir, 'fresh', '.agent-infra-files'), 'utf8')
      .split('\n')
      .filter(Boolean);
    return {
      r,
      all: files.map((f) => readFileSync(join(dir, 'fresh', f), 'utf8')).join('\n'),
      read: (f: string) => readFileSync(join(dir, 'fresh', f), 'utf8'),
    };
  };

  it.each([
    ['HF_TOKEN', 'hf_canary'],
    ['REDIS_PASSWORD', 'canary-pass'],
    ['JWT_SECRET', 'canary-jwt'],
    ['anthropic_api_key', 'canary-lower'],
  ])('%s in global_settings: a warning at its line, references only, never its value %s', (name, value) => {
    const { dir } = exampleWithOutput();
    apply(dir, [[MAINPC, "    ENABLE_METRICS: 'true'\n", `    ENABLE_METRICS: 'true'\n    ${name}: ${value}\n`]]);
    const { r, all, read } = everything(dir);
    expect(r.stderr).toContain(
      `warning main_pc_code/config/startup_config.yaml:9 global_settings.environment.${name}: '${name}' looks like a secret and the config holds its value; it is written to no output`,
    );
    expect(all).not.toContain(value);
    expect(read('compose/docker-compose.mainpc.yml')).toContain(`${name}: "\${${name}:-}"`);
    expect(read('compose/.env.example')).toMatch(new RegExp(`^${name}=$`, 'm'));
    expect(read('k8s/mainpc.yaml')).toMatch(
      new RegExp(`- name: ${name}\\n\\s+valueFrom:\\n\\s+secretKeyRef:\\n\\s+key: ${name}`),
    );
  });
});

describe('the network exposure of the output', () => {
  it('publishes on every interface only the ports another machine reaches, the rest on loopback', () => {
    const { dir, spec } = exampleWithOutput();
    const out = join(dir, 'fresh');
    expect(cli(['synth', '--spec', spec, '--out', out, '--only', 'compose'], dir).code).toBe(0);
    const pc2 = readFileSync(join(out, 'compose', 'docker-compose.pc2.yml'), 'utf8');
    const block = (name: string) => {
      const start = pc2.indexOf(`\n  ${name}:\n`);
      const next = pc2.slice(start + 1).search(/\n {2}[a-z0-9-]+:\n/);
      return pc2.slice(start, next < 0 ? undefined : start + 1 + next);
    };
    // The error bus: every MainPC agent reports to its port 7150.
    expect(block('central-error-bus')).toMatch(/\n\s+- "7150:7150\/tcp"\n/);
    expect(block('central-error-bus')).toMatch(/\n\s+- "127\.0\.0\.1:8150:8150\/tcp"\n/);
    // DreamingModeAgent: no MainPC agent depends on it; its ports are for the host alone.
    expect(block('dreaming-mode-agent')).toMatch(
      /\n\s+ports:\n\s+- "127\.0\.0\.1:7127:7127\/tcp"\n\s+- "127\.0\.0\.1:8127:8127\/tcp"\n/,
    );
  });

  it("admits Prometheus to metrics ports from the spec's monitoring namespace only", () => {
    const { dir, spec } = exampleWithOutput();
    const out = join(dir, 'fresh');
    apply(dir, [[SPEC, 'kubernetes:\n', 'kubernetes:\n  prometheusNamespace: observability\n']]);
    expect(cli(['synth', '--spec', spec, '--out', out, '--only', 'k8s'], dir).code).toBe(0);
    const pc2 = readFileSync(join(out, 'k8s', 'pc2.yaml'), 'utf8');
    expect(pc2).toMatch(
      /- namespaceSelector:\n\s+matchLabels:\n\s+kubernetes\.io\/metadata\.name: observability\n\s+podSelector:\n\s+matchLabels:\n\s+app\.kubernetes\.io\/name: prometheus/,
    );
    expect(pc2).not.toMatch(/namespaceSelector: \{\}/);
  });
});
