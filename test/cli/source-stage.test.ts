/**
 * `check --source`: the agents' code read between load and plan. A small system written here (its
 * scripts behave as RUNTIME.md says the real BaseAgent scripts do: health at port + 1 unless a
 * health port is passed), and the real configs with the real slice of code.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cli, HAS_PYTHON, HAS_UPSTREAM, ROOT, STACK, withStandInPackages } from '../helpers.ts';

const BASE_AGENT =
  'class BaseAgent:\n    def __init__(self, name=None, port=None, health_check_port=None, **kwargs):\n        self.port = port\n        self.health_check_port = health_check_port or port + 1\n';

/** A system of three agents on one machine, with its code; `trust` as given. */
function system(trust: 'code' | 'config', extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'source-stage-'));
  const files: Record<string, string> = {
    'agent-infra.yaml': `name: small\nnamespace: small\nsource: src\ntrust: ${trust}\nmachines:\n  main: {config: main.yaml, addressEnv: MAIN_PC_IP}\n`,
    'main.yaml': [
      'agent_groups:',
      '  core:',
      '    Registry: {script_path: agents/registry.py, port: 7200, health_check_port: 8200}',
      '    Worker: {script_path: agents/worker.py, port: 7300, health_check_port: 8300}',
      '    Ghost: {script_path: agents/ghost.py, port: 7400, health_check_port: 8400}',
      '',
    ].join('\n'),
    'src/common/__init__.py': '',
    'src/common/core/__init__.py': '',
    'src/common/core/base_agent.py': BASE_AGENT,
    'src/agents/registry.py':
      'from common.core.base_agent import BaseAgent\nclass Registry(BaseAgent):\n    def __init__(self):\n        super().__init__(name="Registry", port=7200, health_check_port=8200)\nRegistry()\n',
    // Passes its port and no health port: its health socket is at 7301; it talks to the registry unasked.
    'src/agents/worker.py':
      'import zmq\nfrom common.core.base_agent import BaseAgent\nclass Worker(BaseAgent):\n    def __init__(self):\n        super().__init__(name="Worker", port=7300)\n        s = zmq.Context().socket(zmq.REQ)\n        s.connect("tcp://localhost:7200")\n        s.connect("tcp://localhost:7999")\nWorker()\n',
    ...extra,
  };
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

/** `check` of the real 20250814 configs with the real slice of their code. */
const SLICE_CHECK = [
  'check',
  '--spec',
  'test/fixtures/upstream-20250814/agent-infra.yaml',
  '--source',
  '../shared/upstream/src-9ff5bdfb',
];

const json = (dir: string, extra: string[] = []) => {
  const r = cli(['check', '--spec', join(dir, 'agent-infra.yaml'), '--format', 'json', ...extra], dir);
  expect(r.stderr + r.stdout).not.toMatch(STACK);
  return { code: r.code, j: JSON.parse(r.stdout) };
};

