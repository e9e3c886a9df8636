/**
 * The probe rules every target shares (lib/contract/probe.ts, lib/plan/phases/health.ts): how a probe
 * of the spec resolves to ports and defaults, how it is written as the image's probe program reads it
 * (defaults left out), the command a container runs, and what a dependent waits for. Expected values
 * are written out by hand from the documented rules.
 */
import { describe, expect, it } from 'vitest';
import { probeCommand, probeTarget, waitFor } from '../../lib/contract/probe.ts';
import { DeploymentSpecSchema, type HealthCheck, type Override } from '../../lib/config/spec.ts';
import { agentProbes, resolveProbe } from '../../lib/plan/phases/health.ts';
import type { PlannedDependency, PlannedPort, PlannedProbe } from '../../lib/plan/types.ts';

const port = (name: string, p: number, single?: number): PlannedPort =>
  ({
    name,
    role: name,
    declared: p,
    port: p,
    ...(single !== undefined ? { singleHostPort: single } : {}),
  }) as PlannedPort;
const PORTS = [port('service', 7200, 17200), port('health', 8200, 18200)];
const NO_SINGLE = [port('service', 7200), port('health', 8200)];
const BASEAGENT_REQUEST = '{"action": "health_check"}';

describe('resolveProbe: a probe of the spec with its port and defaults', () => {
  it.each<[string, HealthCheck, readonly PlannedPort[], PlannedProbe]>([
    [
      'zmq on the health port, every default',
      { protocol: 'zmq' },
      PORTS,
      {
        protocol: 'zmq',
        port: 8200,
        singleHostPort: 18200,
        request: BASEAGENT_REQUEST,
        status: ['ok', 'healthy'],
        ready: false,
      },
    ],
    [
      'zmq on the service port, its own request, status and ready',
      { protocol: 'zmq', port: 'service', request: '{"cmd": "ping"}', status: ['up'], ready: true },
      PORTS,
      { protocol: 'zmq', port: 7200, singleHostPort: 17200, request: '{"cmd": "ping"}', status: ['up'], ready: true },
    ],
    [
      'http at health + 1 (a BaseAgent HTTP server), on both layouts',
      { protocol: 'http', port: 'health+1' },
      PORTS,
      { protocol: 'http', port: 8201, singleHostPort: 18201, path: '/health', codes: [200] },
    ],
    [
      'http on a fixed number, its own path and codes',
      { protocol: 'http', port: 9000, path: '/ready', codes: [200, 204] },
      PORTS,
      { protocol: 'http', port: 9000, singleHostPort: 9000, path: '/ready', codes: [200, 204] },
    ],
    [
      'tcp on the service port, no single-host port planned',
      { protocol: 'tcp', port: 'service' },
      NO_SINGLE,
      { protocol: 'tcp', port: 7200 },
    ],
    [
      'exec: the command, no port',
      { protocol: 'exec', command: ['python3', '-c', 'import sys'] },
      PORTS,
      { protocol: 'exec', command: ['python3', '-c', 'import sys'] },
    ],
  ])('%s', (_name, h, ports, want) => {
    expect(resolveProbe(h, ports)).toEqual(want);
  });
});

describe('probeTarget: the URL the probe program reads, defaults left out', () => {
  const zmq = (o: Partial<PlannedProbe> = {}): PlannedProbe =>
    ({
      protocol: 'zmq',
      port: 1,
      request: BASEAGENT_REQUEST,
      status: ['ok', 'healthy'],
      ready: false,
      ...o,
    }) as PlannedProbe;
  const http = (o: Partial<PlannedProbe> = {}): PlannedProbe =>
    ({ protocol: 'http', port: 1, path: '/health', codes: [200], ...o }) as PlannedProbe;
  it.each<[string, PlannedProbe, string | undefined]>([
    ['zmq, every default', zmq(), 'zmq://h:5'],
    ['zmq, the default request written out', zmq({ request: BASEAGENT_REQUEST }), 'zmq://h:5'],
    [
      'zmq, its own request (URL-encoded)',
      zmq({ request: '{"a": "b&c"}' }),
      'zmq://h:5?request=%7B%22a%22%3A%20%22b%26c%22%7D',
    ],
    ['zmq, the default status in another order', zmq({ status: ['healthy', 'ok'] }), 'zmq://h:5?status=healthy|ok'],
    ['zmq, a status that shares the first word', zmq({ status: ['ok', 'down'] }), 'zmq://h:5?status=ok|down'],
    ['zmq, one status word', zmq({ status: ['ok'] }), 'zmq://h:5?status=ok'],
    ['zmq, ready', zmq({ ready: true }), 'zmq://h:5?ready=1'],
    [
      'zmq, request, status and ready together, in that order',
      zmq({ request: '{}', status: ['up'], ready: true }),
      'zmq://h:5?request=%7B%7D&status=up&ready=1',
    ],
    ['http, every default', http(), 'http://h:5/health'],
    ['http, no path', http({ path: undefined }), 'http://h:5/health'],
    ['http, its own path and codes', http({ path: '/ready', codes: [200, 204] }), 'http://h:5/ready?codes=200|204'],
    ['http, one code that is not 200', http({ codes: [204] }), 'http://h:5/health?codes=204'],
    ['tcp', { protocol: 'tcp', port: 1 }, 'tcp://h:5'],
    ['exec has none', { protocol: 'exec', command: ['true'] }, undefined],
  ])('%s', (_name, p, want) => {
    expect(probeTarget(p, 'h', 5)).toBe(want);
  });
});

