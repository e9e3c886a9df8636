/** docker-compose output: asserted on the generated YAML, read back, and checked by real validators. */
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { runPipeline } from '../../lib/pipeline.ts';
import { emitAll } from '../../lib/synth.ts';
import type { SystemPlan } from '../../lib/plan/types.ts';
import { EXAMPLE_SPEC, ROOT } from '../helpers.ts';
import { composeConfig, HAS_DOCKER_COMPOSE, schemaProblems } from '../compose-helpers.ts';
import { parseManifests } from '../k8s-helpers.ts';

type Service = Record<string, any> & { environment: Record<string, string> };
let plan: SystemPlan;
let files: Map<string, string>;
const project = (path: string) => parse(files.get(path)!) as { services: Record<string, Service> };
const twoPc = () => plan.machines.map((m) => [m.name, project(`compose/docker-compose.${m.name}.yml`)] as const);
const single = () => plan.machines.map((m) => [m.name, project(`compose/single-host/docker-compose.${m.name}.yml`)] as const);

beforeAll(() => {
  const r = runPipeline({ spec: EXAMPLE_SPEC, cwd: ROOT });
  plan = r.plan;
  files = emitAll(plan, 'examples/two-pc/agent-infra.yaml');
});

const composeFiles = () => [...files.keys()].filter((f) => f.endsWith('.yml') && f.includes('docker-compose'));

