/** docker-compose output: asserted on the generated YAML, read back, and checked by real validators. */
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runPipeline } from '../../lib/pipeline.ts';
import { emitAll } from '../../lib/synth.ts';
import type { SystemPlan } from '../../lib/plan/types.ts';
import { EXAMPLE_SPEC, ROOT } from '../helpers.ts';
import { schemaProblems } from '../compose-helpers.ts';
import { parseManifests } from '../k8s-helpers.ts';

type Service = Record<string, any> & { environment: Record<string, string> };
let plan: SystemPlan;
let files: Map<string, string>;
/** A project's agent services, and apart from them its infrastructure (Redis, NATS). */
const project = (path: string) => {
  const doc = parse(files.get(path)!) as { services: Record<string, Service>; volumes: Record<string, unknown> };
  const infra = new Set(plan.services.map((x) => x.id));
  return {
    services: Object.fromEntries(Object.entries(doc.services).filter(([id]) => !infra.has(id))),
    infra: Object.fromEntries(Object.entries(doc.services).filter(([id]) => infra.has(id))),
    volumes: doc.volumes,
  };
};
const twoPc = () => plan.machines.map((m) => [m.name, project(`compose/docker-compose.${m.name}.yml`)] as const);
const single = () =>
  plan.machines.map((m) => [m.name, project(`compose/single-host/docker-compose.${m.name}.yml`)] as const);

const machineOf = (id: string) => plan.agents.find((a) => a.id === id)!.machine;

beforeAll(() => {
  const r = runPipeline({ spec: EXAMPLE_SPEC, cwd: ROOT });
  plan = r.plan;
  files = emitAll(plan, 'examples/two-pc/agent-infra.yaml');
});

const composeFiles = () => [...files.keys()].filter((f) => f.endsWith('.yml') && f.includes('docker-compose'));

