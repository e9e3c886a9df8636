/**
 * A system plan written by hand, for emitter tests that must not depend on the planner: two machines
 * (`alpha` with a GPU, `beta`), three agents. Every value is literal here, so a test's expectation
 * comes from this file, not from the code under test.
 *
 * - `registry` on alpha: service 7200, health 8200, metrics 9200; no dependencies.
 * - `vision` on alpha: GPU 0 (RTX 4090, 4 GiB), service 7300, health 8300; depends on registry (same machine).
 * - `bus` on beta: service 7150, health 8150; depends on registry (cross-machine); gets a secret and a literal with `$`.
 * - `redis` on alpha, port 6379, 1 GiB, used by all three.
 *
 * Registry is a BaseAgent (readiness: ZMQ on 8200; liveness: HTTP /health on 9200); the others answer HTTP /health on their health port.
 */
import type {
  PlannedAgent,
  PlannedDependency,
  PlannedHealth,
  PlannedPort,
  PlannedProbe,
  SystemPlan,
} from '../lib/plan/types.ts';

const at = { file: 'hand.yaml', line: 1, column: 1, path: '' };
const port = (name: string, role: PlannedPort['role'], n: number): PlannedPort => ({
  name,
  role,
  declared: n,
  port: n,
  singleHostPort: n,
  at,
});
const timing = { intervalSeconds: 5, timeoutSeconds: 3, retries: 3, startPeriodSeconds: 10 };
const httpProbe = (n: number): PlannedProbe => ({
  protocol: 'http',
  port: n,
  singleHostPort: n,
  path: '/health',
  codes: [200],
});
const zmqProbe = (n: number): PlannedProbe => ({
  protocol: 'zmq',
  port: n,
  singleHostPort: n,
  request: '{"action": "health_check"}',
  status: ['ok', 'healthy'],
  ready: false,
});
const httpHealth = (n: number): PlannedHealth => ({
  framework: 'http',
  readiness: httpProbe(n),
  liveness: httpProbe(n),
  ...timing,
});
const resources = { cpuMillis: 500, cpuRequestMillis: 100, memoryMiB: 1024, memoryRequestMiB: 256 };

const registryDep = (crossMachine: boolean): PlannedDependency => ({
  name: 'Registry',
  id: 'registry',
  machine: 'alpha',
  crossMachine,
  envPrefix: 'REGISTRY',
  port: 7200,
  healthPort: 8200,
  readiness: zmqProbe(8200),
  singleHostPort: 7200,
  singleHostHealthPort: 8200,
});

function agent(
  a: Pick<
    PlannedAgent,
    'name' | 'id' | 'machine' | 'ports' | 'dependencies' | 'dependents' | 'startLevel' | 'family' | 'env'
  > &
    Partial<PlannedAgent>,
): PlannedAgent {
  return {
    group: 'core',
    dockerGroups: [],
    scriptPath: `agents/${a.id}.py`,
    command: ['python3', `agents/${a.id}.py`],
    required: true,
    servicePort: a.ports[0]!,
    healthPort: a.ports[1]!,
    startupSeconds: 2,
    image: `hand/${a.family}:1.0.0`,
    resources,
    replicas: 1,
    health: httpHealth(a.ports[1]!.port),
    secrets: [],
    at,
    ...a,
  };
}