describe('compose output of the example', () => {
  it('writes a project per machine, the single-host pair, .env.example, a Prometheus config and a README', () => {
    expect([...files.keys()].filter((f) => f.startsWith('compose/')).sort()).toEqual([
      'compose/.env.example',
      'compose/README.md',
      'compose/docker-compose.mainpc.yml',
      'compose/docker-compose.pc2.yml',
      'compose/prometheus.yml',
      'compose/single-host/docker-compose.mainpc.yml',
      'compose/single-host/docker-compose.pc2.yml',
    ]);
  });

  it('validates every file against the compose-spec JSON schema', () => {
    for (const f of composeFiles()) expect([f, schemaProblems(parse(files.get(f)!))]).toEqual([f, []]);
    expect(schemaProblems({ services: { a: { image: 1, ports: 'x' } } }).length).toBeGreaterThan(0);
  });

  it.skipIf(!HAS_DOCKER_COMPOSE)('passes docker-compose config -q with the values of .env.example', () => {
    const dir = mkdtempSync(join(tmpdir(), 'compose-'));
    for (const [k, v] of files) {
      mkdirSync(dirname(join(dir, k)), { recursive: true });
      writeFileSync(join(dir, k), v);
    }
    for (const f of composeFiles()) expect([f, composeConfig(join(dir, f), join(dir, 'compose/.env.example'), dir)]).toEqual([f, { code: 0, stderr: '' }]);
    // The validator is real: an unset address fails fast.
    writeFileSync(join(dir, 'empty.env'), '');
    const r = composeConfig(join(dir, 'compose/docker-compose.pc2.yml'), join(dir, 'empty.env'), dir);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/MAIN_PC_IP must be set; see \.env\.example/);
  });

  it('has no IPv4 literal but 127.0.0.1 in single-host mode (and 0.0.0.0, the bind-to-every-interface address, and 127.0.0.1 for loopback ports in two-PC mode)', () => {
    const ips = (text: string) => new Set([...text.matchAll(/(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])/g)].map((m) => m[0]));
    for (const f of [...files.keys()].filter((k) => k.startsWith('compose/'))) {
      const found = ips(files.get(f)!);
      if (f.includes('single-host')) expect([f, [...found]]).toEqual([f, ['127.0.0.1']]);
      // Ports no other machine reaches are published on loopback only.
      else expect([f, [...found].filter((ip) => ip !== '0.0.0.0' && ip !== '127.0.0.1')]).toEqual([f, []]);
    }
    for (const [, p] of twoPc()) for (const s of Object.values(p.services)) expect(s.environment['BIND_ADDRESS']).toBe('0.0.0.0');
    for (const [, p] of single()) for (const s of Object.values(p.services)) expect(s.environment['BIND_ADDRESS']).toBe('127.0.0.1');
  });

  it('waits for every same-machine dependency to be healthy, and each of those has a healthcheck', () => {
    let edges = 0;
    for (const [, p] of twoPc()) {
      for (const [id, s] of Object.entries(p.services)) {
        const agent = plan.agents.find((a) => a.id === id)!;
        const same = agent.dependencies.filter((d) => !d.crossMachine).map((d) => d.id);
        expect(Object.keys(s.depends_on ?? {}).sort()).toEqual(same.sort());
        for (const d of same) {
          expect(s.depends_on[d]).toEqual({ condition: 'service_healthy' });
          expect(p.services[d]!.healthcheck.test[0]).toBe('CMD');
          edges++;
        }
      }
    }
    expect(edges).toBe(plan.agents.reduce((n, a) => n + a.dependencies.filter((d) => !d.crossMachine).length, 0));
    expect(edges).toBeGreaterThan(100);
  });

  it('on a single host orders the starts and lets the entrypoint wait for every dependency to answer /health', () => {
    for (const [, p] of single()) {
      for (const [id, s] of Object.entries(p.services)) {
        const agent = plan.agents.find((a) => a.id === id)!;
        const same = agent.dependencies.filter((d) => !d.crossMachine).map((d) => d.id);
        expect(Object.entries(s.depends_on ?? {}).sort()).toEqual(same.sort().map((d) => [d, { condition: 'service_started' }]));
        expect((s.environment['WAIT_FOR'] ?? '').split(',').filter(Boolean)).toHaveLength(agent.dependencies.length);
      }
    }
    // Worked out from the example's configs: each dependency's health port, an HTTP /health unless its
    // probe is tcp (AudioCapture), a MainPC dependency of a PC2 agent through MAIN_PC_IP.
    const waitFor = (machine: string, id: string) => single().find(([m]) => m === machine)![1].services[id]!.environment['WAIT_FOR'];
    expect(waitFor('mainpc', 'active-learning-monitor')).toBe('http://127.0.0.1:6580/health,http://127.0.0.1:8220/health');
    expect(waitFor('mainpc', 'fused-audio-preprocessor')).toBe('127.0.0.1:7550,http://127.0.0.1:8220/health');
    expect(waitFor('mainpc', 'wake-word-detector')).toBe('127.0.0.1:7550,http://127.0.0.1:7551/health');
    expect(waitFor('pc2', 'speech-relay-service')).toBe('http://${MAIN_PC_IP:-127.0.0.1}:6562/health,http://127.0.0.1:8160/health');
    expect(waitFor('mainpc', 'service-registry')).toBeUndefined();
  });

  it('reaches every cross-machine dependency through the address variable and lists it in WAIT_FOR', () => {
    let edges = 0;
    for (const [machine, p] of twoPc()) {
      for (const [id, s] of Object.entries(p.services)) {
        const agent = plan.agents.find((a) => a.id === id)!;
        const cross = agent.dependencies.filter((d) => d.crossMachine);
        const waitFor = (s.environment['WAIT_FOR'] ?? '').split(',').filter(Boolean);
        expect(waitFor).toHaveLength(cross.length);
        for (const d of cross) {
          const addressEnv = plan.machines.find((m) => m.name === d.machine)!.addressEnv;
          const ref = `\${${addressEnv}:?${addressEnv} must be set; see .env.example}`;
          expect(s.environment[`${d.envPrefix}_HOST`]).toBe(ref);
          expect(waitFor).toContain(`http://${ref}:${d.healthPort}/health`);
          expect(d.machine).not.toBe(machine);
          edges++;
        }
      }
    }
    expect(edges).toBe(1);
  });

  it('publishes no host port twice on one host, for the two-PC files and for the single host', () => {
    for (const [machine, p] of twoPc()) {
      const published = Object.values(p.services).flatMap((s) => s.ports.map((x: string) => Number(/(\d+):\d+\/tcp$/.exec(x)![1])));
      expect([machine, published.length]).toEqual([machine, new Set(published).size]);
    }
    const bound = single().flatMap(([, p]) => Object.values(p.services).flatMap((s) => Object.entries(s.environment).filter(([k]) => /^AGENT_(\w+_)?PORT$|^HEALTH_CHECK_PORT$/.test(k)).map(([, v]) => v)));
    expect(bound.length).toBe(plan.agents.reduce((n, a) => n + a.ports.length, 0));
    expect(new Set(bound).size).toBe(bound.length);
    for (const [, p] of single()) for (const s of Object.values(p.services)) expect([s.network_mode, s.ports]).toEqual(['host', undefined]);
  });

  it('reserves the device of its machine for each GPU agent and nothing for CPU agents', () => {
    for (const [machine, p] of twoPc()) {
      for (const [id, s] of Object.entries(p.services)) {
        const agent = plan.agents.find((a) => a.id === id)!;
        const devices = s.deploy.resources.reservations.devices;
        if (agent.gpu) {
          const gpu = plan.machines.find((m) => m.name === machine)!.gpus[0]!;
          expect(devices).toEqual([{ driver: 'nvidia', device_ids: [String(gpu.device)], capabilities: ['gpu'] }]);
          expect(s.environment['NVIDIA_VISIBLE_DEVICES']).toBeUndefined();
        } else {
          expect(devices).toBeUndefined();
          expect(s.environment['NVIDIA_VISIBLE_DEVICES']).toBe('void');
        }
      }
    }
    for (const [, p] of single()) for (const s of Object.values(p.services)) expect(s.deploy.resources.reservations.devices).toBeUndefined();
  });

  it('writes no secret value anywhere: secrets are references, .env.example lists names only', () => {
    const moc = twoPc().find(([m]) => m === 'mainpc')![1].services['model-ops-coordinator']!;
    expect(moc.environment['OPENAI_API_KEY']).toBe('${OPENAI_API_KEY:-}');
    expect(files.get('compose/.env.example')).toMatch(/^OPENAI_API_KEY=$/m);
    for (const [, p] of [...twoPc(), ...single()]) {
      for (const s of Object.values(p.services)) for (const secret of plan.secrets) if (secret in s.environment) expect(s.environment[secret]).toBe(`\${${secret}:-}`);
    }
    // Even with the secret set where agent-infra runs, no output carries its value.
    process.env['OPENAI_API_KEY'] = 'canary-secret-value-1234';
    try {
      const again = emitAll(runPipeline({ spec: EXAMPLE_SPEC, cwd: ROOT }).plan, 'examples/two-pc/agent-infra.yaml');
      for (const [f, text] of again) expect([f, text.includes('canary-secret-value-1234')]).toEqual([f, false]);
    } finally {
      delete process.env['OPENAI_API_KEY'];
    }
  });

  it('runs every service as the numeric user, read-only, without capabilities, with bounded logs', () => {
    for (const [, p] of [...twoPc(), ...single()]) {
      for (const s of Object.values(p.services)) {
        expect(s).toMatchObject({ user: '10001:10001', read_only: true, cap_drop: ['ALL'], security_opt: ['no-new-privileges:true'], tmpfs: ['/tmp', '/app/.cache'] });
        expect(s.logging).toEqual({ driver: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } });
      }
    }
  });

  it('puts optional agents in a profile with a softer restart policy', () => {
    const services = twoPc().flatMap(([, p]) => Object.entries(p.services));
    const optional = services.filter(([, s]) => s.profiles).map(([id]) => id).sort();
    expect(optional).toEqual(plan.agents.filter((a) => !a.required).map((a) => a.id).sort());
    expect(optional).toEqual(['observability-dashboard-api', 'smart-home-agent', 'tutor-agent']);
    for (const [id, s] of services) expect([id, s.restart]).toEqual([id, optional.includes(id) ? 'on-failure' : 'unless-stopped']);
  });

  it('scrapes every metrics port in the Prometheus config', () => {
    const prom = parse(files.get('compose/prometheus.yml')!);
    expect(prom.scrape_configs.map((s: { job_name: string }) => s.job_name)).toEqual(plan.agents.filter((a) => a.metricsPort).map((a) => a.id));
  });

  it('agrees with the Kubernetes output for every agent: ports, health port, environment names, dependencies', () => {
    const deployments = new Map(parseManifests(files).filter((o) => o.kind === 'Deployment').map((d) => [d.metadata.name, d.spec.template.spec]));
    for (const [, p] of twoPc()) {
      for (const [id, s] of Object.entries(p.services)) {
        const pod = deployments.get(id)!;
        const c = pod.containers[0];
        expect(s.ports.map((x: string) => Number(/:(\d+)\/tcp$/.exec(x)![1]))).toEqual(c.ports.map((x: { containerPort: number }) => x.containerPort));
        const k8sHealth = (c.readinessProbe.httpGet ?? c.readinessProbe.tcpSocket).port;
        expect([id, Number(/localhost(?::|', )(\d+)/.exec(s.healthcheck.test.at(-1))![1])]).toEqual([id, k8sHealth]);
        const composeEnv = Object.keys(s.environment).filter((k) => !['WAIT_FOR', 'WAIT_TIMEOUT_SECONDS', 'AGENT_SCRIPT', 'NVIDIA_VISIBLE_DEVICES'].includes(k)).sort();
        const k8sEnv = c.env.map((e: { name: string }) => e.name).filter((k: string) => k !== 'NVIDIA_VISIBLE_DEVICES').sort();
        expect([id, composeEnv]).toEqual([id, k8sEnv]);
        const k8sDeps = (pod.initContainers?.[0]?.env[0]?.value ?? '').split(',').filter(Boolean).map((x: string) => /^(?:http:\/\/)?([^:/]+):/.exec(x)![1]!.toUpperCase().replace(/-/g, '_'));
        const composeDeps = Object.keys(s.environment).filter((k) => k.endsWith('_HOST') && k !== 'ERROR_BUS_HOST').map((k) => k.slice(0, -5));
        expect([id, composeDeps.sort()]).toEqual([id, k8sDeps.sort()]);
        for (const d of Object.keys(s.depends_on ?? {})) expect(k8sDeps).toContain(d.toUpperCase().replace(/-/g, '_'));
      }
    }
  });
});
