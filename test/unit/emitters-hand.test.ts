/**
 * The emitters on a plan written by hand (test/hand-plan.ts): what each writes follows from that
 * plan's literal values alone, so these tests hold whatever the planner does.
 */
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { emitCompose } from '../../lib/emit/compose.ts';
import { emitDockerfiles } from '../../lib/emit/dockerfile.ts';
import { emitKubernetes } from '../../lib/emit/k8s.ts';
import { handPlan } from '../hand-plan.ts';

const plan = handPlan();

describe('compose on a hand-built plan', () => {
  const files = emitCompose(plan, 'hand.yaml');
  const alpha = parse(files.get('compose/docker-compose.alpha.yml')!);
  const beta = parse(files.get('compose/docker-compose.beta.yml')!);

  it('writes one file per machine with that machine’s agents', () => {
    // Redis runs on alpha, beside its agents.
    expect(Object.keys(alpha.services).sort()).toEqual(['redis', 'registry', 'vision']);
    expect(Object.keys(beta.services)).toEqual(['bus']);
  });

  it('publishes the firewall’s ports on every interface and the others on loopback', () => {
    expect(alpha.services.registry.ports).toEqual(['7200:7200/tcp', '8200:8200/tcp', '9200:9200/tcp']);
    expect(alpha.services.vision.ports).toEqual(['127.0.0.1:7300:7300/tcp', '127.0.0.1:8300:8300/tcp']);
    expect(beta.services.bus.ports).toEqual(['127.0.0.1:7150:7150/tcp', '127.0.0.1:8150:8150/tcp']);
  });

  it('orders same-machine starts, and has the entrypoint wait for every dependency’s readiness on either machine', () => {
    expect(alpha.services.vision.depends_on).toEqual({
      redis: { condition: 'service_started' },
      registry: { condition: 'service_started' },
    });
    expect(alpha.services.vision.environment.REGISTRY_HOST).toBe('registry');
    // On its own machine by service name: Redis's port, then the registry's ZMQ health socket.
    expect(alpha.services.vision.environment.WAIT_FOR).toBe('tcp://redis:6379,zmq://registry:8200');
    expect(beta.services.bus.depends_on).toBeUndefined();
    // Redis on the other machine (a TCP connect to 6379), then the registry's ZMQ health socket, as its readiness is planned.
    const alphaIp = '${ALPHA_IP:?ALPHA_IP must be set; see .env.example}';
    expect(beta.services.bus.environment.WAIT_FOR).toBe(`tcp://${alphaIp}:6379,zmq://${alphaIp}:8200`);
    expect(beta.services.bus.environment.REGISTRY_HOST).toBe(alphaIp);
    expect(beta.services.bus.environment.REDIS_URL).toBe(`redis://${alphaIp}:6379/0`);
  });

  it('writes secrets as references and literals with their $ doubled', () => {
    expect(beta.services.bus.environment.BUS_TOKEN).toBe('${BUS_TOKEN:-}');
    expect(beta.services.bus.environment.GREETING).toBe('cost: $$5 (not $$(HOME))');
    expect(files.get('compose/.env.example')).toMatch(/^BUS_TOKEN=$/m);
  });

  it('reserves the GPU of the GPU agent only, and runs every agent as the numeric user', () => {
    expect(alpha.services.vision.deploy.resources.reservations.devices).toEqual([
      { driver: 'nvidia', device_ids: ['0'], capabilities: ['gpu'] },
    ]);
    expect(alpha.services.registry.environment.NVIDIA_VISIBLE_DEVICES).toBe('void');
    for (const s of [alpha.services.registry, alpha.services.vision, beta.services.bus])
      expect(s.user).toBe('10001:10001');
  });

  it('checks health with the probe and port of the plan', () => {
    // Registry is a BaseAgent: its ZMQ health socket on 8200; vision answers HTTP /health on 8300.
    expect(alpha.services.registry.healthcheck.test).toEqual([
      'CMD',
      'python3',
      '-S',
      '/usr/local/bin/agent-infra-health',
      '--timeout',
      '3',
      'zmq://127.0.0.1:8200',
    ]);
    expect(alpha.services.vision.healthcheck.test.at(-1)).toBe('http://127.0.0.1:8300/health');
    expect([alpha.services.registry.command, beta.services.bus.command]).toEqual([
      ['python3', 'agents/registry.py'],
      ['python3', 'agents/bus.py'],
    ]);
    expect(alpha.services.registry.healthcheck).toMatchObject({
      interval: '5s',
      timeout: '3s',
      retries: 3,
      start_period: '10s',
    });
  });
});

