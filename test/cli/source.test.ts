/**
 * Reading the agents' Python: syntax errors at the line CPython reports (checked against python3
 * when it is installed), imports followed inside the root only, the framework through aliases,
 * relative imports and subclasses of subclasses, ports, endpoints and environment reads; and the
 * facts of the real slice of the system's code (`../shared/upstream/src-9ff5bdfb`).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { initPython, readPython } from '../../lib/source/python.ts';
import { readScript, SourceTree } from '../../lib/source/tree.ts';
import { HAS_PYTHON, HAS_UPSTREAM, UPSTREAM } from '../helpers.ts';

beforeAll(() => initPython());

if (!HAS_PYTHON)
  console.warn(
    'python3 (3.10 or later) is not installed: the syntax-error lines are checked against the expected values only, not against CPython',
  );

/** The line CPython reports for `text`, or undefined when it compiles. */
function cpythonLine(text: string): number | undefined {
  const r = spawnSync(
    'python3',
    ['-c', 'import sys\ntry:\n compile(sys.stdin.read(), "x.py", "exec")\nexcept SyntaxError as e:\n print(e.lineno)'],
    { input: text, encoding: 'utf8' },
  );
  return r.stdout.trim() ? Number(r.stdout.trim()) : undefined;
}

/** A source tree in a temporary folder: path -> text. */
function tree(files: Record<string, string | Buffer>): { root: string; tree: SourceTree } {
  const root = mkdtempSync(join(tmpdir(), 'source-'));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  return { root, tree: new SourceTree(root) };
}

const BASE_AGENT =
  'class BaseAgent:\n    def __init__(self, name=None, port=None, health_check_port=None, **kwargs):\n        pass\n';

describe('syntax errors, at the line CPython reports', () => {
  const cases: [string, string, number, string][] = [
    ['a bracket never closed', 'x = 1\nf(a,\n  b\ny = 2\n', 2, "'(' was never closed"],
    [
      'a closer that does not match',
      'x = {\n  "a": (1,\n}\n',
      3,
      "closing parenthesis '}' does not match opening parenthesis '(' on line 2",
    ],
    ['an unmatched closer', 'x = 1)\n', 1, "unmatched ')'"],
    ['an unexpected indent', 'x = 1\n    y = 2\n', 2, 'unexpected indent'],
    ['a block that is not indented', 'if x:\npass\n', 2, 'expected an indented block after the statement on line 1'],
    ['a try without except or finally', 'try:\n    x = 1\n\ny = 2\n', 4, "expected 'except' or 'finally' block"],
    [
      'a bracket error after a block not indented (CPython reports the bracket)',
      'if x:\n\nimport os\nf(1}\n',
      4,
      "closing parenthesis '}' does not match opening parenthesis '('",
    ],
    [
      'an unexpected indent before a bracket error (CPython reports the indent)',
      'x = 1\n  y = [1,\n]]\n',
      2,
      'unexpected indent',
    ],
    ['a string never terminated', 'x = "abc\ny = 1\n', 1, 'unterminated string literal (detected at line 1)'],
    [
      'an unindent to no outer level',
      'if x:\n        a = 1\n    b = 2\n',
      3,
      'unindent does not match any outer indentation level',
    ],
  ];
  it.each(cases)('%s', (_name, text, line, message) => {
    expect(readPython(text).syntaxError).toEqual({ line, message });
    if (HAS_PYTHON) expect(cpythonLine(text)).toBe(line);
  });

  it('finds none in code that compiles: brackets in strings and comments, continuations, nested blocks, f-strings', () => {
    const text =
      'import os\n# (unclosed in a comment\ns = "a ( b" + \'c ]\'\nt = """\n)\n"""\nx = 1 + \\\n    2\ndef f():\n    if x:\n        return f"{x}("\n    try:\n        pass\n    except Exception:\n        pass\n';
    expect(readPython(text).syntaxError).toBeUndefined();
    if (HAS_PYTHON) expect(cpythonLine(text)).toBeUndefined();
  });
});