describe('check with the source tree', () => {
  it('reports what the code does against the config, and plans by the code (trust: code)', () => {
    const dir = system('code');
    const { code, j } = json(dir);
    // Ghost has no script: it cannot start, so it is left out and the rest is deployed (exit 0); with
    // --strict the same problem is an error that blocks everything.
    expect(code).toBe(0);
    const ghost = j.diagnostics.find((d: { code: string }) => d.code === 'missing-script');
    expect([ghost.severity, ghost.stops]).toEqual(['warning', ['main/Ghost']]);
    expect(j.plan.leftOut).toEqual([
      {
        name: 'Ghost',
        machine: 'main',
        reason: 'cannot-start',
        script: 'agents/ghost.py',
        code: 'missing-script',
        message: 'no file agents/ghost.py under the source root',
        // Where to fix it: the config's script_path (Ghost's flow map is line 5 of main.yaml).
        file: 'main.yaml',
        line: 5,
        chain: [],
      },
    ]);
    expect(j.plan.agents.map((a: { name: string }) => a.name).sort()).toEqual(['Registry', 'Worker']);
    const strict = json(dir, ['--strict']);
    expect(strict.code).toBe(1);
    expect(strict.j.plan.leftOut).toEqual([]);
    expect(strict.j.diagnostics.find((d: { code: string }) => d.code === 'missing-script').severity).toBe('error');
    const by = (c: string) =>
      j.diagnostics
        .filter((d: { code: string }) => d.code === c)
        .map((d: { file: string; line: number; message: string }) => `${d.file}:${d.line} ${d.message}`);
    expect(by('missing-script')).toEqual([
      "main.yaml:5 Ghost's script src/agents/ghost.py does not exist (script_path is read from the root of the source tree); fix the path, or point the source root at the repository's root",
    ]);
    expect(by('health-port-drift')).toEqual([
      'src/agents/worker.py:5 Worker binds its health socket at 7301 (port + 1: its base constructor gets no health_check_port, line 5) but its config says 8300; the plan probes 7301 (trust: code)',
    ]);
    expect(by('undeclared-dependency')).toEqual([
      'src/agents/worker.py:7 Worker connects to port 7200 (Registry) at line 7 but does not list it in its dependencies; the plan adds the edge (trust: code)',
    ]);
    expect(by('unknown-endpoint')).toEqual([
      'src/agents/worker.py:8 Worker connects to tcp://localhost:7999 (line 8), a port no agent binds; fix the endpoint or add the agent',
    ]);
    const worker = j.plan.agents.find((a: { name: string }) => a.name === 'Worker');
    expect([worker.healthCheckPort, worker.startLevel]).toEqual([7301, 1]);
    expect(worker.code).toMatchObject({
      script: 'agents/worker.py',
      compiles: true,
      framework: 'BaseAgent',
      classChain: ['Worker', 'BaseAgent'],
      health: { kind: 'port+1', port: { kind: 'int', value: 7300 }, line: 5 },
    });
    expect(worker.code.connects.map((c: { endpoint: string; port: number | null }) => [c.endpoint, c.port])).toEqual([
      ['tcp://localhost:7200', 7200],
      ['tcp://localhost:7999', 7999],
    ]);
    expect(worker.code.closure).toEqual([
      'agents/worker.py',
      'common/__init__.py',
      'common/core/__init__.py',
      'common/core/base_agent.py',
    ]);
    expect(worker.code.external).toEqual(['zmq']);
  });

  it('keeps the config with trust: config, still saying where the code differs', () => {
    const dir = system('config', {
      'src/agents/ghost.py':
        'from common.core.base_agent import BaseAgent\nclass Ghost(BaseAgent):\n    def __init__(self):\n        super().__init__(port=7400, health_check_port=8400)\nGhost()\n',
    });
    const { code, j } = json(dir);
    expect(code).toBe(0);
    const worker = j.plan.agents.find((a: { name: string }) => a.name === 'Worker');
    expect([worker.healthCheckPort, worker.startLevel]).toEqual([8300, 0]);
    expect(j.diagnostics.find((d: { code: string }) => d.code === 'health-port-drift').message).toContain(
      'the plan keeps 8300 (trust: config), where nothing answers',
    );
  });

  it('synth deploys what can start: the agent that cannot and the one that needs it are left out and named', () => {
    const dir = system('code', {
      'main.yaml': [
        'agent_groups:',
        '  core:',
        '    Registry: {script_path: agents/registry.py, port: 7200, health_check_port: 8200}',
        '    Worker: {script_path: agents/worker.py, port: 7300, health_check_port: 8300}',
        '    Ghost: {script_path: agents/ghost.py, port: 7400, health_check_port: 8400}',
        '    Haunted: {script_path: agents/registry.py, port: 7500, health_check_port: 8500, dependencies: [Ghost]}',
        '',
      ].join('\n'),
    });
    const out = join(dir, 'dist');
    const r = cli(['synth', '--spec', join(dir, 'agent-infra.yaml'), '--out', out], dir);
    expect(r.stderr + r.stdout).not.toMatch(STACK);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      'warning 2 agents left out of what is deployed, 1 that cannot start and 1 blocked by them; missing-script: Ghost; blocked (a dependency is left out): Haunted (needs Ghost); ',
    );
    expect(r.stdout).toContain('wrote');
    const compose = readFileSync(join(out, 'compose', 'docker-compose.main.yml'), 'utf8');
    expect(compose).toContain(
      '# Left out, not deployed (2): they cannot start, or need an agent that cannot; reports/agents.md says why.\n#   Ghost: missing-script at main.yaml:5\n#   Haunted: blocked: needs Ghost\n',
    );
    const services = Object.keys((parse(compose) as { services: Record<string, unknown> }).services);
    expect(services.filter((s) => !['redis', 'nats'].includes(s)).sort()).toEqual(['registry', 'worker']);
    const md = readFileSync(join(out, 'reports', 'agents.md'), 'utf8');
    expect(md).toContain(
      '| Ghost | main | missing-script: no file agents/ghost.py under the source root | main.yaml:5 |',
    );
    expect(md).toContain(
      '| Haunted | main | blocked: needs Ghost, which cannot start (missing-script) | main.yaml:5 |',
    );
    // The Kubernetes side deploys the same two.
    const k8s = parseAllDocuments(readFileSync(join(out, 'k8s', 'main.yaml'), 'utf8')).map(
      (d) => d.toJS() as { kind: string; metadata: { name: string } },
    );
    const infra = ['redis', 'nats'];
    const deployments = k8s.filter((o) => o.kind === 'Deployment' && !infra.includes(o.metadata.name));
    expect(deployments.map((o) => o.metadata.name).sort()).toEqual(['registry', 'worker']);
    // --strict: the same problem blocks everything and nothing is written.
    const strictOut = join(dir, 'strict');
    const s2 = cli(['synth', '--spec', join(dir, 'agent-infra.yaml'), '--out', strictOut, '--strict'], dir);
    expect(s2.code).toBe(1);
    expect(s2.stderr).toMatch(
      /^error main\.yaml:5 agent_groups\.core\.Ghost\.script_path: Ghost's script src\/agents\/ghost\.py does not exist .*\[missing-script\]$/m,
    );
    expect(existsSync(strictOut)).toBe(false);
  });

  it('fails a script that does not compile at the line Python reports', () => {
    const dir = system('code', {
      'src/agents/ghost.py':
        'from common.core.base_agent import BaseAgent\nclass Ghost(BaseAgent):\n    def __init__(self):\n        super().__init__(port=7400, health_check_port=8400\nGhost()\n',
    });
    const { code, j } = json(dir, ['--strict']);
    expect(code).toBe(1);
    expect(
      j.diagnostics
        .filter((d: { code: string }) => d.code === 'script-syntax-error')
        .map((d: { file: string; line: number; message: string }) => `${d.file}:${d.line} ${d.message}`),
    ).toEqual(["src/agents/ghost.py:4 '(' was never closed; the agent cannot start until it compiles"]);
  });

  it('writes reports/agents.md: a row per agent, and the variables given but not read', () => {
    const dir = system('code', {
      'src/agents/ghost.py':
        'import os\nfrom common.core.base_agent import BaseAgent\nclass Ghost(BaseAgent):\n    def __init__(self):\n        super().__init__(port=7400, health_check_port=8400)\n        os.getenv("GHOST_MODE", "quiet")\nGhost()\n',
    });
    const r = cli(['report', '--spec', join(dir, 'agent-infra.yaml'), '--out', join(dir, 'dist')], dir);
    expect(r.code).toBe(0);
    const md = readFileSync(join(dir, 'dist', 'reports', 'agents.md'), 'utf8');
    expect(md).toContain(
      '| agent | script | framework | compiles | health port | undeclared connections | env read / injected | missing modules |',
    );
    expect(md).toMatch(
      /\n\| Worker \| agents\/worker\.py \| BaseAgent \| yes \| 8300 -> 7301 \| Registry \| 0 \/ \d+ \| - \|\n/,
    );
    expect(md).toMatch(/\n\| Ghost \| agents\/ghost\.py \| BaseAgent \| yes \| 8400 \| - \| 1 \/ \d+ \| - \|\n/);
    expect(md).toMatch(
      /### Ghost \(main\)\n\n- given, never read: [^\n]*`AGENT_PORT`[^\n]*\n- read, never given: `GHOST_MODE` \(the code's default: "quiet"\)\n/,
    );
  });

  it('a third-party import its image lacks stops the agent at start, warns inside a function, never for guarded or standard ones', () => {
    const ghost =
      'import json, yaml, cv2\ntry:\n    import torch\nexcept ImportError:\n    torch = None\nfrom common.core.base_agent import BaseAgent\nclass Ghost(BaseAgent):\n    def __init__(self):\n        super().__init__(port=7400, health_check_port=8400)\n    def speak(self):\n        import sounddevice\n        import hybrid_bridge\nGhost()\n';
    const files = (family: string) => ({
      'agent-infra.yaml': `name: small\nnamespace: small\nsource: src\nmachines:\n  main: {config: main.yaml, addressEnv: MAIN_PC_IP}\nimages:\n  cpu: {builderBase: python:3.11-slim-bookworm, runtimeBase: python:3.11-slim-bookworm${family}}\n`,
      'src/requirements/base.txt': "# the agents' packages\n-r common.txt\npyzmq==25.1.2\n",
      'src/requirements/common.txt': 'PyYAML>=6\n',
      'src/agents/ghost.py': ghost,
    });
    const shown = (j: {
      diagnostics: { code: string; severity: string; file: string; line: number; message: string; stops?: string[] }[];
    }) =>
      j.diagnostics
        .filter((d) => d.code === 'missing-requirement')
        .map((d) => `${d.severity} ${d.file}:${d.line} ${d.message}${d.stops ? ` stops ${d.stops.join(',')}` : ''}`);
    // The family says what it installs (pyzmq, PyYAML): cv2 at line 1 stops Ghost; sounddevice only when speak() runs.
    const listed = json(system('code', files(', requirements: [requirements/base.txt]')));
    expect(shown(listed.j)).toEqual([
      "warning src/agents/ghost.py:1 Ghost imports cv2 (opencv-python), which image family 'cpu' does not install (requirements/base.txt): it cannot start without it; add opencv-python to the family's requirements stops main/Ghost",
      "warning src/agents/ghost.py:11 Ghost imports sounddevice, which image family 'cpu' does not install (requirements/base.txt); add sounddevice to the family's requirements",
      // No distribution is known to provide it: it may as well be the system's own code, missing here.
      "warning src/agents/ghost.py:12 Ghost imports hybrid_bridge, which image family 'cpu' does not install (requirements/base.txt); add the distribution that provides hybrid_bridge to the family's requirements, or its code to the source tree if it is the system's own",
    ]);
    expect(listed.code).toBe(0);
    expect(
      listed.j.plan.leftOut.map(
        (l: { name: string; code: string; message: string }) => `${l.name} ${l.code}: ${l.message}`,
      ),
    ).toEqual(["Ghost missing-requirement: No module named 'cv2': image family 'cpu' does not install opencv-python"]);
    // Debian's python3-opencv, seen through the system site packages, provides cv2 (and python3-zmq, python3-yaml the rest).
    const debian = json(
      system('code', files(', runtimePackages: [python3-zmq, python3-yaml, python3-opencv], systemSitePackages: true')),
    );
    expect(shown(debian.j)).toEqual([
      "warning src/agents/ghost.py:11 Ghost imports sounddevice, which image family 'cpu' does not install (no requirement files; Debian's python3-zmq, python3-yaml, python3-opencv); add sounddevice to the family's requirements",
      "warning src/agents/ghost.py:12 Ghost imports hybrid_bridge, which image family 'cpu' does not install (no requirement files; Debian's python3-zmq, python3-yaml, python3-opencv); add the distribution that provides hybrid_bridge to the family's requirements, or its code to the source tree if it is the system's own",
    ]);
    expect(debian.j.plan.leftOut).toEqual([]);
    // A family that lists nothing yet: what its image will hold is not known, so nothing is left out for it.
    const none = json(system('code', files('')));
    expect(none.j.plan.leftOut.map((l: { name: string }) => l.name)).toEqual([]);
    expect(shown(none.j).every((d: string) => d.startsWith('warning ') && !d.includes(' stops '))).toBe(true);
  });

  it('says where the code connects a ZMQ socket to one of a type it never pairs with, and only there', () => {
    const worker = [
      'import zmq',
      'from common.core.base_agent import BaseAgent',
      'class Worker(BaseAgent):',
      '    def __init__(self):',
      '        super().__init__(name="Worker", port=7300)',
      '        self.bus_port = 7150',
      '        self.errors = zmq.Context().socket(zmq.PUB)',
      '        self.errors.connect(f"tcp://localhost:{self.bus_port}")',
      '        req = zmq.Context().socket(zmq.REQ)',
      '        req.connect("tcp://localhost:7200")',
      '        self.jobs = zmq.Context().socket(zmq.PUSH)',
      '        self.jobs.connect("tcp://localhost:7200")',
      '        listen = zmq.Context().socket(zmq.SUB)',
      '        listen.connect("tcp://localhost:7150")',
      '        hub = zmq.Context().socket(zmq.SUB)',
      '        hub.connect("tcp://localhost:7500")',
      'Worker()',
      '',
    ].join('\n');
    const dir = system('code', {
      'main.yaml': [
        'agent_groups:',
        '  core:',
        '    Registry: {script_path: agents/registry.py, port: 7200, health_check_port: 8200}',
        '    Bus: {script_path: agents/bus.py, port: 7150, health_check_port: 8150}',
        '    Hub: {script_path: agents/hub.py, port: 7500, health_check_port: 8500}',
        '    Worker: {script_path: agents/worker.py, port: 7300, health_check_port: 8300, dependencies: [Registry, Bus, Hub]}',
        '',
      ].join('\n'),
      // A BaseAgent whose script binds a PUB at a port it computes: what it binds at 7500 is not plain.
      'src/agents/hub.py':
        'import zmq\nfrom common.core.base_agent import BaseAgent\nclass Hub(BaseAgent):\n    def __init__(self):\n        super().__init__(name="Hub", port=7500, health_check_port=8500)\n    def serve(self, port):\n        self.out = zmq.Context().socket(zmq.PUB)\n        self.out.bind(f"tcp://*:{port}")\nHub()\n',
      // As the real CentralErrorBus: no BaseAgent, a PUB socket bound where the agents send their errors.
      'src/agents/bus.py':
        'import zmq\nctx = zmq.Context()\npub = ctx.socket(zmq.PUB); pub.bind("tcp://*:7150")\nfrom prometheus_client import start_http_server\nstart_http_server(9150)\n',
      'src/agents/worker.py': worker,
    });
    const { j } = json(dir);
    const w = j.plan.agents.find((a: { name: string }) => a.name === 'Worker');
    expect(
      w.code.connects.map((c: { port: number; socket: string; line: number }) => `${c.line} ${c.socket} ${c.port}`),
    ).toEqual(['8 PUB 7150', '10 REQ 7200', '12 PUSH 7200', '14 SUB 7150', '16 SUB 7500']);
    const bus = j.plan.agents.find((a: { name: string }) => a.name === 'Bus');
    expect(bus.code.binds.map((b: { port: number; socket: string }) => `${b.socket} ${b.port}`)).toEqual(['PUB 7150']);
    expect(
      j.diagnostics
        .filter((d: { code: string }) => d.code === 'socket-mismatch')
        .map(
          (d: { file: string; line: number; severity: string; message: string }) =>
            `${d.severity} ${d.file}:${d.line} ${d.message}`,
        ),
    ).toEqual([
      'warning src/agents/worker.py:8 Worker connects a PUB socket to tcp://localhost:7150 (line 8), where Bus binds a PUB socket (src/agents/bus.py:3): ZMQ never pairs PUB with PUB, so no message passes either way; only a SUB or XSUB socket talks to a PUB',
      'warning src/agents/worker.py:12 Worker connects a PUSH socket to tcp://localhost:7200 (line 12), where Registry binds a REP socket (its BaseAgent base class): ZMQ never pairs PUSH with REP, so no message passes either way; only a REQ or DEALER socket talks to a REP',
    ]);
    // reports/agents.md lists the same two, with the file relative to the source root.
    const r = cli(
      ['synth', '--spec', join(dir, 'agent-infra.yaml'), '--out', join(dir, 'dist'), '--only', 'reports'],
      dir,
    );
    expect(r.code, r.stderr).toBe(0);
    const md = readFileSync(join(dir, 'dist', 'reports', 'agents.md'), 'utf8');
    expect(md).toContain(
      [
        '| agent | machine | connects | to | where |',
        '|---|---|---|---|---|',
        "| Worker | main | PUB to tcp://localhost:7150 | Bus's PUB | agents/worker.py:8 |",
        "| Worker | main | PUSH to tcp://localhost:7200 | Registry's REP | agents/worker.py:12 |",
        '',
      ].join('\n'),
    );
  });

  it("gives an agent the other agents' hosts and ports its code reads, under the names it reads them by", () => {
    const dir = system('code', {
      'src/agents/ghost.py':
        'import os\nfrom common.core.base_agent import BaseAgent\nREG = (os.getenv("REGISTRY_HOST", "0.0.0.0"), int(os.getenv("REGISTRY_PORT", 7100)), os.getenv("WORKER_HEALTH_PORT"), os.getenv("NOBODY_PORT"))\nclass Ghost(BaseAgent):\n    def __init__(self):\n        super().__init__(port=7400, health_check_port=8400)\nGhost()\n',
    });
    const r = cli(
      ['synth', '--spec', join(dir, 'agent-infra.yaml'), '--out', join(dir, 'dist'), '--only', 'compose'],
      dir,
    );
    expect(r.code).toBe(0);
    const compose = readFileSync(join(dir, 'dist', 'compose', 'docker-compose.main.yml'), 'utf8');
    const ghost = compose.slice(compose.indexOf('\n  ghost:\n'), compose.indexOf('\n  registry:\n'));
    // The registry's service port, not the code's default 7100; the worker's health port as the code binds it.
    expect(ghost).toMatch(/\n\s+REGISTRY_HOST: registry\n/);
    expect(ghost).toMatch(/\n\s+REGISTRY_PORT: "7200"\n/);
    expect(ghost).toMatch(/\n\s+WORKER_HEALTH_PORT: "7301"\n/);
    expect(ghost).not.toContain('NOBODY_PORT');
  });

  it("reports port-drift: a script that passes no port, and one that passes another than its config's", () => {
    const dir = system('code', {
      'src/agents/ghost.py':
        'from common.core.base_agent import BaseAgent\nclass Ghost(BaseAgent):\n    def __init__(self):\n        super().__init__(name="Ghost")\nGhost()\n',
      'src/agents/registry.py':
        'from common.core.base_agent import BaseAgent\nclass Registry(BaseAgent):\n    def __init__(self):\n        super().__init__(name="Registry", port=7100)\nRegistry()\n',
    });
    const { j } = json(dir);
    expect(
      j.diagnostics
        .filter((d: { code: string }) => d.code === 'port-drift')
        .map((d: { file: string; line: number; message: string }) => `${d.file}:${d.line} ${d.message}`),
    ).toEqual([
      'src/agents/ghost.py:4 Ghost passes no port to its base constructor (line 4), which then binds the first free port from 5000, not 7400, and its health socket one above it: no probe can find it and no other agent can reach it; pass port= (and health_check_port=)',
      'src/agents/registry.py:4 Registry binds port 7100 (line 4) but its config says 7200; the plan binds 7100, as the code does (trust: code)',
    ]);
  });

  it('probes an agent with no health server where its code serves: its HTTP exporter, else the port it binds', () => {
    const dir = system('code', {
      // No BaseAgent: a PUB socket on its port and a Prometheus exporter on 9105, as the error bus has.
      'src/agents/ghost.py':
        'import os\nfrom prometheus_client import start_http_server\nimport zmq\nPORT = int(os.getenv("BUS_PORT", "7400"))\npub = zmq.Context().socket(zmq.PUB)\npub.bind(f"tcp://*:{PORT}")\nstart_http_server(9105)\n',
      // No BaseAgent, no exporter: a REP socket on its own port.
      'src/agents/registry.py':
        'import zmq\nrep = zmq.Context().socket(zmq.REP)\nrep.bind("tcp://*:7200")\nwhile True:\n    rep.send(rep.recv())\n',
    });
    const { j } = json(dir);
    const agent = (name: string) => j.plan.agents.find((a: { name: string }) => a.name === name);
    expect(
      j.diagnostics
        .filter((d: { code: string }) => d.code === 'code-probe')
        .map((d: { file: string; line: number; message: string }) => `${d.file}:${d.line} ${d.message}`),
    ).toEqual([
      'src/agents/ghost.py:7 Ghost has no health server of its own; the plan probes the HTTP server its code starts on 9105 (GET /metrics, line 7) and lists that port',
      'src/agents/registry.py:3 Registry has no health server of its own; the plan probes a TCP connect to port 7200, which its code binds (line 3)',
    ]);
    const r = cli(['synth', '--spec', join(dir, 'agent-infra.yaml'), '--only', 'compose'], dir);
    expect(r.code).toBe(0);
    const compose = readFileSync(join(dir, 'dist', 'compose', 'docker-compose.main.yml'), 'utf8');
    // One service of the file: every line indented below its name.
    const block = (name: string) => new RegExp(`\\n  ${name}:\\n((?: {4}.*\\n)*)`).exec(compose)?.[1] ?? '';
    expect(block('ghost')).toContain('http://127.0.0.1:9105/metrics');
    // Published for Prometheus, like every metrics port.
    expect(block('ghost')).toContain('- "9105:9105/tcp"');
    expect(block('registry')).toContain('tcp://127.0.0.1:7200');
    expect(agent('Ghost')).toBeDefined();
  });

  it('an endpoint at another machine’s address is an edge to that machine’s agent, not to one with the same port here', () => {
    const dir = system('code', {
      'agent-infra.yaml':
        'name: small\nnamespace: small\nsource: src\ntrust: code\nmachines:\n  main: {config: main.yaml, addressEnv: MAIN_PC_IP}\n  pc2: {config: pc2.yaml, addressEnv: PC2_IP}\n',
      'pc2.yaml':
        'agent_groups:\n  core:\n    Peer: {script_path: agents/peer.py, port: 7300, health_check_port: 8310}\n',
      'src/agents/peer.py': 'import time\nwhile True:\n    time.sleep(60)\n',
      'src/agents/ghost.py':
        'import os\nimport zmq\nPC2_IP = os.getenv("PC2_IP", "pc2")\ns = zmq.Context().socket(zmq.REQ)\ns.connect(f"tcp://{PC2_IP}:7300")\ns.connect(f"tcp://{PC2_IP}:7999")\n',
    });
    const { j } = json(dir);
    const said = (code: string) =>
      j.diagnostics
        .filter((d: { code: string; file: string }) => d.code === code && d.file === 'src/agents/ghost.py')
        .map((d: { line: number; message: string }) => `${d.line} ${d.message}`);
    expect(said('undeclared-dependency')).toEqual([
      '5 Ghost connects to port 7300 (Peer) at line 5 but does not list it in its dependencies; the plan adds the edge (trust: code)',
    ]);
    expect(said('unknown-endpoint')).toEqual([
      '6 Ghost connects to tcp://pc2:7999 (line 6), port 7999 on pc2, where no agent binds it; fix the endpoint or add the agent',
    ]);
  });

  it('names an agent that talks to the Docker engine; mounts the socket in compose only where the spec says so', () => {
    const ghost = { 'src/agents/ghost.py': 'import docker\nclient = docker.from_env()\n' };
    const shown = (j: {
      diagnostics: { code: string; severity: string; file: string; line: number; message: string }[];
    }) =>
      j.diagnostics
        .filter((d) => d.code === 'docker-engine')
        .map((d) => `${d.severity} ${d.file}:${d.line} ${d.message}`);
    const dir = system('code', ghost);
    expect(shown(json(dir).j)).toEqual([
      'warning src/agents/ghost.py:2 Ghost talks to the Docker engine (docker.from_env(), line 2), whose socket no container gets: it fails when that line runs; mounting /var/run/docker.sock gives the agent root on the host, so agent-infra does it only where the spec says dockerSocket: true for the agent',
    ]);
    const socketOf = (out: string) => {
      const compose = parse(readFileSync(join(out, 'compose', 'docker-compose.main.yml'), 'utf8')) as {
        services: Record<string, { volumes: { source: string; target: string }[]; group_add?: string[] }>;
      };
      return Object.entries(compose.services)
        .filter(([, s]) => s.volumes?.some((v) => v.target === '/var/run/docker.sock'))
        .map(
          ([id, s]) =>
            `${id} ${s.volumes.find((v) => v.target === '/var/run/docker.sock')!.source} ${s.group_add?.join(',')}`,
        );
    };
    // Never by default.
    expect(
      cli(['synth', '--spec', join(dir, 'agent-infra.yaml'), '--out', join(dir, 'dist'), '--only', 'compose'], dir)
        .code,
    ).toBe(0);
    expect(socketOf(join(dir, 'dist'))).toEqual([]);
    // The spec's opt-in: the socket and the docker group for Ghost only, the warning says what it costs.
    const opted = system('code', {
      ...ghost,
      'agent-infra.yaml':
        'name: small\nnamespace: small\nsource: src\nmachines:\n  main: {config: main.yaml, addressEnv: MAIN_PC_IP}\nagents: {Ghost: {dockerSocket: true}}\n',
    });
    expect(shown(json(opted).j)).toEqual([
      'warning src/agents/ghost.py:2 Ghost talks to the Docker engine (docker.from_env(), line 2) and the spec mounts its socket (dockerSocket: true): in compose the agent can do anything root can on the host; its Kubernetes pod gets no socket and fails when that line runs',
    ]);
    const out = join(opted, 'dist');
    expect(cli(['synth', '--spec', join(opted, 'agent-infra.yaml'), '--out', out], opted).code).toBe(0);
    expect(socketOf(out)).toEqual([
      "ghost /var/run/docker.sock ${DOCKER_GID:?DOCKER_GID must be set to the docker group's id (getent group docker)}",
    ]);
    expect(readFileSync(join(out, 'compose', '.env.example'), 'utf8')).toMatch(/\nDOCKER_GID=\n/);
    expect(readFileSync(join(out, 'k8s', 'main.yaml'), 'utf8')).not.toContain('docker.sock');
  });

  it('never moves a port the code decides: the health port a BaseAgent computes stays, the declared port that clashes moves', () => {
    const dir = system('code', {
      'agent-infra.yaml':
        'name: small\nnamespace: small\nsource: src\ntrust: code\nmachines:\n  main: {config: main.yaml, addressEnv: MAIN_PC_IP, ports: {onConflict: reassign}}\n',
      'main.yaml': [
        'agent_groups:',
        '  core:',
        '    Registry: {script_path: agents/registry.py, port: 7200, health_check_port: 8200}',
        '    Worker: {script_path: agents/worker.py, port: 7300, health_check_port: 8300}',
        // Declares the port the worker's code binds its health socket at (7300 + 1); its own code says nothing of ports.
        '    Clash: {script_path: agents/plain.py, port: 7301, health_check_port: 8301}',
        '',
      ].join('\n'),
      'src/agents/plain.py': 'import time\nwhile True:\n    time.sleep(60)\n',
    });
    const { j } = json(dir);
    const ports = Object.fromEntries(
      j.plan.agents.map((a: { name: string; port: number; healthCheckPort: number }) => [
        a.name,
        [a.port, a.healthCheckPort],
      ]),
    );
    expect(ports['Worker']).toEqual([7300, 7301]);
    // Clash's service port moves to the first free one above it: 7302 is the worker's HTTP (health + 1).
    expect(ports['Clash']).toEqual([7303, 8301]);
    expect(
      j.diagnostics
        .filter((d: { code: string }) => d.code === 'port-reassigned')
        .map((d: { message: string }) => d.message),
    ).toEqual(['port 7301 of Clash (service) is taken by Worker (health) on main; moved to 7303']);
  });

  it('refuses a --source that is not a folder, with exit 2', () => {
    const dir = system('code');
    const r = cli(['check', '--spec', join(dir, 'agent-infra.yaml'), '--source', join(dir, 'main.yaml')], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /error the source tree \S*main\.yaml is not a folder; fix --source \(the root of the system's code\) \[missing-file\]/,
    );
  });

  it.skipIf(!HAS_UPSTREAM)(
    "reads the real slice with the real configs: the scripts that do not compile, EmotionEngine's health port",
    () => {
      const r = cli([...SLICE_CHECK, '--format', 'json', '--strict'], ROOT);
      expect(r.stderr).not.toMatch(STACK);
      const j = JSON.parse(r.stdout);
      const lines = j.diagnostics
        .filter((d: { code: string }) => d.code === 'script-syntax-error')
        .map((d: { file: string; line: number }) => `${d.file.replace(/.*src-9ff5bdfb\//, '')}:${d.line}`);
      expect(lines).toEqual(
        expect.arrayContaining([
          'main_pc_code/FORMAINPC/tiny_llama_service_enhanced.py:73',
          'pc2_code/agents/cache_manager.py:395',
        ]),
      );
      expect(j.diagnostics.map((d: { message: string }) => d.message)).toContainEqual(
        expect.stringMatching(
          /^EmotionEngine binds its health socket at 5591 \(port \+ 1: its base constructor gets no health_check_port, line 40\) but its config says 6590/,
        ),
      );
      // The system's own defect (RUNTIME.md): an agent's error publisher connects PUB to the bus's PUB.
      expect(
        j.diagnostics
          .filter((d: { code: string }) => d.code === 'socket-mismatch')
          .map(
            (d: { file: string; line: number; message: string }) =>
              `${d.file.replace(/.*src-9ff5bdfb\//, '')}:${d.line} ${d.message.slice(0, 90)}`,
          ),
      ).toEqual([
        'pc2_code/agents/task_scheduler.py:81 TaskScheduler connects a PUB socket to tcp://{get_pc2_ip()}:7150 (line 81), where CentralE',
      ]);
      const nlu = j.plan.agents.find((a: { name: string }) => a.name === 'NLUAgent');
      expect(nlu.code.framework).toBe('EnhancedBaseAgent');
      // Without --strict: of the slice's 13 scripts, two do not compile, two import pc2_code.agents.utils
      // (not in the tree), and seven need an agent whose script is not in the slice (SystemDigitalTwin...).
      // ServiceRegistry and CentralErrorBus need nothing: they are what is deployed.
      const partial = cli([...SLICE_CHECK, '--format', 'json'], ROOT);
      expect(partial.code).toBe(0);
      const p = JSON.parse(partial.stdout);
      expect(p.plan.agents.map((a: { machine: string; name: string }) => `${a.machine}/${a.name}`)).toEqual([
        'mainpc/ServiceRegistry',
        'pc2/CentralErrorBus',
      ]);
      const why = (name: string) => {
        const l = p.plan.leftOut.find((x: { name: string }) => x.name === name);
        return `${l.reason} ${l.code} ${l.file}:${l.line}${l.chain.length ? ` via ${l.chain.join('>')}` : ''}`;
      };
      expect(
        [
          'TinyLlamaServiceEnhanced',
          'CacheManager',
          'AdvancedRouter',
          'TaskScheduler',
          'NLUAgent',
          'SpeechRelayService',
        ].map(why),
      ).toEqual([
        'cannot-start script-syntax-error main_pc_code/FORMAINPC/tiny_llama_service_enhanced.py:73',
        'cannot-start script-syntax-error pc2_code/agents/cache_manager.py:395',
        'cannot-start missing-module pc2_code/agents/advanced_router.py:37',
        'cannot-start missing-module pc2_code/agents/task_scheduler.py:12',
        // A missing script is fixed at its config's script_path line (grep -n of each config).
        'blocked missing-script ../shared/upstream/20250814_9ff5bdfb_mainpc.yaml:72 via SystemDigitalTwin',
        'blocked missing-script ../shared/upstream/20250814_9ff5bdfb_pc2.yaml:85 via VisionProcessingAgent',
      ]);
    },
  );
});

