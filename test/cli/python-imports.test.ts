/**
 * Imports as CPython runs them (issue: read the agents' code as Python runs it). Each rule has a
 * script in a small tree of our own; the expected closure and outcome are worked out by hand from
 * Python's rules, and each script is then started with python3 exactly as the images start agents
 * (`python3 <script_path>` from the root, the root on PYTHONPATH): a `fatal` outcome must be a
 * non-zero exit with the error named, any other a clean exit.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { runPipelineAsync } from '../../lib/pipeline.ts';
import { initPython } from '../../lib/source/python.ts';
import { readScript, SourceTree, type ScriptFacts } from '../../lib/source/tree.ts';
import { HAS_PYTHON, HAS_UPSTREAM, ROOT, UPSTREAM } from '../helpers.ts';

beforeAll(() => initPython());

if (!HAS_PYTHON)
  console.warn(
    'python3 (3.10 or later) is not installed: the import rules are checked against the expected values only',
  );

const FILES: Record<string, string> = {
  // The script's own folder has a package core; so has the root.
  'agents/core/__init__.py': '',
  'agents/core/schemas.py': 'WHERE = "agents/core"\n',
  'core/__init__.py': '',
  'core/schemas.py': 'WHERE = "core"\n',
  // A folder without __init__.py in the script's folder, a module of that name at the root.
  'agents/helpers/notes.txt': 'not python\n',
  'helpers.py': 'X = 1\n',
  // A folder without __init__.py named like a standard-library module.
  'agents/logging/README.txt': 'not python\n',
  'broken.py': 'def f(:\n    pass\n',
  'agents/shadow.py': 'import core.schemas\nprint(core.schemas.WHERE)\n',
  'agents/ns_loses.py': 'import helpers\nprint(helpers.__file__)\n',
  'agents/stdlib_wins.py': 'import logging\nprint(logging.getLogger is not None)\n',
  'agents/optional.py': 'try:\n    import core.nothere\nexcept ImportError:\n    core = None\nprint("ok")\n',
  'agents/reraise.py':
    'try:\n    import core.nothere\nexcept ImportError as e:\n    raise RuntimeError("needed") from e\n',
  'agents/exits.py': 'import sys\ntry:\n    import core.nothere\nexcept ImportError:\n    sys.exit(3)\n',
  'agents/two_names.py': 'import json, core.gone\n',
  'agents/relative.py': 'from . import core\n',
  'agents/rel_guarded.py':
    'try:\n    from .core import schemas\nexcept ImportError:\n    schemas = None\nprint("ok")\n',
  'agents/uses_broken.py': 'import broken\n',
  'agents/also_broken.py': 'import helpers\nimport broken\n',
  'agents/broken_caught.py': 'try:\n    import broken\nexcept Exception:\n    broken = None\nprint("ok")\n',
  'agents/broken_import_handler.py': 'try:\n    import broken\nexcept ImportError:\n    broken = None\n',
  'agents/deferred.py': 'def later():\n    import core.gone\n\nprint("ok")\n',
  // A module that is optional for the script, and itself imports a missing module unguarded.
  'agents/chain.py': 'try:\n    import mid\nexcept ImportError:\n    mid = None\nprint("ok")\n',
  'mid.py': 'import core.gone\n',
};

type Expected = {
  closure: string[];
  external?: string[];
  problems: [code: string, at: string, outcome: string][];
  /** What python3 prints on stderr's last line when the outcome is fatal. */
  dies?: RegExp;
};

