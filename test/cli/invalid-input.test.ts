import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPipeline } from '../../lib/pipeline.ts';
import { cli, ROOT } from '../helpers.ts';

const dir = join(ROOT, 'test', 'fixtures', 'invalid');

/** [fixture, code, line, config path, full message]: messages are part of the contract. */
const rows: [string, string, number, string, string][] = [
  [
    '01-bad-indentation',
    'parse-error',
    5,
    '',
    'nested mappings are not allowed in compact mappings; check the indentation of this line and the next: keys of one mapping must start at the same column',
  ],
  [
    '02-unclosed-flow-map',
    'parse-error',
    4,
    '',
    'flow map in block collection must be sufficiently indented and end with a }; close the flow collection with } or ] and separate its entries with commas',
  ],
  [
    '03-agent-defined-twice-in-one-group',
    'duplicate-key',
    7,
    'agent_groups.core.ServiceRegistry',
    "key 'ServiceRegistry' is defined twice (first at line 4); the last one would silently replace the first: remove or rename one",
  ],
  [
    '04-duplicate-field-in-flow-map',
    'duplicate-key',
    3,
    'pc2_services[0].port',
    "key 'port' is defined twice (first at line 3); the last one would silently replace the first: remove or rename one",
  ],
  [
    '05-compose-file-instead',
    'unsupported-layout',
    1,
    '',
    "no agents found: expected 'agent_groups' or top-level lists of agents with 'name', got top-level keys 'version', 'services'; use one of the layouts in the README",
  ],
  [
    '06-top-level-list',
    'unsupported-layout',
    1,
    '',
    "the top level is a list, not a mapping; expected 'agent_groups' or top-level lists of agents",
  ],
  [
    '07-empty-file',
    'unsupported-layout',
    1,
    '',
    "the file is empty; expected 'agent_groups' or top-level lists of agents",
  ],
  [
    '08-port-not-a-number',
    'invalid-value',
    6,
    'agent_groups.core.ServiceRegistry.port',
    "a port must be an integer or a sum such as '${PORT_OFFSET}+7200', got '${PORT_OFFSET}+abc'; write the port as a number",
  ],
  [
    '09-port-too-large',
    'invalid-value',
    6,
    'agent_groups.core.ServiceRegistry.port',
    'a port must be from 1 to 65535, got 70000; pick a port in that range',
  ],
  [
    '10-port-unknown-variable',
    'invalid-value',
    6,
    'agent_groups.core.ServiceRegistry.port',
    "variable 'BASE_PORT' in the port has no value, got '${BASE_PORT}+7200'; define it under 'variables' in the spec",
  ],
  [
    '11-required-expression',
    'invalid-value',
    7,
    'agent_groups.audio.AudioCapture.required',
    "'required' must be true or false, got '${RTAP_ENABLED:-false} == 'false''; an expression is not evaluated: write a boolean or '${VAR:-false}'",
  ],
  [
    '12-dependencies-not-a-list',
    'invalid-value',
    10,
    'agent_groups.core.SystemDigitalTwin.dependencies',
    "'dependencies' must be a list of agent names, got 'ServiceRegistry'; write 'dependencies: [AgentName]'",
  ],
  [
    '13-agent-without-port',
    'invalid-value',
    4,
    'agent_groups.core.ServiceRegistry',
    "agent 'ServiceRegistry' has no port; add 'port: NNNN'",
  ],
  [
    '14-agent-is-a-string',
    'invalid-value',
    4,
    'agent_groups.core.ServiceRegistry',
    "agent 'ServiceRegistry' must be a mapping with 'script_path' and 'port', got 'agents/service_registry.py'; write 'ServiceRegistry: {script_path: ..., port: ...}'",
  ],
  [
    '15-group-is-a-list',
    'invalid-value',
    3,
    'agent_groups.core',
    "group 'core' must be a mapping of agent names to definitions, got a list; write 'core: {AgentName: {script_path: ..., port: ...}}'",
  ],
  [
    '16-health-port-not-a-number',
    'invalid-value',
    6,
    'pc2_services[0].health_check_port',
    "a port must be an integer or a sum such as '${PORT_OFFSET}+7200', got 'eight-one-oh-two'; write the port as a number",
  ],
  [
    '17-list-agent-without-name',
    'invalid-value',
    6,
    'pc2_services[1]',
    "an agent needs a 'name', got nothing; add 'name: AgentName'",
  ],
  [
    '18-dependency-typo',
    'unknown-dependency',
    10,
    'agent_groups.core_services.SystemDigitalTwin.dependencies[0]',
    "unknown agent 'ServiceRegistri'; did you mean 'ServiceRegistry'?",
  ],
  [
    '19-dependency-defined-nowhere',
    'unknown-dependency',
    7,
    'agent_groups.core.ModelManagerAgent.dependencies[0]',
    "unknown agent 'PC2Services'; define it or remove the dependency",
  ],
  [
    '20-two-agent-cycle',
    'dependency-cycle',
    11,
    'agent_groups.audio.StreamingInterruptHandler.dependencies[0]',
    'dependency cycle: StreamingInterruptHandler -> StreamingTTSAgent -> StreamingInterruptHandler; remove one of these dependencies',
  ],
  [
    '21-self-dependency',
    'dependency-cycle',
    7,
    'agent_groups.core.HealthMonitor.dependencies[0]',
    'dependency cycle: HealthMonitor -> HealthMonitor; remove one of these dependencies',
  ],
  [
    '22-three-agent-cycle',
    'dependency-cycle',
    3,
    'pc2_services[0].dependencies[0]',
    'dependency cycle: HealthMonitor -> PerformanceMonitor -> PerformanceLoggerAgent -> HealthMonitor; remove one of these dependencies',
  ],
  [
    '23-agent-in-two-groups',
    'duplicate-agent',
    8,
    'agent_groups.ai_models_gpu_services.FaceRecognitionAgent',
    "agent 'FaceRecognitionAgent' is defined twice on mainpc: in group 'vision' (line 4) and in group 'ai_models_gpu_services'; keep one definition",
  ],
  [
    '24-two-agents-one-port',
    'port-conflict',
    5,
    'memory_system[0].port',
    'port 5575 of MemoryOrchestrator (service) is also used by GGUFModelManager (service) on mainpc (test/fixtures/invalid/24-two-agents-one-port.yaml:3); pick a free port or set machines.mainpc.ports.onConflict: reassign',
  ],
  [
    '25-port-is-another-health-port',
    'port-conflict',
    11,
    'agent_groups.audio.StreamingSpeechRecognition.port',
    'port 6580 of StreamingSpeechRecognition (service) is also used by LearningManager (health) on mainpc (test/fixtures/invalid/25-port-is-another-health-port.yaml:7); pick a free port or set machines.mainpc.ports.onConflict: reassign',
  ],
  [
    '26-health-port-equals-port',
    'port-conflict',
    7,
    'agent_groups.core.ServiceRegistry.health_check_port',
    'port 7200 of ServiceRegistry (health) is also used by its own service port (test/fixtures/invalid/26-health-port-equals-port.yaml:6); pick a free port or set machines.mainpc.ports.onConflict: reassign',
  ],
  [
    '27-port-is-the-error-bus-port',
    'port-conflict',
    3,
    'pc2_services[0].port',
    "port 7150 of VisionProcessingAgent (service) is also used by 'error_bus_port' on mainpc (test/fixtures/invalid/27-port-is-the-error-bus-port.yaml:4); pick a free port or set machines.mainpc.ports.onConflict: reassign",
  ],
  [
    '28-extra-listener-clash',
    'port-conflict',
    8,
    'agent_groups.hubs.MemoryFusionHub.config.grpc_port',
    'port 5714 of MemoryFusionHub (grpc) is also used by CacheManager (service) on mainpc (test/fixtures/invalid/28-extra-listener-clash.yaml:11); pick a free port or set machines.mainpc.ports.onConflict: reassign',
  ],
  [
    '29-port-outside-declared-range',
    'port-out-of-range',
    3,
    'pc2_services[0].port',
    'service port 9000 of ObservabilityHub is outside the declared agent_ports range 7100-7199 (line 5); move it into the range or widen the range',
  ],
  [
    '30-hardcoded-address',
    'hardcoded-ip',
    7,
    'pc2_services[0].config.mainpc_hub_endpoint',
    'hard-coded address 192.168.100.16; use ${MAIN_PC_IP} instead',
  ],
  [
    '31-docker-group-under-agent-groups',
    'misplaced-group',
    7,
    'agent_groups.infra_core',
    "'infra_core' is shaped like a docker group ({description, agents}) but sits under agent_groups; it is read as a docker group, not as agents: move it under a top-level 'docker_groups'",
  ],
  [
    '32-vram-over-budget',
    'vram-over-budget',
    4,
    'agent_groups.vision_gpu.FaceRecognitionAgent',
    'agents on mainpc GPU 0 (NVIDIA GeForce RTX 4090, 24 GiB) need 28 GiB: face-recognition-agent 16, vision-capture-agent 12; lower their vramGiB in the spec, move agents to another machine or add a GPU',
  ],
  [
    '33-docker-groups-not-a-map',
    'invalid-value',
    7,
    'docker_groups',
    "'docker_groups' must be a mapping of group names, got a list; write 'docker_groups: {name: {agents: [...]}}'",
  ],
  [
    '34-health-port-overflow',
    'invalid-value',
    4,
    'agent_groups.core.HighPortAgent',
    "agent 'HighPortAgent' declares no health_check_port and port + 1000 is past 65535; add 'health_check_port'",
  ],
  [
    '35-dependency-not-a-name',
    'invalid-value',
    11,
    'agent_groups.core.SystemDigitalTwin.dependencies[0]',
    'a dependency must be an agent name, got a mapping; list agents by name',
  ],
];