describe('the framework, the ports and the environment of a script', () => {
  it('resolves BaseAgent through an aliased import, a relative import and a subclass of a subclass', () => {
    const { tree: t } = tree({
      'common/__init__.py': '',
      'common/core/__init__.py': '',
      'common/core/base_agent.py': BASE_AGENT,
      'agents/__init__.py': '',
      // Imported as agents.mid (package agents), so its relative import is agents.aliases.
      'agents/aliases.py': 'from common.core.base_agent import BaseAgent as BA\n',
      'agents/mid.py': 'from .aliases import BA\nclass Mid(BA):\n    pass\n',
      'agents/leaf.py':
        'from agents.mid import Mid\nclass Leaf(Mid):\n    def __init__(self):\n        super().__init__(name="Leaf", port=7100)\nif __name__ == "__main__":\n    Leaf().run()\n',
    });
    const f = readScript(t, 'agents/leaf.py');
    expect(f.framework).toBe('BaseAgent');
    expect(f.classChain).toEqual(['Leaf', 'Mid', 'BaseAgent']);
    // A port but no health port: the base class binds health at port + 1.
    expect(f.health).toEqual({ kind: 'port+1', port: { kind: 'int', value: 7100 }, line: 4 });
    expect(f.closure).toEqual([
      'agents/__init__.py',
      'agents/aliases.py',
      'agents/leaf.py',
      'agents/mid.py',
      'common/__init__.py',
      'common/core/__init__.py',
      'common/core/base_agent.py',
    ]);
    expect(f.problems).toEqual([]);
  });

  it('tells a passed health port, **kwargs and self.config apart', () => {
    const common = { 'common/__init__.py': '', 'common/core/__init__.py': '', 'common/core/base_agent.py': BASE_AGENT };
    const script = (body: string) =>
      `import common.core.base_agent as core\nclass A(core.BaseAgent):\n    def __init__(self, **kw):\n${body}\nA()\n`;
    const { tree: t } = tree({
      ...common,
      'passed.py': script('        super().__init__(port=7000, health_check_port=8000)'),
      'splat.py': script('        super().__init__(port=7000, **kw)'),
      'config.py': script('        self.config = {"health_check_port": 9000}\n        super().__init__(port=7000)'),
      'none.py': script('        super().__init__(name="A")'),
    });
    expect(readScript(t, 'passed.py').health).toEqual({ kind: 'passed', value: { kind: 'int', value: 8000 }, line: 4 });
    expect(readScript(t, 'splat.py').health).toEqual({ kind: 'kwargs', line: 4 });
    expect(readScript(t, 'config.py').health).toEqual({ kind: 'config', line: 5 });
    expect(readScript(t, 'none.py').health).toEqual({ kind: 'free-port', line: 4 });
    expect(readScript(t, 'none.py').framework).toBe('BaseAgent');
  });

  it('reads f-string endpoints through names, int(), getenv defaults and split', () => {
    const f = readPython(
      'import os, zmq\nPORT = int(os.getenv("BUS_PORT", "7150"))\nDOWN = os.environ.get("DOWN", "mainpc:5562")\ns.bind(f"tcp://*:{PORT}")\ndef go(self):\n    host, port = DOWN.split(":")\n    s.connect(f"tcp://{host}:{port}")\n    s.connect(f"tcp://localhost:{self.port}")\n    s.bind("ipc:///tmp/x")\n',
    );
    expect(f.binds).toEqual([{ host: '*', port: 7150, text: 'tcp://*:7150', line: 4 }]);
    expect(f.connects).toEqual([
      // The host as written is kept beside its value: `{PC2_IP}` names a machine where its default may not.
      { host: 'mainpc', hostWritten: '{host}', port: 5562, text: 'tcp://mainpc:5562', line: 7 },
      { host: 'localhost', text: 'tcp://localhost:{self.port}', line: 8 },
    ]);
  });

  it('reads self attributes the class assigns once, where Python has set them, and the socket types', () => {
    const f = readPython(
      [
        'import zmq',
        'class Agent:',
        '    def __init__(self):',
        '        self.bus = zmq.Context().socket(zmq.PUB)',
        '        self.bus.connect(f"tcp://localhost:{self.bus_port}")', // line 5: not set yet in this method
        '        self.bus_port = 7150',
        '        self.bus.connect(f"tcp://localhost:{self.bus_port}")', // line 7: set two lines up
        '        self.twice = 1',
        '        self.twice = 2',
        '    def later(self):',
        '        self.bus.connect(f"tcp://localhost:{self.bus_port}")', // line 11: another method, run later
        '        self.bus.connect(f"tcp://localhost:{self.twice}")', // line 12: assigned twice, unknown
        '        req = zmq.Context().socket(zmq.REQ)',
        '        req.connect(self.endpoint)', // line 14: the endpoint is another method's
        '    def setup(self):',
        '        self.endpoint = "tcp://localhost:7200"',
        '        zmq.Context().socket(zmq.SocketType.PULL).bind("tcp://*:7300")',
        '        s = make_socket()',
        '        s.bind("tcp://*:7301")', // no type: the code does not make it plain
        '',
      ].join('\n'),
    );
    expect(f.connects.map((c) => `${c.line} ${c.socketType ?? '-'} ${c.text} ${c.port ?? '-'}`)).toEqual([
      '5 PUB tcp://localhost:{self.bus_port} -',
      '7 PUB tcp://localhost:7150 7150',
      '11 PUB tcp://localhost:7150 7150',
      '12 PUB tcp://localhost:{self.twice} -',
      '14 REQ tcp://localhost:7200 7200',
    ]);
    expect(f.binds.map((b) => `${b.line} ${b.socketType ?? '-'} ${b.port}`)).toEqual(['17 PULL 7300', '19 - 7301']);
  });

  it('finds where the code talks to the Docker engine, not where it only looks for the socket', () => {
    const f = readPython(
      'import docker, os, socket\nclient = docker.from_env()\nc2 = docker.DockerClient(base_url="unix://var/run/docker.sock")\nif os.path.exists("/var/run/docker.sock"):\n    pass\ns = socket.socket(socket.AF_UNIX)\ns.connect("/var/run/docker.sock")\nfrom docker import APIClient\napi = APIClient()\n',
    );
    expect(f.dockerEngine).toEqual([
      { text: 'docker.from_env()', line: 2 },
      { text: 'docker.DockerClient()', line: 3 },
      { text: 's.connect()', line: 7 },
      { text: 'APIClient()', line: 9 },
    ]);
  });

  it('lists the variables read, with literal defaults, through os.environ, os.getenv and the get_env helper', () => {
    const f = readPython(
      'import os\na = os.environ["A"]\nb = os.environ.get("B", 3)\nc = os.getenv("C")\nd = get_env("D", "x")\ne = os.getenv(name)\n',
    );
    expect(f.envReads).toEqual([
      { name: 'A', line: 2 },
      { name: 'B', default: { kind: 'int', value: 3 }, line: 3 },
      { name: 'C', line: 4 },
      { name: 'D', default: { kind: 'str', value: 'x' }, line: 5 },
    ]);
  });
});