describe.skipIf(!HAS_UPSTREAM)('check of the real configs with the real slice, for people', () => {
  const args = SLICE_CHECK;
  it('fits a screen: at most 40 lines, a line per warning code, the left-out agents whole, where the rest is', () => {
    const r = cli(args, ROOT);
    expect(r.code).toBe(0);
    const lines = `${r.stderr}${r.stdout}`.trimEnd().split('\n');
    expect(lines.length).toBeLessThanOrEqual(40);
    const j = JSON.parse(cli([...args, '--format', 'json'], ROOT).stdout) as {
      diagnostics: { code: string; severity: string }[];
    };
    const warnings = j.diagnostics.filter((d) => d.severity === 'warning');
    const codes = new Set(warnings.map((d) => d.code));
    codes.delete('left-out');
    // One line per code, with its count, then the left-out agents whole, then the pointer to the rest.
    for (const c of codes) {
      const n = warnings.filter((d) => d.code === c).length;
      expect(r.stderr).toMatch(new RegExp(`^warning +${n} × \\[${c}\\] e\\.g\\. `, 'm'));
    }
    expect(r.stderr).toMatch(/^warning \d+ agents left out of what is deployed, .*\[left-out\]$/m);
    expect(r.stderr).toContain(`(${warnings.length} warnings in ${codes.size + 1} groups, `);
    // --verbose: every warning on its own line.
    const verbose = cli([...args, '--verbose'], ROOT);
    expect(verbose.stderr.split('\n').filter((l) => l.startsWith('warning ')).length).toBe(warnings.length);
  });
});