const CASES: Record<string, Expected> = {
  'agents/shadow.py': {
    closure: ['agents/core/__init__.py', 'agents/core/schemas.py', 'agents/shadow.py'],
    problems: [],
  },
  'agents/ns_loses.py': { closure: ['agents/ns_loses.py', 'helpers.py'], problems: [] },
  'agents/stdlib_wins.py': { closure: ['agents/stdlib_wins.py'], external: ['logging'], problems: [] },
  'agents/optional.py': {
    closure: ['agents/core/__init__.py', 'agents/optional.py'],
    problems: [['missing-module', 'agents/optional.py:2', 'handled']],
  },
  'agents/reraise.py': {
    closure: ['agents/core/__init__.py', 'agents/reraise.py'],
    problems: [['missing-module', 'agents/reraise.py:2', 'fatal']],
    dies: /RuntimeError: needed/,
  },
  'agents/exits.py': {
    closure: ['agents/core/__init__.py', 'agents/exits.py'],
    external: ['sys'],
    problems: [['missing-module', 'agents/exits.py:3', 'fatal']],
    dies: /^$/,
  },
  'agents/two_names.py': {
    closure: ['agents/core/__init__.py', 'agents/two_names.py'],
    external: ['json'],
    problems: [['missing-module', 'agents/two_names.py:1', 'fatal']],
    dies: /ModuleNotFoundError: No module named 'core.gone'/,
  },
  'agents/relative.py': {
    closure: ['agents/relative.py'],
    problems: [['relative-import', 'agents/relative.py:1', 'fatal']],
    dies: /ImportError: attempted relative import with no known parent package/,
  },
  'agents/rel_guarded.py': {
    closure: ['agents/rel_guarded.py'],
    problems: [['relative-import', 'agents/rel_guarded.py:2', 'handled']],
  },
  'agents/uses_broken.py': {
    closure: ['agents/uses_broken.py', 'broken.py'],
    problems: [['script-syntax-error', 'broken.py:1', 'fatal']],
    dies: /SyntaxError/,
  },
  'agents/also_broken.py': {
    closure: ['agents/also_broken.py', 'broken.py', 'helpers.py'],
    problems: [['script-syntax-error', 'broken.py:1', 'fatal']],
    dies: /SyntaxError/,
  },
  'agents/broken_caught.py': {
    closure: ['agents/broken_caught.py', 'broken.py'],
    problems: [['script-syntax-error', 'broken.py:1', 'handled']],
  },
  'agents/broken_import_handler.py': {
    closure: ['agents/broken_import_handler.py', 'broken.py'],
    problems: [['script-syntax-error', 'broken.py:1', 'fatal']],
    dies: /SyntaxError/,
  },
  'agents/deferred.py': {
    closure: ['agents/core/__init__.py', 'agents/deferred.py'],
    problems: [['missing-module', 'agents/deferred.py:2', 'when-called']],
  },
  'agents/chain.py': {
    // sys.path[0] is the script's folder for every module: mid's `core` is agents/core too.
    closure: ['agents/chain.py', 'agents/core/__init__.py', 'mid.py'],
    problems: [['missing-module', 'mid.py:1', 'handled']],
  },
};

let root: string;
let tree: SourceTree;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'imports-'));
  for (const [rel, text] of Object.entries(FILES)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  tree = new SourceTree(root);
});

const failures = (f: ScriptFacts) =>
  f.problems.filter((p) => p.outcome !== undefined).map((p) => [p.code, `${p.file}:${p.line}`, p.outcome]);