describe('bad input in the source tree', () => {
  it('gives each a diagnostic with the file, and never reads outside the root', () => {
    const outside = join(mkdtempSync(join(tmpdir(), 'outside-')), 'secret.py');
    writeFileSync(outside, 'import os\n');
    const { root, tree: t } = tree({
      'binary.py': Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]),
      'latin1.py': Buffer.from('x = "caf\xe9"\n', 'latin1'),
      'dir.py/keep': '',
      'cycle_a.py': 'import cycle_b\n',
      'cycle_b.py': 'import cycle_a\n',
      'uses_missing.py': 'from common.gone import thing\n',
      'common/__init__.py': '',
    });
    symlinkSync(outside, join(root, 'link.py'));
    writeFileSync(join(root, 'big.py'), '');
    truncateSync(join(root, 'big.py'), 20 * 2 ** 20);
    const problem = (script: string) =>
      readScript(t, script).problems.map((p) => `${p.code} ${p.file}:${p.line} ${p.message}`);
    expect(problem('binary.py')).toEqual([
      'unreadable-script binary.py:1 is a binary file (it holds NUL bytes), not Python source',
    ]);
    expect(problem('latin1.py')).toEqual(['unreadable-script latin1.py:1 is not UTF-8, as Python source must be']);
    expect(problem('dir.py')).toEqual(['unreadable-script dir.py:1 is a directory, not a script']);
    expect(problem('link.py')).toEqual([
      'unreadable-script link.py:1 it is a link to a file outside the source root, which is never read',
    ]);
    expect(problem('big.py')).toEqual(['unreadable-script big.py:1 is 20.0 MiB, more than the 4 MiB a script may be']);
    expect(problem('../x.py')).toEqual(['unreadable-script ../x.py:1 the path leaves the source tree']);
    expect(problem('nope.py')).toEqual(['missing-script nope.py:1 no such file under the source root']);
    expect(problem('uses_missing.py')).toEqual([
      "missing-module uses_missing.py:1 imports common.gone, but no module common.gone is under the source root (No module named 'common.gone')",
    ]);
    const { tree: ns } = tree({ 'pkg/mod.py': 'X = 1\n', 'main.py': 'import pkg.mod\n' });
    expect(readScript(ns, 'main.py').problems.map((p) => `${p.code} ${p.file}:${p.line}`)).toEqual([
      'namespace-package main.py:1',
    ]);
    expect(readScript(ns, 'main.py').closure).toEqual(['main.py', 'pkg/mod.py']);
    const cycle = readScript(t, 'cycle_a.py');
    expect([cycle.closure, cycle.problems]).toEqual([['cycle_a.py', 'cycle_b.py'], []]);
  });
});

