/** Each phase of the plan on a small hand-built input, with expected values worked out by hand. */
import { describe, expect, it } from 'vitest';
import type { AgentConfig, MachineConfig } from '../../lib/config/model.ts';
import { DEFAULT_IMAGES, DeploymentSpecSchema } from '../../lib/config/spec.ts';
import { EMPTY_LOCK } from '../../lib/lock.ts';
import { resolveDependencies } from '../../lib/plan/phases/dependencies.ts';
import { draftAgents, overrideFor, unknownOverrides } from '../../lib/plan/phases/drafts.ts';
import { agentEnvironment } from '../../lib/plan/phases/environment.ts';
import { leaveOut } from '../../lib/plan/phases/left-out.ts';
import { nameAgents } from '../../lib/plan/phases/names.ts';
import { plan } from '../../lib/plan/plan.ts';
import { placeGpus } from '../../lib/plan/phases/placement.ts';
import { assignPorts } from '../../lib/plan/phases/port-assignment.ts';

const at = (line: number) => ({ file: 'm.yaml', line, column: 1, path: '' });

/** An agent as the normalizer would give it: health port declared unless `health` is undefined (then port + 1000). */
function agent(
  machine: string,
  name: string,
  port: number,
  o: { health?: number; deps?: string[]; group?: string; extra?: [string, number][]; vramMiB?: number } = {},
): AgentConfig {
  return {
    name,
    machine,
    group: o.group ?? 'core',
    at: at(port % 100),
    scriptPath: `agents/${name.toLowerCase()}.py`,
    port: { value: port, at: at(1) },
    healthCheckPort: { value: o.health ?? port + 1000, at: at(2), derived: o.health === undefined },
    extraPorts: (o.extra ?? []).map(([n, p]) => ({ name: n, port: p, at: at(3) })),
    required: true,
    dependencies: (o.deps ?? []).map((d) => ({ value: d, at: at(4) })),
    dockerGroups: [],
    ...(o.vramMiB !== undefined ? { vramMiBHint: o.vramMiB } : {}),
    cudaHint: false,
    secretRefs: [],
  };
}

const machine = (name: string, agents: AgentConfig[]): MachineConfig => ({
  machine: name,
  file: `${name}.yaml`,
  layout: 'agent-groups',
  agents,
  settings: {
    environment: [
      { name: 'LOG_LEVEL', value: 'INFO' },
      { name: 'AGENT_NAME', value: 'not-this' },
    ],
    healthChecks: {},
    portRanges: [],
    secretRefs: [],
  },
});

const spec = (extra: Record<string, unknown> = {}) =>
  DeploymentSpecSchema.parse({
    machines: {
      a: {
        config: 'a.yaml',
        addressEnv: 'MAIN_PC_IP',
        gpus: [
          { model: 'G24', vramGiB: 24, device: 0 },
          { model: 'G8', vramGiB: 8, device: 1 },
        ],
      },
      b: {
        config: 'b.yaml',
        addressEnv: 'PC2_IP',
        ports: { onConflict: 'reassign', range: { start: 7300, end: 7310 } },
      },
    },
    ...extra,
  });