describe('probeCommand: what a container runs', () => {
  it('runs the image probe program with a timeout, against loopback at the given port', () => {
    const p = resolveProbe({ protocol: 'zmq', ready: true }, PORTS);
    expect(probeCommand(p, 18200, 4)).toEqual([
      'python3',
      '-S',
      '/usr/local/bin/agent-infra-health',
      '--timeout',
      '4',
      'zmq://127.0.0.1:18200?ready=1',
    ]);
  });

  it("runs an exec probe's own command, as a copy", () => {
    const command = ['pgrep', '-f', 'agent.py'];
    const out = probeCommand({ protocol: 'exec', command }, undefined, 4);
    expect(out).toEqual(['pgrep', '-f', 'agent.py']);
    out.push('changed');
    expect(command).toEqual(['pgrep', '-f', 'agent.py']);
  });
});

describe('waitFor: what a dependent waits for', () => {
  const dep = (id: string, readiness: PlannedProbe, health: number, singleHealth: number): PlannedDependency =>
    ({
      name: id,
      id,
      machine: 'm',
      crossMachine: false,
      envPrefix: id.toUpperCase(),
      port: health - 1000,
      healthPort: health,
      singleHostHealthPort: singleHealth,
      readiness,
    }) as PlannedDependency;
  const deps = [
    dep('a', { protocol: 'exec', command: ['true'] }, 8200, 18200),
    dep(
      'b',
      resolveProbe({ protocol: 'zmq' }, [port('service', 7300, 17300), port('health', 8300, 18300)]),
      8300,
      18300,
    ),
    dep(
      'c',
      resolveProbe({ protocol: 'http', port: 'health+1' }, [port('service', 7400, 17400), port('health', 8400, 18400)]),
      8400,
      18400,
    ),
  ];
  it('each dependency’s readiness at its host; one probed by a command, a TCP connect to its health port', () => {
    expect(waitFor(deps, (d) => `${d.id}.host`, false)).toBe(
      'tcp://a.host:8200,zmq://b.host:8300,http://c.host:8401/health',
    );
  });
  it('on one host, the single-host ports', () => {
    expect(waitFor(deps, () => '127.0.0.1', true)).toBe(
      'tcp://127.0.0.1:18200,zmq://127.0.0.1:18300,http://127.0.0.1:18401/health',
    );
  });
});

describe('agentProbes: the agent’s choice, else the spec’s default, else its framework’s preset', () => {
  const spec = (defaults: Record<string, unknown> = {}) =>
    DeploymentSpecSchema.parse({ name: 's', machines: { m: { config: 'm.yaml', addressEnv: 'M_IP' } }, defaults });
  const kinds = (r: ReturnType<typeof agentProbes>) => [
    `${r.readiness.protocol}:${r.readiness.port ?? '-'}`,
    `${r.liveness.protocol}:${r.liveness.port ?? '-'}`,
  ];
  it.each<[string, Record<string, unknown>, Override, 'baseagent' | 'http', string[]]>([
    ['baseagent preset: ZMQ health socket, HTTP at health + 1', {}, {}, 'baseagent', ['zmq:8200', 'http:8201']],
    ['http preset: HTTP on the health port for both', {}, {}, 'http', ['http:8200', 'http:8200']],
    ['the spec’s probe: tcp', { probe: 'tcp' }, {}, 'http', ['tcp:8200', 'tcp:8200']],
    ['the agent’s probe over the spec’s', { probe: 'tcp' }, { probe: 'http' }, 'http', ['http:8200', 'http:8200']],
    [
      'the spec’s default health, the preset’s liveness for a BaseAgent',
      { health: { protocol: 'tcp', port: 'service' } },
      {},
      'baseagent',
      ['tcp:7200', 'http:8201'],
    ],
    [
      'the spec’s default liveness',
      { liveness: { protocol: 'tcp', port: 'health' } },
      {},
      'baseagent',
      ['zmq:8200', 'tcp:8200'],
    ],
    [
      'the agent’s liveness over the spec’s',
      { liveness: { protocol: 'tcp', port: 'health' } },
      { liveness: { protocol: 'exec', command: ['true'] } },
      'baseagent',
      ['zmq:8200', 'exec:-'],
    ],
    [
      'the agent’s health over the spec’s; liveness follows it for a non-BaseAgent',
      { health: { protocol: 'tcp', port: 'service' } },
      { health: { protocol: 'http', port: 9000 } },
      'http',
      ['http:9000', 'http:9000'],
    ],
  ])('%s', (_name, defaults, o, framework, want) => {
    expect(kinds(agentProbes(spec(defaults), o, framework, PORTS))).toEqual(want);
  });
});