describe.skipIf(!HAS_UPSTREAM)('the real code at 9ff5bdfb', () => {
  const root = join(UPSTREAM, 'src-9ff5bdfb');
  let t: SourceTree;
  beforeAll(() => {
    t = new SourceTree(root);
  });

  it('finds the two scripts that do not compile, at the lines Python reports', () => {
    expect(
      readScript(t, 'pc2_code/agents/cache_manager.py').problems.filter(
        (p) => p.code === 'script-syntax-error' && p.file === 'pc2_code/agents/cache_manager.py',
      ),
    ).toEqual([
      {
        code: 'script-syntax-error',
        file: 'pc2_code/agents/cache_manager.py',
        line: 395,
        message: "closing parenthesis '}' does not match opening parenthesis '(' on line 394",
        outcome: 'fatal',
      },
    ]);
    const tiny = readScript(t, 'main_pc_code/FORMAINPC/tiny_llama_service_enhanced.py');
    expect(tiny.compiles).toBe(false);
    expect(tiny.problems.find((p) => p.code === 'script-syntax-error')).toMatchObject({
      line: 73,
      message: 'unexpected indent',
    });
    for (const s of [
      'main_pc_code/agents/service_registry_agent.py',
      'main_pc_code/agents/nlu_agent.py',
      'services/central_error_bus/error_bus.py',
      'pc2_code/agents/task_scheduler.py',
    ])
      expect([s, readScript(t, s).compiles]).toEqual([s, true]);
  });

  it('tells the scripts whose health socket is at port + 1 from those that pass a health port', () => {
    const kind = (s: string) => readScript(t, s).health?.kind;
    expect(
      [
        'main_pc_code/agents/responder.py',
        'main_pc_code/agents/streaming_tts_agent.py',
        'main_pc_code/agents/emotion_engine.py',
        'pc2_code/agents/task_scheduler.py',
        'main_pc_code/agents/nlu_agent.py',
      ].map(kind),
    ).toEqual(['port+1', 'port+1', 'port+1', 'port+1', 'port+1']);
    expect(
      [
        'main_pc_code/agents/service_registry_agent.py',
        'main_pc_code/agents/emotion_synthesis_agent.py',
        'pc2_code/agents/advanced_router.py',
      ].map(kind),
    ).toEqual(['passed', 'passed', 'passed']);
    expect(kind('main_pc_code/agents/learning_manager.py')).toBe('config');
    expect(readScript(t, 'pc2_code/agents/task_scheduler.py').health).toEqual({
      kind: 'port+1',
      port: { kind: 'int', value: 7115 },
      line: 50,
    });
  });

  it('resolves EnhancedBaseAgent for NLUAgent, through its BaseClass alias', () => {
    const nlu = readScript(t, 'main_pc_code/agents/nlu_agent.py');
    expect([nlu.framework, nlu.classChain]).toEqual([
      'EnhancedBaseAgent',
      ['NLUAgent', 'EnhancedBaseAgent', 'BaseAgent'],
    ]);
    expect(nlu.closure).toContain('common/core/enhanced_base_agent.py');
  });

  it("finds the error bus's PUB port and the relay's connection to the other machine", () => {
    const bus = readScript(t, 'services/central_error_bus/error_bus.py');
    expect([bus.framework, bus.binds.map((b) => [b.text, b.port, b.line])]).toEqual([
      'none',
      [['tcp://*:7150', 7150, 19]],
    ]);
    const relay = readScript(t, 'services/speech_relay/relay.py');
    expect(relay.connects.map((c) => [c.host, c.port, c.line])).toEqual([['mainpc', 5562, 36]]);
  });

  it('lists the variables service_registry_agent.py reads, with its defaults', () => {
    const reads = readScript(t, 'main_pc_code/agents/service_registry_agent.py').envReads.filter(
      (e) => e.file === 'main_pc_code/agents/service_registry_agent.py',
    );
    expect(reads.map((e) => [e.name, e.default && 'value' in e.default ? e.default.value : undefined, e.line])).toEqual(
      [
        ['SERVICE_REGISTRY_PORT', 7200, 66],
        ['SERVICE_REGISTRY_HEALTH_PORT', 8200, 67],
        ['SERVICE_REGISTRY_BACKEND', 'redis', 69],
        ['SERVICE_REGISTRY_REDIS_URL', 'redis://localhost:6379/0', 70],
        ['SERVICE_REGISTRY_PREFIX', 'service_registry:', 71],
        ['REDIS_HOST', 'localhost', 334],
        ['REDIS_PORT', '6379', 335],
      ],
    );
  });

  it('reports a missing local module when a file of the slice is removed', () => {
    const copy = mkdtempSync(join(tmpdir(), 'slice-'));
    cpSync(root, copy, { recursive: true });
    rmSync(join(copy, 'common', 'core', 'base_agent.py'));
    const f = readScript(new SourceTree(copy), 'main_pc_code/agents/service_registry_agent.py');
    expect(
      f.problems
        .filter((p) => p.code === 'missing-module' && p.message.includes('common.core.base_agent'))
        .map((p) => p.file),
    ).toContain('main_pc_code/agents/service_registry_agent.py');
    expect(f.framework).toBe('none');
  });
});