const WARNINGS = new Set(['port-out-of-range', 'hardcoded-ip', 'misplaced-group']);

describe('invalid input', () => {
  it.each(rows)('fails %s with %s at line %i', (fixture, code, line, path, message) => {
    const file = join(dir, `${fixture}.yaml`);
    const r = runPipeline({ machines: [{ name: 'mainpc', file }], cwd: ROOT });
    const found = r.diagnostics.filter((d) => d.code === code);
    expect(found.map((d) => ({ line: d.line, path: d.path, message: d.message }))).toContainEqual({
      line,
      path,
      message,
    });
    const d = found.find((x) => x.line === line && x.message === message)!;
    expect(d.file).toBe(`test/fixtures/invalid/${fixture}.yaml`);
    expect(d.severity).toBe(WARNINGS.has(code) ? 'warning' : 'error');
    expect(r.ok).toBe(WARNINGS.has(code));
  });

  it.each(rows.map((r) => [r[0], r[1]] as const))(
    'reports %s through the CLI without a stack trace',
    (fixture, code) => {
      const r = cli(['check', '--machine', `mainpc=test/fixtures/invalid/${fixture}.yaml`]);
      const expected = code === 'parse-error' ? 2 : WARNINGS.has(code) ? 0 : 1;
      expect(r.code).toBe(expected);
      expect(r.stderr).toContain(`[${code}]`);
      expect(r.stderr + r.stdout).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);
    },
  );
});

describe('pathological input', () => {
  it('fails a document nested 100,000 levels deep with parse-error and exit 2, not a crash', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'agent-infra-deep-')), 'startup_config.yaml');
    writeFileSync(file, `agent_groups: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`);
    const r = cli(['check', '--machine', `mainpc=${file}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'the document nests too deeply to be read (thousands of levels); a startup config nests a few: look for runaway brackets or indentation [parse-error]',
    );
    expect(r.stderr + r.stdout).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);
  });
});

describe('unreadable input', () => {
  it.each([
    [
      '--machine',
      (dir: string) => ['check', '--machine', `mainpc=${dir}`],
      'is a directory, not a file; fix machines.mainpc.config or pass --machine mainpc=FILE [unreadable-file]',
    ],
    [
      '--spec',
      (dir: string) => ['check', '--spec', dir],
      'is a directory, not a file; pass the spec file to --spec [unreadable-file]',
    ],
  ])('fails a directory given to %s with unreadable-file and exit 2', (_flag, args, message) => {
    const dir = mkdtempSync(join(tmpdir(), 'agent-infra-dir-'));
    const r = cli(args(dir));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toContain('internal error');
  });
});