describe('compose output of the example', () => {
  it('writes a project per machine, the single-host pair, .env.example, firewall files, Prometheus configs, alert rules and a README', () => {
    expect([...files.keys()].filter((f) => f.startsWith('compose/')).sort()).toEqual([
      'compose/.env.example',
      'compose/README.md',
      'compose/alerts.yml',
      'compose/config/mainpc/startup_config.yaml',
      'compose/config/pc2/startup_config.yaml',
      'compose/docker-compose.mainpc.yml',
      'compose/docker-compose.pc2.yml',
      'compose/firewall/mainpc.nft',
      'compose/firewall/mainpc.ufw.sh',
      'compose/firewall/pc2.nft',
      'compose/firewall/pc2.ufw.sh',
      'compose/prometheus.yml',
      'compose/single-host/config/mainpc/startup_config.yaml',
      'compose/single-host/config/pc2/startup_config.yaml',
      'compose/single-host/docker-compose.mainpc.yml',
      'compose/single-host/docker-compose.pc2.yml',
      'compose/single-host/prometheus.yml',
    ]);
  });

  it('validates every file against the compose-spec JSON schema', () => {
    for (const f of composeFiles()) expect([f, schemaProblems(parse(files.get(f)!))]).toEqual([f, []]);
    expect(schemaProblems({ services: { a: { image: 1, ports: 'x' } } }).length).toBeGreaterThan(0);
  });

  it('has no IPv4 literal but 127.0.0.1 in single-host mode (and 0.0.0.0, the bind-to-every-interface address, and 127.0.0.1 for loopback ports in two-PC mode)', () => {
    const ips = (text: string) =>
      new Set([...text.matchAll(/(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])/g)].map((m) => m[0]));
    for (const f of [...files.keys()].filter((k) => k.startsWith('compose/') && !k.includes('/config/'))) {
      const found = ips(files.get(f)!);
      if (f.includes('single-host')) expect([f, [...found]]).toEqual([f, ['127.0.0.1']]);
      // Ports no other machine reaches are published on loopback only.
      else expect([f, [...found].filter((ip) => ip !== '0.0.0.0' && ip !== '127.0.0.1')]).toEqual([f, []]);
    }
    for (const [, p] of twoPc())
      for (const s of Object.values(p.services)) expect(s.environment['BIND_ADDRESS']).toBe('0.0.0.0');
    for (const [, p] of single())
      for (const s of Object.values(p.services)) expect(s.environment['BIND_ADDRESS']).toBe('127.0.0.1');
  });

  it('orders every same-machine dependency’s start, and each of those has a healthcheck', () => {
    let edges = 0;
    for (const [, p] of twoPc()) {
      for (const [id, s] of Object.entries(p.services)) {
        const agent = plan.agents.find((a) => a.id === id)!;
        const same = agent.dependencies.filter((d) => !d.crossMachine).map((d) => d.id);
        // Redis and NATS run on MainPC: its agents start after them too (the entrypoint waits for their readiness).
        expect(Object.keys(s.depends_on ?? {}).sort()).toEqual(
          [...same, ...(agent.machine === 'mainpc' ? ['nats', 'redis'] : [])].sort(),
        );
        for (const d of same) {
          expect(s.depends_on[d]).toEqual({ condition: 'service_started' });
          expect(p.services[d]!.healthcheck.test.slice(0, 4)).toEqual([
            'CMD',
            'python3',
            '-S',
            '/usr/local/bin/agent-infra-health',
          ]);
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
        const started = [...(machineOf(id) === 'mainpc' ? ['redis', 'nats'] : []), ...same.sort()];
        expect(Object.entries(s.depends_on ?? {})).toEqual(started.map((d) => [d, { condition: 'service_started' }]));
        expect((s.environment['WAIT_FOR'] ?? '').split(',').filter(Boolean)).toHaveLength(
          plan.services.length + agent.dependencies.length,
        );
      }
    }
    // Worked out from the example's configs and spec: Redis (a TCP connect to 6379) and NATS (/healthz on
    // 8222) first, then each dependency's ZMQ health socket (BaseAgents), a TCP connect for AudioCapture
    // (probe: tcp), LearningManager's at its port + 1 (healthPort: service+1: 5580 + 1), a MainPC
    // dependency of a PC2 agent through MAIN_PC_IP.
    const waitFor = (machine: string, id: string) =>
      single().find(([m]) => m === machine)![1].services[id]!.environment['WAIT_FOR'];
    const infra = 'tcp://127.0.0.1:6379,http://127.0.0.1:8222/healthz';
    expect(waitFor('mainpc', 'active-learning-monitor')).toBe(`${infra},zmq://127.0.0.1:5581,zmq://127.0.0.1:8220`);
    expect(waitFor('mainpc', 'fused-audio-preprocessor')).toBe(`${infra},tcp://127.0.0.1:7550,zmq://127.0.0.1:8220`);
    expect(waitFor('mainpc', 'wake-word-detector')).toBe(`${infra},tcp://127.0.0.1:7550,zmq://127.0.0.1:7557`);
    expect(waitFor('pc2', 'speech-relay-service')).toBe(
      `${infra},zmq://\${MAIN_PC_IP:-127.0.0.1}:6562,zmq://127.0.0.1:8160`,
    );
    expect(waitFor('mainpc', 'service-registry')).toBe(infra);
  });

  it('reaches every cross-machine dependency through the address variable and lists it in WAIT_FOR', () => {
    let edges = 0;
    for (const [machine, p] of twoPc()) {
      for (const [id, s] of Object.entries(p.services)) {
        const agent = plan.agents.find((a) => a.id === id)!;
        const cross = agent.dependencies.filter((d) => d.crossMachine);
        const waitFor = (s.environment['WAIT_FOR'] ?? '').split(',').filter(Boolean);
        // Every agent waits for Redis and NATS (on MainPC) and for each dependency, cross-machine or not.
        expect(waitFor).toHaveLength(agent.dependencies.length + 2);
        for (const d of agent.dependencies.filter((x) => !x.crossMachine))
          expect(waitFor.filter((w) => w.includes(`://${d.id}:`))).toHaveLength(1);
        for (const d of cross) {
          const addressEnv = plan.machines.find((m) => m.name === d.machine)!.addressEnv;
          const ref = `\${${addressEnv}:?${addressEnv} must be set; see .env.example}`;
          expect(s.environment[`${d.envPrefix}_HOST`]).toBe(ref);
          expect(waitFor).toContain(`zmq://${ref}:${d.healthPort}`);
          expect(d.machine).not.toBe(machine);
          edges++;
        }
      }
    }
    expect(edges).toBe(1);
  });

  it('publishes no host port twice on one host, for the two-PC files and for the single host', () => {
    for (const [machine, p] of twoPc()) {
      const published = Object.values(p.services).flatMap((s) =>
        s.ports.map((x: string) => Number(/(\d+):\d+\/tcp$/.exec(x)![1])),
      );
      expect([machine, published.length]).toEqual([machine, new Set(published).size]);
    }
    const bound = single().flatMap(([, p]) =>
      Object.values(p.services).flatMap((s) =>
        Object.entries(s.environment)
          .filter(([k]) => /^AGENT_(\w+_)?PORT$|^HEALTH_CHECK_PORT$/.test(k))
          .map(([, v]) => v),
      ),
    );
    // Every port but a BaseAgent's HTTP at health + 1, which the agent cannot be told (it follows the health port).
    expect(bound.length).toBe(plan.agents.reduce((n, a) => n + a.ports.filter((x) => !x.follows).length, 0));
    expect(new Set(bound).size).toBe(bound.length);
    for (const [, p] of single())
      for (const s of Object.values(p.services)) expect([s.network_mode, s.ports]).toEqual(['host', undefined]);
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
    for (const [, p] of single())
      for (const s of Object.values(p.services)) expect(s.deploy.resources.reservations.devices).toBeUndefined();
  });

  it('writes no secret value anywhere: secrets are references, .env.example lists names only', () => {
    const moc = twoPc().find(([m]) => m === 'mainpc')![1].services['model-ops-coordinator']!;
    expect(moc.environment['OPENAI_API_KEY']).toBe('${OPENAI_API_KEY:-}');
    expect(files.get('compose/.env.example')).toMatch(/^OPENAI_API_KEY=$/m);
    for (const [, p] of [...twoPc(), ...single()]) {
      for (const s of Object.values(p.services))
        for (const secret of plan.secrets)
          if (secret in s.environment) expect(s.environment[secret]).toBe(`\${${secret}:-}`);
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
        expect(s).toMatchObject({
          user: '10001:10001',
          read_only: true,
          cap_drop: ['ALL'],
          security_opt: ['no-new-privileges:true'],
        });
        // Scratch in memory: /tmp, and the data folder of an agent that keeps no state (a replicated one).
        expect([['/tmp'], ['/tmp', '/app/data']]).toContainEqual(s.tmpfs);
        expect(s.logging).toEqual({ driver: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } });
      }
    }
  });

  it("mounts each machine's startup config, with the planned ports written in, where the agents read it", () => {
    const read = (f: string) => parse(files.get(f)!, { version: '1.1' });
    // Worked out from the example: ServiceRegistry declares ${PORT_OFFSET}+7200 and +8200 (offset 0);
    // on the single host PC2's ProactiveContextMonitorPC2 moves from 7119 (MainPC's
    // ProactiveContextMonitor has it) to 7170, the first port of PC2's reassignment range.
    expect(
      read('compose/config/mainpc/startup_config.yaml').agent_groups.foundation_services.ServiceRegistry,
    ).toMatchObject({ port: 7200, health_check_port: 8200 });
    const pcm = (f: string) =>
      read(f).pc2_services.find((s: { name: string }) => s.name === 'ProactiveContextMonitorPC2');
    expect(pcm('compose/config/pc2/startup_config.yaml').port).toBe(7119);
    expect(pcm('compose/single-host/config/pc2/startup_config.yaml').port).toBe(7170);
    for (const f of [
      'compose/config/mainpc/startup_config.yaml',
      'compose/single-host/config/pc2/startup_config.yaml',
    ]) {
      const lines = files
        .get(f)!
        .split('\n')
        .filter((l) => !l.trimStart().startsWith('#'));
      expect([f, lines.filter((l) => l.includes('${PORT_OFFSET}'))]).toEqual([f, []]);
    }
    // An address keeps its text: AffectiveProcessingCenter's pub_address stays tcp://*:5561.
    expect(
      read('compose/config/mainpc/startup_config.yaml').agent_groups.foundation_services.AffectiveProcessingCenter
        .config.pub_address,
    ).toBe('tcp://*:5561');
    for (const [machine, p] of [...twoPc(), ...single()]) {
      const path =
        machine === 'mainpc' ? 'main_pc_code/config/startup_config.yaml' : 'pc2_code/config/startup_config.yaml';
      for (const s of Object.values(p.services))
        expect(s.volumes).toContainEqual({
          type: 'bind',
          source: `./config/${machine}/startup_config.yaml`,
          target: `/app/${path}`,
          read_only: true,
        });
    }
  });

  it("runs Redis (append-only file on its own volume) and NATS on MainPC, locked down, healthy before MainPC's agents start", () => {
    for (const [machine, p] of [...twoPc(), ...single()]) {
      if (machine !== 'mainpc') {
        expect(p.infra).toEqual({});
        continue;
      }
      const { redis, nats } = p.infra as Record<string, Service>;
      expect(redis!.image).toBe('redis:7.2.5-bookworm');
      expect(nats!.image).toBe('nats:2.10.22-alpine3.20');
      expect(redis!.command).toEqual(
        expect.arrayContaining(['--appendonly', 'yes', '--dir', '/data', '--port', '6379']),
      );
      expect(redis!.volumes).toEqual([{ type: 'volume', source: 'redis-data', target: '/data' }]);
      expect(p.volumes['redis-data']).toEqual({});
      expect(redis!.healthcheck.test).toEqual(['CMD-SHELL', 'redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG']);
      expect(nats!.healthcheck.test).toEqual(['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:8222/healthz']);
      for (const s of [redis!, nats!])
        expect(s).toMatchObject({
          read_only: true,
          cap_drop: ['ALL'],
          security_opt: ['no-new-privileges:true'],
          restart: 'unless-stopped',
        });
      expect(redis!.user).toBe('999:999');
      expect(nats!.user).toBe('10001:10001');
    }
    // PC2's agents reach them through MainPC's address, so the two are in the firewall list.
    const pc2 = twoPc().find(([m]) => m === 'pc2')![1].services['central-error-bus']!.environment;
    expect([pc2['REDIS_URL'], pc2['NATS_URL'], pc2['NATS_SERVERS']]).toEqual([
      'redis://${MAIN_PC_IP:?MAIN_PC_IP must be set; see .env.example}:6379/0',
      ...Array(2).fill('nats://${MAIN_PC_IP:?MAIN_PC_IP must be set; see .env.example}:4222'),
    ]);
    // Their entrypoints wait for NATS's /healthz on its monitor port first: that port is on the list too
    // (without it every pc2 agent waited 600 s behind mainpc's firewall, seen on two test hosts).
    expect(pc2['WAIT_FOR']).toContain('http://${MAIN_PC_IP:?MAIN_PC_IP must be set; see .env.example}:8222/healthz');
    expect(
      plan.firewall.filter((r) => r.agent === 'redis' || r.agent === 'nats').map((r) => `${r.from}>${r.to}:${r.port}`),
    ).toEqual(['pc2>mainpc:4222', 'pc2>mainpc:6379', 'pc2>mainpc:8222']);
  });

  it('puts optional agents in a profile with a softer restart policy', () => {
    const services = twoPc().flatMap(([, p]) => Object.entries(p.services));
    const optional = services
      .filter(([, s]) => s.profiles)
      .map(([id]) => id)
      .sort();
    expect(optional).toEqual(
      plan.agents
        .filter((a) => !a.required)
        .map((a) => a.id)
        .sort(),
    );
    expect(optional).toEqual(['observability-dashboard-api', 'smart-home-agent', 'tutor-agent']);
    for (const [id, s] of services)
      expect([id, s.restart]).toEqual([id, optional.includes(id) ? 'on-failure' : 'unless-stopped']);
  });

  it('scrapes every metrics port in the Prometheus config', () => {
    const prom = parse(files.get('compose/prometheus.yml')!);
    expect(prom.scrape_configs.map((s: { job_name: string }) => s.job_name)).toEqual(
      plan.agents.filter((a) => a.metricsPort).map((a) => a.id),
    );
  });

  it('agrees with the Kubernetes output for every agent: ports, health port, environment names, dependencies', () => {
    const deployments = new Map(
      parseManifests(files)
        .filter((o) => o.kind === 'Deployment')
        .map((d) => [d.metadata.name, d.spec.template.spec]),
    );
    for (const [, p] of twoPc()) {
      for (const [id, s] of Object.entries(p.services)) {
        const pod = deployments.get(id)!;
        const c = pod.containers[0];
        expect(s.ports.map((x: string) => Number(/:(\d+)\/tcp$/.exec(x)![1]))).toEqual(
          c.ports.map((x: { containerPort: number }) => x.containerPort),
        );
        // The same probe: compose runs the probe program, Kubernetes too (ZMQ) or its own HTTP/TCP probe.
        const k8sProbe = c.readinessProbe.exec
          ? c.readinessProbe.exec.command.at(-1)
          : c.readinessProbe.httpGet
            ? `http://127.0.0.1:${c.readinessProbe.httpGet.port}${c.readinessProbe.httpGet.path}`
            : `tcp://127.0.0.1:${c.readinessProbe.tcpSocket.port}`;
        expect([id, s.healthcheck.test.at(-1)]).toEqual([id, k8sProbe]);
        expect([id, s.command]).toEqual([id, c.args]);
        const composeEnv = Object.keys(s.environment)
          .filter((k) => !['WAIT_FOR', 'WAIT_TIMEOUT_SECONDS', 'NVIDIA_VISIBLE_DEVICES'].includes(k))
          .sort();
        const k8sEnv = c.env
          .map((e: { name: string }) => e.name)
          .filter((k: string) => k !== 'NVIDIA_VISIBLE_DEVICES')
          .sort();
        expect([id, composeEnv]).toEqual([id, k8sEnv]);
        const k8sDeps = (pod.initContainers?.[0]?.env[0]?.value ?? '')
          .split(',')
          .filter(Boolean)
          .map((x: string) => /^\w+:\/\/([^:/]+):/.exec(x)![1]!);
        const agent = plan.agents.find((a) => a.id === id)!;
        expect([id, k8sDeps.sort()]).toEqual([id, agent.dependencies.map((d) => d.id).sort()]);
        for (const d of Object.keys(s.depends_on ?? {})) expect([...k8sDeps, 'redis', 'nats']).toContain(d);
      }
    }
  });
});