describe("the example with the mini monorepo's code: the plan follows what the code binds and answers", () => {
  it('probes a BaseAgent that passes no health_check_port at port + 1 because its code says so, and every agent by ZMQ because its code is a BaseAgent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'source-example-'));
    const { exampleSpecCopy } = await import('../helpers.ts');
    // Without the spec's healthPort overrides and with the framework left at its default (http):
    // only the code can tell.
    // Debian's packages stand in for the PyPI ones the mini monorepo's agents import (zmq, redis, yaml).
    const spec = exampleSpecCopy(dir, (t) =>
      withStandInPackages(t.replace(/, healthPort: service\+1/g, '').replace(/^ {2}framework: baseagent.*$/m, '')),
    );
    expect(readFileSync(spec, 'utf8')).not.toMatch(/healthPort|framework/);
    const src = join(ROOT, 'test', 'fixtures', 'mini-monorepo');
    const out = join(dir, 'dist');
    const r = cli(['synth', '--spec', spec, '--source', src, '--out', out, '--only', 'k8s'], dir);
    expect(r.code).toBe(0);
    const check = cli(['check', '--spec', spec, '--source', src, '--format', 'json'], dir);
    const drift = (JSON.parse(check.stdout).diagnostics as { code: string; message: string }[])
      .filter((d) => d.code === 'health-port-drift')
      .map((d) => d.message.split(' ')[0])
      .sort();
    // The three scripts that pass their base class a port only (the config says port + 1000).
    expect(drift).toEqual(['CodeGenerator', 'DreamWorldAgent', 'LearningManager']);
    const { parseAllDocuments } = await import('yaml');
    const docs = ['mainpc', 'pc2'].flatMap((m) =>
      parseAllDocuments(readFileSync(join(out, 'k8s', `${m}.yaml`), 'utf8')).map((d) => d.toJS()),
    );
    const container = (name: string) =>
      docs.find((o) => o?.kind === 'Deployment' && o.metadata.name === name).spec.template.spec.containers[0];
    // CodeGenerator: port 5650 in its config, health 6650 there; its code binds 5651 (and HTTP 5652).
    expect(container('code-generator').readinessProbe.exec.command.at(-1)).toBe('zmq://127.0.0.1:5651');
    expect(container('code-generator').livenessProbe.httpGet.port).toBe(5652);
    expect(container('code-generator').ports.map((p: { containerPort: number }) => p.containerPort)).toEqual([
      5650, 5651, 5652,
    ]);
    // ServiceRegistry passes HEALTH_CHECK_PORT: its config's 8200 stands, probed by ZMQ.
    expect(container('service-registry').readinessProbe.exec.command.at(-1)).toBe('zmq://127.0.0.1:8200');
    const policy = docs.find((o) => o?.kind === 'NetworkPolicy' && o.metadata.name === 'code-generator');
    expect(policy.spec.ingress.flatMap((x: { ports: { port: number }[] }) => x.ports.map((p) => p.port))).toContain(
      5651,
    );
  });
});