describe('the facts cache', () => {
  it('gives the same facts from the cache as from the parser, and ignores a broken cache file', async () => {
    const { FactsCache } = await import('../../lib/source/cache.ts');
    const dir = mkdtempSync(join(tmpdir(), 'facts-cache-'));
    const { tree: fresh } = tree({
      'common/__init__.py': '',
      'common/core/__init__.py': '',
      'common/core/base_agent.py': BASE_AGENT,
      'a.py':
        'import os\nfrom common.core.base_agent import BaseAgent\nclass A(BaseAgent):\n    def __init__(self):\n        super().__init__(port=7000)\n        os.getenv("X", "1")\nA()\n',
    });
    const first = new FactsCache(dir);
    const expected = readScript(new SourceTree(fresh.root, first), 'a.py');
    first.save();
    // A second run reads every file's facts from the cache file.
    const second = new FactsCache(dir);
    const again = readScript(new SourceTree(fresh.root, second), 'a.py');
    expect(again).toEqual(expected);
    expect(again.health).toEqual({ kind: 'port+1', port: { kind: 'int', value: 7000 }, line: 5 });
    writeFileSync(join(dir, 'python-facts-v2.json'), '{ not json');
    expect(readScript(new SourceTree(fresh.root, new FactsCache(dir)), 'a.py')).toEqual(expected);
  });
});