export function handPlan(): SystemPlan {
  const registry = agent({
    name: 'Registry',
    id: 'registry',
    machine: 'alpha',
    family: 'cpu',
    startLevel: 0,
    dependencies: [],
    dependents: ['bus', 'vision'],
    ports: [port('service', 'service', 7200), port('health', 'health', 8200), port('metrics', 'extra', 9200)],
    metricsPort: port('metrics', 'extra', 9200),
    health: { framework: 'baseagent', readiness: zmqProbe(8200), liveness: httpProbe(9200), ...timing },
    env: [
      { name: 'AGENT_PORT', kind: 'port', port: 7200, singleHostPort: 7200 },
      { name: 'BIND_ADDRESS', kind: 'bind-address' },
    ],
  });
  const vision = agent({
    name: 'Vision',
    id: 'vision',
    machine: 'alpha',
    family: 'gpu',
    startLevel: 1,
    dependencies: [registryDep(false)],
    dependents: [],
    ports: [port('service', 'service', 7300), port('health', 'health', 8300)],
    gpu: { machine: 'alpha', device: 0, model: 'NVIDIA GeForce RTX 4090', vramGiB: 4 },
    env: [
      { name: 'REGISTRY_HOST', kind: 'agent-host', agent: 'registry' },
      { name: 'REGISTRY_PORT', kind: 'port', port: 7200, singleHostPort: 7200 },
    ],
  });
  const bus = agent({
    name: 'Bus',
    id: 'bus',
    machine: 'beta',
    family: 'cpu',
    startLevel: 1,
    dependencies: [registryDep(true)],
    dependents: [],
    ports: [port('service', 'service', 7150), port('health', 'health', 8150)],
    secrets: ['BUS_TOKEN'],
    env: [
      { name: 'REGISTRY_HOST', kind: 'agent-host', agent: 'registry' },
      { name: 'BUS_TOKEN', kind: 'secret', secret: 'BUS_TOKEN' },
      { name: 'GREETING', kind: 'literal', value: 'cost: $5 (not $(HOME))' },
      { name: 'ALPHA_IP', kind: 'machine-address', machine: 'alpha' },
      { name: 'REDIS_URL', kind: 'service-url', service: 'redis', scheme: 'redis', path: '/0' },
    ],
  });
  const image = (family: string, gpu: boolean, agents: string[]) => ({
    family,
    image: `hand/${family}:1.0.0`,
    gpu,
    builderBase: 'python:3.11-slim-bookworm',
    runtimeBase: gpu ? 'nvidia/cuda:12.4.1-runtime-ubuntu22.04' : 'python:3.11-slim-bookworm',
    buildPackages: ['build-essential'],
    runtimePackages: gpu ? ['libgomp1'] : [],
    requirements: ['requirements/base.txt'],
    sourceDirs: ['agents', 'common'],
    agents,
    health: { intervalSeconds: 10, timeoutSeconds: 3, startPeriodSeconds: gpu ? 14 : 12, retries: 3 },
    systemSitePackages: false,
  });
  return {
    name: 'hand',
    namespace: 'hand-ns',
    user: 10001,
    registry: 'hand',
    tag: '1.0.0',
    portOffset: '0',
    machines: [
      {
        name: 'alpha',
        file: 'alpha.yaml',
        addressEnv: 'ALPHA_IP',
        addressVariables: ['ALPHA_IP'],
        gpus: [
          {
            device: 0,
            model: 'NVIDIA GeForce RTX 4090',
            vramGiB: 24,
            usedGiB: 4,
            agents: [{ id: 'vision', vramGiB: 4 }],
          },
        ],
        agents: ['registry', 'vision'],
        cache: { sizeGiB: 50, path: '/app/.cache' },
        sharing: 'time-slicing',
      },
      {
        name: 'beta',
        file: 'beta.yaml',
        addressEnv: 'BETA_IP',
        addressVariables: ['BETA_IP'],
        gpus: [],
        agents: ['bus'],
        cache: { sizeGiB: 50, path: '/app/.cache' },
        sharing: 'time-slicing',
      },
    ],
    agents: [registry, vision, bus],
    startLevels: [['registry'], ['bus', 'vision']],
    criticalPath: { seconds: 4, agents: ['registry', 'vision'] },
    sequentialSeconds: 6,
    images: [image('cpu', false, ['bus', 'registry']), image('gpu', true, ['vision'])],
    services: [
      {
        kind: 'redis',
        id: 'redis',
        machine: 'alpha',
        image: 'redis:7.2.5-bookworm',
        user: 999,
        port: 6379,
        storageGiB: 1,
        clients: ['bus', 'registry', 'vision'],
        resources: { cpuMillis: 1000, cpuRequestMillis: 50, memoryMiB: 1024, memoryRequestMiB: 64 },
      },
    ],
    portMap: [],
    firewall: [
      { from: 'beta', to: 'alpha', port: 7200, agent: 'registry', why: 'bus depends on it' },
      { from: 'beta', to: 'alpha', port: 6379, agent: 'redis', why: 'bus uses redis' },
      { from: 'beta', to: 'alpha', port: 8200, agent: 'registry', why: 'bus waits for its health' },
      { from: 'prometheus', to: 'alpha', port: 9200, agent: 'registry', why: 'Prometheus scrapes its metrics' },
    ],
    singleHostReady: true,
    secrets: ['BUS_TOKEN'],
    kubernetes: {
      serviceMonitors: false,
      podDisruptionBudgets: false,
      autoscaling: false,
      waitForDependencies: true,
      prometheusNamespace: 'watchers',
    },
    cycles: [],
    leftOut: [],
    lock: { version: 1, ports: [] },
    diagnostics: [],
  };
}