describe('resource limits for every service', () => {
  it('Redis and NATS have limits and reservations like every agent, the same as their Kubernetes containers', () => {
    const r = runPipeline({ spec: EXAMPLE_SPEC, machines: [], cwd: ROOT });
    const files = emitAll(r.plan, 'agent-infra.yaml', ['compose', 'k8s']);
    const composeFiles = [...files.keys()].filter((f) => /docker-compose\.\w+\.yml$/.test(f));
    expect(composeFiles.length).toBe(4);
    // Worked out from the plan's figures: Redis 1 CPU and 1024 MiB at most, NATS 1 CPU and 256 MiB; 0.05 CPU and 64 MiB reserved.
    const expected = {
      redis: { limits: { cpus: '1.00', memory: '1024M' }, reservations: { cpus: '0.05', memory: '64M' } },
      nats: { limits: { cpus: '1.00', memory: '256M' }, reservations: { cpus: '0.05', memory: '64M' } },
    };
    let infra = 0;
    for (const f of composeFiles) {
      const doc = parse(files.get(f)!) as {
        services: Record<string, { deploy?: { resources?: { limits?: object } } }>;
      };
      for (const [name, s] of Object.entries(doc.services)) {
        expect(s.deploy?.resources?.limits, `${f} ${name}`).toBeDefined();
        if (name === 'redis' || name === 'nats') {
          infra++;
          expect(s.deploy!.resources, `${f} ${name}`).toEqual(expected[name]);
        }
      }
    }
    expect(infra).toBeGreaterThanOrEqual(2);
    const k8s = parseManifests(files);
    const container = (name: string) =>
      (
        k8s.find((o) => (o.kind === 'StatefulSet' || o.kind === 'Deployment') && o.metadata?.name === name) as {
          spec: { template: { spec: { containers: { resources: object }[] } } };
        }
      ).spec.template.spec.containers[0]!.resources;
    expect(container('redis')).toEqual({
      limits: { cpu: '1000m', memory: '1Gi' },
      requests: { cpu: '50m', memory: '64Mi' },
    });
    expect(container('nats')).toEqual({
      limits: { cpu: '1000m', memory: '256Mi' },
      requests: { cpu: '50m', memory: '64Mi' },
    });
  });
});