describe('imports as CPython runs them', () => {
  it.each(Object.entries(CASES))('%s', (script, want) => {
    const f = readScript(tree, script);
    expect(f.closure).toEqual(want.closure);
    expect(f.external).toEqual(want.external ?? []);
    expect(failures(f)).toEqual(want.problems);
    if (!HAS_PYTHON) return;
    // Started as the images start an agent: from the root, the root on PYTHONPATH.
    const r = spawnSync('python3', [script], {
      cwd: root,
      env: { PATH: process.env['PATH'], PYTHONPATH: root, PYTHONDONTWRITEBYTECODE: '1' },
      encoding: 'utf8',
    });
    const fatal = want.problems.some((p) => p[2] === 'fatal');
    expect({ script, exit: r.status === 0 ? 0 : 'non-zero' }).toEqual({ script, exit: fatal ? 'non-zero' : 0 });
    if (want.dies) expect(r.stderr.trim().split('\n').at(-1) ?? '').toMatch(want.dies);
  });

  it('the package python3 imports for core.schemas is the one in the script folder', () => {
    if (!HAS_PYTHON) return;
    const r = spawnSync('python3', ['agents/shadow.py'], {
      cwd: root,
      env: { PATH: process.env['PATH'], PYTHONPATH: root },
      encoding: 'utf8',
    });
    expect(r.stdout.trim()).toBe('agents/core');
  });

  it('each closure is the one CPython’s path finder gives (test/oracle/closure.py)', () => {
    if (!HAS_PYTHON) return;
    const scripts = Object.keys(CASES);
    const r = spawnSync('python3', [join(ROOT, 'test', 'oracle', 'closure.py')], {
      input: JSON.stringify({ root, scripts }),
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    const oracle = JSON.parse(r.stdout) as Record<string, { closure: string[] }>;
    for (const s of scripts) {
      const f = readScript(tree, s);
      // The oracle follows no import of a file that does not compile, as Python runs none.
      expect([s, f.closure]).toEqual([s, oracle[s]!.closure]);
    }
  });
});

describe('in check: one diagnostic per cause, its severity from what it does', () => {
  it('names every agent a broken module stops, and tells fatal, when-called and handled apart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'imports-system-'));
    writeFileSync(
      join(dir, 'agent-infra.yaml'),
      `name: imports\nnamespace: imports\nsource: ${root}\nmachines:\n  main: {config: main.yaml, addressEnv: MAIN_PC_IP}\n`,
    );
    writeFileSync(
      join(dir, 'main.yaml'),
      [
        'agent_groups:',
        '  core:',
        '    UsesBroken: {script_path: agents/uses_broken.py, port: 7200, health_check_port: 8200}',
        '    AlsoBroken: {script_path: agents/also_broken.py, port: 7300, health_check_port: 8300}',
        '    Optional: {script_path: agents/optional.py, port: 7400, health_check_port: 8400}',
        '    Deferred: {script_path: agents/deferred.py, port: 7500, health_check_port: 8500}',
        '',
      ].join('\n'),
    );
    const r = await runPipelineAsync({ spec: join(dir, 'agent-infra.yaml'), cwd: dir });
    const shown = (d: { file?: string; line?: number; severity: string; code: string; message: string }) =>
      `${d.severity} ${relative(root, join(dir, d.file ?? ''))}:${d.line} ${d.message} [${d.code}]`;
    const of = (code: string) => r.diagnostics.filter((d) => d.code === code).map(shown);
    // Both agents it stops are left out; the two others are deployed.
    expect(
      r.plan.leftOut.map((l) => `${l.name} ${l.reason} ${l.problem.code} ${l.problem.file}:${l.problem.line}`),
    ).toEqual([
      'AlsoBroken cannot-start script-syntax-error broken.py:1',
      'UsesBroken cannot-start script-syntax-error broken.py:1',
    ]);
    expect(r.diagnostics.find((d) => d.code === 'script-syntax-error')!.stops).toEqual([
      'main/AlsoBroken',
      'main/UsesBroken',
    ]);
    expect(of('script-syntax-error')).toEqual([
      "warning broken.py:1 invalid syntax (imported by AlsoBroken's agents/also_broken.py and UsesBroken's agents/uses_broken.py); the agent cannot start until it compiles [script-syntax-error]",
    ]);
    expect(of('missing-module')).toEqual([
      "warning agents/deferred.py:2 imports core.gone, but no module core.gone is under the source root (No module named 'core.gone'); the import is inside a function: it fails when that function is called, not at start; add the module to the source tree or fix the import [missing-module]",
      "info agents/optional.py:2 imports core.nothere, but no module core.nothere is under the source root (No module named 'core.nothere'); a try around the import lets the agent go on without it [missing-module]",
    ]);
  });
});

describe.skipIf(!HAS_UPSTREAM || !HAS_PYTHON)('the real slice (../shared/upstream/src-9ff5bdfb)', () => {
  it('every agent script present: the closure and the broken imports CPython’s path finder gives', () => {
    const slice = join(UPSTREAM, 'src-9ff5bdfb');
    const scripts = [
      ...new Set(
        ['20250814_9ff5bdfb_mainpc.yaml', '20250814_9ff5bdfb_pc2.yaml'].flatMap((f) =>
          [...readFileSync(join(UPSTREAM, f), 'utf8').matchAll(/script_path:\s*["']?([^\s"']+\.py)/g)].map(
            (m) => m[1]!,
          ),
        ),
      ),
    ]
      .filter((s) => existsSync(join(slice, s)))
      .sort();
    expect(scripts.length).toBe(13);
    const r = spawnSync('python3', [join(ROOT, 'test', 'oracle', 'closure.py')], {
      input: JSON.stringify({ root: slice, scripts }),
      encoding: 'utf8',
    });
    const oracle = JSON.parse(r.stdout) as Record<string, { closure: string[]; missing: [string, number, string][] }>;
    const t = new SourceTree(slice);
    for (const s of scripts) {
      const f = readScript(t, s);
      const missing = f.problems
        .filter((p) => p.code === 'missing-module' || p.code === 'relative-import')
        .map((p) => `${p.file}:${p.line}`);
      expect([s, f.closure, missing]).toEqual([
        s,
        oracle[s]!.closure,
        oracle[s]!.missing.map((m) => `${m[0]}:${m[1]}`),
      ]);
    }
  });
});

describe('the failure an agent dies of is the first of its start, as Python runs it', () => {
  // first.py: line 1 imports pkg (whose __init__ imports pkg.inner, which imports a third-party module
  // the image lacks, at its line 2), line 2 a local module that does not exist, line 3 a file that does
  // not compile. Python runs line 1 first, depth first: it dies in pkg/inner.py at line 2. By hand.
  const tree: Record<string, string> = {
    'requirements.txt': 'pyyaml\n',
    'pkg/__init__.py': 'from . import inner\n',
    'pkg/inner.py': 'import os\nimport not_installed_anywhere\n',
    'agents/first.py': 'import pkg\nimport core_gone.mod\nimport bad_syntax\n',
    'bad_syntax.py': 'def f(:\n',
    // second.py reaches the broken file first.
    'agents/second.py': 'import bad_syntax\nimport pkg\n',
  };
  it('names pkg/inner.py:2 for one and bad_syntax.py:1 for the other, as python3 dies', async () => {
    const root = mkdtempSync(join(tmpdir(), 'first-failure-'));
    for (const [rel, text] of Object.entries(tree)) {
      mkdirSync(dirname(join(root, rel)), { recursive: true });
      writeFileSync(join(root, rel), text);
    }
    const dir = mkdtempSync(join(tmpdir(), 'first-failure-spec-'));
    writeFileSync(
      join(dir, 'agent-infra.yaml'),
      `name: first\nnamespace: first\nsource: ${root}\nmachines:\n  main: {config: main.yaml, addressEnv: MAIN_PC_IP}\nimages:\n  cpu: {builderBase: python:3.11-slim-bookworm, runtimeBase: python:3.11-slim-bookworm, requirements: [requirements.txt]}\n`,
    );
    writeFileSync(
      join(dir, 'main.yaml'),
      'agent_groups:\n  core:\n    First: {script_path: agents/first.py, port: 7200, health_check_port: 8200}\n    Second: {script_path: agents/second.py, port: 7300, health_check_port: 8300}\n    Fine: {script_path: requirements.txt, port: 7400, health_check_port: 8400}\n',
    );
    const r = await runPipelineAsync({ spec: join(dir, 'agent-infra.yaml'), cwd: dir });
    const dies = r.plan.leftOut.map((l) => `${l.name} ${l.problem.code} ${l.problem.file}:${l.problem.line}`);
    expect(dies).toEqual(['First missing-requirement pkg/inner.py:2', 'Second script-syntax-error bad_syntax.py:1']);
    if (!HAS_PYTHON) return;
    for (const [name, script] of [
      ['First', 'agents/first.py'],
      ['Second', 'agents/second.py'],
    ] as const) {
      const p = spawnSync('python3', [script], {
        cwd: root,
        env: { ...process.env, PYTHONPATH: root },
        encoding: 'utf8',
      });
      expect(p.status).not.toBe(0);
      const frames = [...p.stderr.matchAll(/File "([^"]+)", line (\d+)/g)].map(
        (m) => `${relative(root, m[1]!)}:${m[2]}`,
      );
      const l = r.plan.leftOut.find((x) => x.name === name)!;
      expect(frames.at(-1), p.stderr).toBe(`${l.problem.file}:${l.problem.line}`);
    }
  });
});