describe('ports the code takes from a variable or a dict, as python3 computes them', () => {
  it('binds the default of a variable the plan does not set, the planned port of one it sets, and a dict’s value or default', () => {
    // By hand: A reads A_PORT, which nothing sets: 25642 (health 25643). B's config dict has no port:
    // 25652. C reads AGENT_PORT, which the plan sets to its port, 7600. D's dict says 25672.
    const base =
      'class BaseAgent:\n    def __init__(self, name=None, port=None, health_check_port=None, **kwargs):\n        print("BIND", port, health_check_port or port + 1, flush=True)\n';
    const agent = (cls: string, pre: string, arg: string) =>
      `import os\nfrom common.core.base_agent import BaseAgent\n${pre}class ${cls}(BaseAgent):\n    def __init__(self):\n        super().__init__(name="${cls}", port=${arg})\n${cls}()\n`;
    const dir = system('code', {
      'main.yaml': [
        'agent_groups:',
        '  core:',
        '    A: {script_path: agents/a.py, port: 7400, health_check_port: 8400}',
        '    B: {script_path: agents/b.py, port: 7500, health_check_port: 8500}',
        '    C: {script_path: agents/c.py, port: 7600, health_check_port: 8600}',
        '    D: {script_path: agents/d.py, port: 7700, health_check_port: 8700}',
        '',
      ].join('\n'),
      'src/common/core/base_agent.py': base,
      'src/agents/a.py': agent('A', '', 'int(os.getenv("A_PORT", "25642"))'),
      'src/agents/b.py': agent('B', 'config = {}\n', 'config.get("port", 25652)'),
      'src/agents/c.py': agent('C', '', 'int(os.getenv("AGENT_PORT", "25662"))'),
      'src/agents/d.py': agent('D', 'CONF = {"port": 25672, "name": "D"}\n', 'CONF.get("port", 1)'),
    });
    const { j } = json(dir);
    const planned = Object.fromEntries(
      j.plan.agents.map((a: { name: string; port: number; healthCheckPort: number }) => [
        a.name,
        [a.port, a.healthCheckPort],
      ]),
    );
    expect(planned).toEqual({ A: [25642, 25643], B: [25652, 25653], C: [7600, 7601], D: [25672, 25673] });
    if (!HAS_PYTHON) return;
    // Each script started as the compose file says: from the root, with the environment it gives the agent.
    const out = join(dir, 'dist');
    expect(cli(['synth', '--spec', join(dir, 'agent-infra.yaml'), '--out', out, '--only', 'compose'], dir).code).toBe(
      0,
    );
    const compose = parse(readFileSync(join(out, 'compose', 'docker-compose.main.yml'), 'utf8')) as {
      services: Record<string, { command: string[]; environment: Record<string, string> }>;
    };
    for (const name of ['A', 'B', 'C', 'D']) {
      const svc = compose.services[name.toLowerCase()]!;
      const env = Object.fromEntries(Object.entries(svc.environment).filter(([, v]) => !v.includes('${')));
      const r = spawnSync(svc.command[0]!, svc.command.slice(1), {
        cwd: join(dir, 'src'),
        env: { PATH: process.env['PATH'], ...env, PYTHONPATH: join(dir, 'src') },
        encoding: 'utf8',
      });
      expect(r.stdout.trim(), `${name}: ${r.stderr}`).toBe(`BIND ${planned[name][0]} ${planned[name][1]}`);
    }
  });
});