describe('plan phases', () => {
  it('drafts: GPU need from group names and VRAM hints, families, startup seconds and port names', () => {
    const s = spec({ agents: { Tts: { startupSeconds: 9 } } });
    const configs = [
      machine('a', [
        agent('a', 'Tts', 5000, {
          group: 'speech_gpu',
          extra: [
            ['zmq_port', 5001],
            ['zmq_pub_port', 5002],
          ],
        }),
        agent('a', 'Plain', 5100, { vramMiB: 3072 }),
      ]),
    ];
    const { drafts, diagnostics } = draftAgents(s, configs, DEFAULT_IMAGES);
    expect(diagnostics).toEqual([]);
    // Sorted by name within the machine: Plain before Tts.
    expect(drafts.map((d) => [d.cfg.name, d.id, d.envPrefix, d.gpu, d.vramGiB, d.family, d.startupSeconds])).toEqual([
      ['Plain', 'plain', 'PLAIN', true, 3, 'gpu', 20],
      ['Tts', 'tts', 'TTS', true, 2, 'gpu', 9],
    ]);
    expect(drafts[1]!.ports.map((p) => [p.name, p.key, p.role, p.declared])).toEqual([
      ['service', 'a/Tts/service', 'service', 5000],
      ['health', 'a/Tts/health', 'health', 6000],
      ['zmq', 'a/Tts/zmq', 'extra', 5001],
      ['zmq-pub', 'a/Tts/zmq-pub', 'extra', 5002],
    ]);
  });

  it('drafts: a GPU agent on a machine without one is planned on the CPU, and overrides that match nothing are reported', () => {
    const s = spec({ agents: { Vison: {} }, groups: { vision_gpus: {} } });
    const configs = [machine('b', [agent('b', 'Vision', 7000, { group: 'vision_gpu' })])];
    const { drafts, diagnostics } = draftAgents(s, configs, DEFAULT_IMAGES);
    expect([drafts[0]!.gpu, drafts[0]!.family]).toEqual([false, 'cpu']);
    expect(diagnostics.map((d) => [d.code, d.severity, d.message])).toEqual([
      [
        'gpu-unavailable',
        'info',
        "agent 'Vision' looks GPU-bound but machine 'b' declares no GPU; it is planned on the CPU",
      ],
    ]);
    expect(unknownOverrides(s, configs).map((d) => d.message)).toEqual([
      "agents.Vison matches no agent; did you mean 'Vision'?",
      "groups.vision_gpus matches no group; did you mean 'vision_gpu'?",
    ]);
  });

  it('drafts: overrides are looked up as own properties only', () => {
    const s = spec();
    expect(overrideFor(s, agent('a', 'constructor', 5000, { group: '__proto__' }))).toEqual({});
  });

  it('names: an agent on two machines gets the machine as a suffix', () => {
    const s = spec();
    const { drafts } = draftAgents(
      s,
      [machine('a', [agent('a', 'Hub', 5000)]), machine('b', [agent('b', 'Hub', 7000)])],
      DEFAULT_IMAGES,
    );
    const named = nameAgents(drafts);
    expect(named.live.map((d) => d.id)).toEqual(['hub-a', 'hub-b']);
    expect(named.diagnostics.map((d) => d.code)).toEqual(['shared-agent-name']);
  });

  it('left out: what cannot start, and, to a fixed point, what needs it (resolved as the plan resolves names)', () => {
    const s = spec({ agents: { Off: { disabled: true } } });
    const configs = [
      machine('a', [
        agent('a', 'Broken', 7000),
        agent('a', 'NeedsBroken', 7002, { deps: ['Fine', 'Broken'] }),
        agent('a', 'NeedsNeeds', 7004, { deps: ['NeedsBroken'] }),
        agent('a', 'Fine', 7006),
        agent('a', 'Twin', 7008),
        agent('a', 'NeedsTwinA', 7010, { deps: ['Twin'] }),
        agent('a', 'Off', 7012, { deps: ['Broken'] }),
      ]),
      machine('b', [
        agent('b', 'Twin', 7100),
        agent('b', 'NeedsTwinB', 7102, { deps: ['Twin'] }),
        agent('b', 'Remote', 7104, { deps: ['NeedsNeeds'] }),
      ]),
    ];
    const dies = (file: string) => ({ code: 'script-syntax-error', message: 'invalid syntax', file, line: 3 });
    const cannot = new Map([
      ['a/Broken', dies('broken.py')],
      ['a/Twin', dies('twin.py')],
    ]);
    const out = leaveOut(s, configs, cannot);
    // By hand: a/Twin cannot start, but b/NeedsTwinB resolves Twin on its own machine (b/Twin starts);
    // b/Remote has no NeedsNeeds on b, so it needs a/NeedsNeeds, blocked two steps from a/Broken. Off is disabled.
    expect(out.map((l) => [l.key, l.reason, l.chain.join('>'), l.problem.file])).toEqual([
      ['a/Broken', 'cannot-start', '', 'broken.py'],
      ['a/NeedsBroken', 'blocked', 'Broken', 'broken.py'],
      ['a/NeedsNeeds', 'blocked', 'NeedsBroken>Broken', 'broken.py'],
      ['a/NeedsTwinA', 'blocked', 'Twin', 'twin.py'],
      ['a/Twin', 'cannot-start', '', 'twin.py'],
      ['b/Remote', 'blocked', 'NeedsNeeds>NeedsBroken>Broken', 'broken.py'],
    ]);
    // The plan deploys the rest, with no error about the left-out ones (a disabled agent still may not be needed).
    const p = plan(s, configs, EMPTY_LOCK, undefined, cannot);
    expect(p.agents.map((a) => `${a.machine}/${a.name}`).sort()).toEqual(['a/Fine', 'b/NeedsTwinB', 'b/Twin']);
    expect(p.leftOut).toEqual(out);
    expect(p.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    // Nothing can start: nothing is deployed.
    const all = new Map(configs.flatMap((c) => c.agents).map((a) => [`${a.machine}/${a.name}`, dies('x.py')]));
    expect(leaveOut(s, configs, all).every((l) => l.reason === 'cannot-start')).toBe(true);
    expect(plan(s, configs, EMPTY_LOCK, undefined, all).agents).toEqual([]);
  });

  it('dependencies: the same machine first, else the other; levels; a cycle named whole', () => {
    const s = spec();
    const configs = [
      machine('a', [agent('a', 'Reg', 5000), agent('a', 'Twin', 5010, { deps: ['Reg'] })]),
      machine('b', [
        agent('b', 'Relay', 7000, { deps: ['Twin'] }),
        agent('b', 'X', 7010, { deps: ['Y'] }),
        agent('b', 'Y', 7020, { deps: ['X'] }),
      ]),
    ];
    const { live, byId } = nameAgents(draftAgents(s, configs, DEFAULT_IMAGES).drafts);
    const { edges, graph, diagnostics } = resolveDependencies(live, byId, new Set());
    expect(edges.get('relay')!.map((e) => [e.dep.id, e.dep.cfg.machine])).toEqual([['twin', 'a']]);
    expect([graph.level.get('reg'), graph.level.get('twin'), graph.level.get('relay')]).toEqual([0, 1, 2]);
    expect(diagnostics.map((d) => d.message)).toEqual([
      'dependency cycle: X -> Y -> X; remove one of these dependencies',
    ]);
  });

  it('dependencies: a name on both machines is the own machine’s, a dependency listed twice is one edge', () => {
    const s = spec();
    // Hub exists on both machines; each Client gets its own machine's, whichever machine comes first.
    const configs = [
      machine('a', [agent('a', 'Hub', 5000), agent('a', 'Client', 5010, { deps: ['Hub', 'Hub'] })]),
      machine('b', [agent('b', 'Hub', 7000), agent('b', 'Client', 7010, { deps: ['Hub'] })]),
    ];
    const { live, byId } = nameAgents(draftAgents(s, configs, DEFAULT_IMAGES).drafts);
    const { edges, diagnostics } = resolveDependencies(live, byId, new Set());
    expect(edges.get('client-a')!.map((e) => e.dep.id)).toEqual(['hub-a']);
    expect(edges.get('client-b')!.map((e) => e.dep.id)).toEqual(['hub-b']);
    expect(diagnostics).toEqual([]);
  });

  it('dependencies: a disabled agent, an unknown one with and without a near name, and where a cycle is reported', () => {
    const s = spec();
    const configs = [
      machine('a', [
        agent('a', 'Worker', 5000, { deps: ['Gone', 'Wroker2', 'Nothing'] }),
        agent('a', 'Worker2', 5010),
        agent('a', 'P', 5020, { deps: ['Q'] }),
        agent('a', 'Q', 5030, { deps: ['P'] }),
      ]),
    ];
    const { live, byId } = nameAgents(draftAgents(s, configs, DEFAULT_IMAGES).drafts);
    const { diagnostics } = resolveDependencies(live, byId, new Set(['Gone']));
    expect(diagnostics.map((d) => [d.severity, d.code, d.line, d.message])).toEqual([
      [
        'error',
        'unknown-dependency',
        4,
        "agent 'Gone' is disabled in the spec but 'Worker' depends on it; disable 'Worker' too or remove the dependency",
      ],
      ['error', 'unknown-dependency', 4, "unknown agent 'Wroker2'; did you mean 'Worker2'?"],
      ['error', 'unknown-dependency', 4, "unknown agent 'Nothing'; define it or remove the dependency"],
      // At the dependency line of the cycle's first edge, not at the agent's own line (20 or 30).
      ['error', 'dependency-cycle', 4, 'dependency cycle: P -> Q -> P; remove one of these dependencies'],
    ]);
  });

  it('ports: a clash on a reassigning machine moves the later agent into its range; the single host keeps both machines apart', () => {
    const s = spec();
    // On b, Q wants P's port; on one host, b's P wants a's port 7000 as well.
    const configs = [
      machine('a', [agent('a', 'A', 7000, { health: 8000 })]),
      machine('b', [agent('b', 'P', 7000, { health: 8001 }), agent('b', 'Q', 7000, { health: 8002 })]),
    ];
    const { live } = nameAgents(draftAgents(s, configs, DEFAULT_IMAGES).drafts);
    const { assignment, diagnostics } = assignPorts(s, configs, live, EMPTY_LOCK);
    const ports = Object.fromEntries(
      live.map((d) => [d.id, assignment.portsOf(d).map((p) => [p.port, p.singleHostPort])]),
    );
    expect(ports).toEqual({
      a: [
        [7000, 7000],
        [8000, 8000],
      ],
      p: [
        [7000, 7301],
        [8001, 8001],
      ],
      q: [
        [7300, 7300],
        [8002, 8002],
      ],
    });
    expect(assignment.singleHostReady).toBe(true);
    expect(diagnostics.map((d) => d.code)).toEqual(['port-reassigned', 'port-reassigned']);
    expect(assignment.lock.ports.map((e) => `${e.host} ${e.agent} ${e.port} ${e.wanted}->${e.assigned}`)).toEqual([
      'b P health 8001->8001',
      'b P service 7000->7000',
      'b Q health 8002->8002',
      'b Q service 7000->7300',
      // The single host has a reassigning machine: every port on it is locked, a's included.
      'single-host A health 8000->8000',
      'single-host A service 7000->7000',
      'single-host P health 8001->8001',
      'single-host P service 7000->7301',
      'single-host Q health 8002->8002',
      'single-host Q service 7300->7300',
    ]);
  });

  it('placement: largest VRAM first onto the card with the most left; over budget is an error naming every agent', () => {
    const s = spec({
      agents: { Big: { gpu: true, vramGiB: 20 }, Mid: { gpu: true, vramGiB: 6 }, Small: { gpu: true, vramGiB: 3 } },
    });
    const configs = [
      machine('a', [agent('a', 'Big', 5000), agent('a', 'Mid', 5010), agent('a', 'Small', 5020)]),
      machine('b', []),
    ];
    const { live } = nameAgents(draftAgents(s, configs, DEFAULT_IMAGES).drafts);
    const { gpuOf, machines, diagnostics } = placeGpus(s, configs, live);
    // Big (20) -> card 0 (24 free); Mid (6) -> card 1 (8 free vs 4); Small (3) -> card 0 (4 free vs 2).
    expect(Object.fromEntries([...gpuOf].map(([id, g]) => [id, g.device]))).toEqual({ big: 0, mid: 1, small: 0 });
    expect(machines[0]!.gpus.map((g) => g.usedGiB)).toEqual([23, 6]);
    expect(diagnostics).toEqual([]);
    const over = spec({ agents: { Big: { gpu: true, vramGiB: 30 } } });
    const r = placeGpus(over, configs, nameAgents(draftAgents(over, configs, DEFAULT_IMAGES).drafts).live);
    expect(r.diagnostics.map((d) => d.message)).toEqual([
      'agents on a GPU 0 (G24, 24 GiB) need 30 GiB: big 30; lower their vramGiB in the spec, move agents to another machine or add a GPU',
    ]);
  });

  it("environment: planned variables win over the config's, dependencies and the error bus by reference", () => {
    const env = agentEnvironment(
      {
        name: 'Twin',
        id: 'twin',
        machine: 'a',
        startupSeconds: 3,
        readiness: { protocol: 'tcp', port: 6010, singleHostPort: 6010 },
        discovery: [],
        services: [],
        ports: [
          { name: 'service', role: 'service', declared: 5010, port: 5010, singleHostPort: 5010, at: at(1) },
          { name: 'health', role: 'health', declared: 6010, port: 6010, singleHostPort: 6010, at: at(2) },
        ],
        dependencies: [
          {
            name: 'Reg',
            id: 'reg',
            machine: 'a',
            crossMachine: false,
            envPrefix: 'REG',
            port: 5000,
            healthPort: 6000,
            readiness: { protocol: 'http', port: 6000, singleHostPort: 6000, path: '/health', codes: [200] },
            singleHostPort: 5000,
            singleHostHealthPort: 6000,
          },
        ],
        secrets: ['OPENAI_API_KEY'],
        settings: {
          environment: [
            { name: 'LOG_LEVEL', value: 'INFO' },
            { name: 'AGENT_NAME', value: 'not-this' },
          ],
        },
      },
      [
        {
          name: 'a',
          file: 'a.yaml',
          addressEnv: 'MAIN_PC_IP',
          addressVariables: ['MAIN_PC_IP', 'MAINPC_IP'],
          gpus: [],
          agents: ['twin'],
          cache: { sizeGiB: 50, path: '/app/.cache' },
          sharing: 'time-slicing',
        },
      ],
      { reserved: { machine: 'a', port: 7150 } },
    );
    expect(
      env.map((e) =>
        e.kind === 'health-target'
          ? `${e.name}=${e.probe.protocol}:${e.probe.port}`
          : `${e.name}=${e.kind === 'literal' ? e.value : e.kind === 'port' ? e.port : e.kind === 'agent-host' ? `host(${e.agent})` : e.kind === 'machine-address' ? `addr(${e.machine})` : e.kind}`,
      ),
    ).toEqual([
      'AGENT_HEALTH=tcp:6010',
      'AGENT_NAME=Twin',
      'AGENT_PORT=5010',
      'BIND_ADDRESS=bind-address',
      'ERROR_BUS_HOST=addr(a)',
      'ERROR_BUS_PORT=7150',
      'HEALTH_CHECK_PORT=6010',
      'LOG_LEVEL=INFO',
      'MACHINE=a',
      'MAINPC_IP=addr(a)',
      'MAIN_PC_IP=addr(a)',
      'OPENAI_API_KEY=secret',
      'REG_HEALTH_PORT=6000',
      'REG_HOST=host(reg)',
      'REG_PORT=5000',
      'STARTUP_SECONDS=3',
    ]);
  });
});