describe('Kubernetes on a hand-built plan', () => {
  const files = emitKubernetes(plan, 'hand.yaml');
  const objects = (file: string) =>
    parseAllDocuments(files.get(file)!)
      .map((d) => d.toJS())
      .filter(Boolean);
  const alpha = objects('k8s/alpha.yaml');
  const find = (kind: string, name: string) => alpha.find((o) => o.kind === kind && o.metadata.name === name);

  it('gives the GPU agent one nvidia.com/gpu and the node of its card', () => {
    const pod = find('Deployment', 'vision').spec.template.spec;
    expect(pod.containers[0].resources.limits['nvidia.com/gpu']).toBe(1);
    const terms = JSON.stringify(pod.affinity);
    expect(terms).toContain('NVIDIA-GeForce-RTX-4090');
    expect(terms).toContain('NVIDIA-GeForce-RTX-4090-SHARED');
    expect(
      find('Deployment', 'registry').spec.template.spec.containers[0].resources.limits['nvidia.com/gpu'],
    ).toBeUndefined();
  });

  it('runs as the numeric user without privileges', () => {
    const pod = find('Deployment', 'registry').spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
    expect(pod.containers[0].securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
  });

  it('admits Prometheus to the metrics port from the plan’s namespace only, with ServiceMonitors on', () => {
    const scraped = emitKubernetes({ ...plan, kubernetes: { ...plan.kubernetes, serviceMonitors: true } }, 'hand.yaml');
    const policy = parseAllDocuments(scraped.get('k8s/alpha.yaml')!)
      .map((d) => d.toJS())
      .find((o) => o?.kind === 'NetworkPolicy' && o.metadata.name === 'registry');
    // The dependents reach every port; the last rule is Prometheus's, to the metrics port alone.
    expect(policy.spec.ingress.map((r: { ports: { port: number }[] }) => r.ports.map((p) => p.port))).toEqual([
      [7200, 8200, 9200],
      [9200],
    ]);
    expect(policy.spec.ingress[1].from).toEqual([
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'watchers' } },
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } },
      },
    ]);
  });

  it('keeps a literal $( from the kubelet’s expansion', () => {
    const bus = objects('k8s/beta.yaml').find((o) => o.kind === 'Deployment' && o.metadata.name === 'bus');
    const env = bus.spec.template.spec.containers[0].env;
    expect(env.find((e: { name: string }) => e.name === 'GREETING').value).toBe('cost: $5 (not $$(HOME))');
    expect(env.find((e: { name: string }) => e.name === 'BUS_TOKEN').valueFrom.secretKeyRef.key).toBe('BUS_TOKEN');
  });
});

describe('Dockerfiles on a hand-built plan', () => {
  const files = emitDockerfiles(plan, 'hand.yaml');
  const gpu = files.get('docker/gpu.Dockerfile')!;

  it('builds from the plan’s bases, packages and requirements', () => {
    expect(gpu).toContain(
      'ARG BUILDER_BASE=python:3.11-slim-bookworm\nARG RUNTIME_BASE=nvidia/cuda:12.4.1-runtime-ubuntu22.04\n',
    );
    expect(gpu).toMatch(/apt-get install -y --no-install-recommends build-essential \\/);
    expect(gpu).toMatch(/apt-get install -y --no-install-recommends libgomp1 \\/);
    expect(gpu).toContain('COPY requirements/base.txt /tmp/requirements/requirements/base.txt\n');
  });

  it('copies the source folders last and runs as the numeric user', () => {
    expect(gpu).toContain('COPY agents/ /app/agents/\nCOPY common/ /app/common/\nUSER 10001:10001\n');
    // The image's own check (docker run without compose), as the plan gives it.
    expect(gpu).toContain(
      'HEALTHCHECK --interval=10s --timeout=3s --start-period=14s --retries=3 CMD ["python3", "-S", "/usr/local/bin/agent-infra-health"]',
    );
  });
});