describe('a baseline of known problems', () => {
  it('check --write-baseline records today’s problems; later runs show only new ones and count the known', () => {
    const dir = system('code');
    const spec = join(dir, 'agent-infra.yaml');
    const w = cli(['check', '--spec', spec, '--write-baseline'], dir);
    expect(w.stderr).toMatch(/^agent-infra: wrote agent-infra\.baseline\.json: (\d+) known problems$/m);
    const known = Number(/wrote agent-infra\.baseline\.json: (\d+) known/.exec(w.stderr)![1]);
    // By hand: Ghost's missing script, Worker's health port, its undeclared edge, its unknown endpoint, its
    // zmq import no requirement installs, and the left-out line.
    expect(known).toBe(6);
    const again = cli(['check', '--spec', spec], dir);
    expect(again.code).toBe(w.code);
    expect(again.stderr.split('\n').filter((l) => /^(error|warning) /.test(l))).toEqual([]);
    expect(again.stderr).toContain(
      `(${known} known problems of the baseline agent-infra.baseline.json not shown: --no-baseline shows them)`,
    );
    // A new problem: only it is shown, the known ones still counted.
    writeFileSync(
      join(dir, 'main.yaml'),
      `${readFileSync(join(dir, 'main.yaml'), 'utf8')}    Phantom: {script_path: agents/phantom.py, port: 7500, health_check_port: 8500}\n`,
    );
    const next = cli(['check', '--spec', spec], dir);
    const shown = next.stderr.split('\n').filter((l) => /^(error|warning) /.test(l));
    expect(shown.some((l) => l.includes('agents/phantom.py') && l.endsWith('[missing-script]'))).toBe(true);
    expect(shown.every((l) => /phantom|Phantom|left-out/i.test(l))).toBe(true);
    // --no-baseline shows everything; the JSON always lists everything.
    expect(cli(['check', '--spec', spec, '--no-baseline'], dir).stderr).toContain('[health-port-drift]');
    // A file of that name that is no baseline of ours is never replaced.
    writeFileSync(join(dir, 'agent-infra.baseline.json'), '{"mine": true}\n');
    const refused = cli(['check', '--spec', spec, '--write-baseline'], dir);
    expect(refused.code).toBe(2);
    expect(readFileSync(join(dir, 'agent-infra.baseline.json'), 'utf8')).toBe('{"mine": true}\n');
  });
});
