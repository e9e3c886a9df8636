import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixPythonSource, scanIps } from '../../lib/scan-ips.ts';
import { initPython } from '../../lib/source/python.ts';
import { cli, ROOT, treeHash } from '../helpers.ts';

beforeAll(() => initPython());

const mapping = { '192.168.100.16': 'MAIN_PC_IP', '192.168.100.17': 'PC2_IP' };

describe('scan-ips', () => {
  it.each([
    ['host = "192.168.100.16"\n', 'import os\nhost = os.environ.get("MAIN_PC_IP", "localhost")\n'],
    ["PC2 = '192.168.100.17'\n", "import os\nPC2 = os.environ.get('PC2_IP', 'localhost')\n"],
    [
      'url = "tcp://192.168.100.16:5555"\n',
      "import os\nurl = f\"tcp://{os.environ.get('MAIN_PC_IP', 'localhost')}:5555\"\n",
    ],
    ['import os\nx = "192.168.100.17"\n', 'import os\nx = os.environ.get("PC2_IP", "localhost")\n'],
    [
      '#!/usr/bin/env python3\nx = "192.168.100.16"\n',
      '#!/usr/bin/env python3\nimport os\nx = os.environ.get("MAIN_PC_IP", "localhost")\n',
    ],
    ['bind = "0.0.0.0"\nlocal = "127.0.0.1"\n', 'bind = "0.0.0.0"\nlocal = "127.0.0.1"\n'],
  ])('rewrites %j', (input, output) => {
    expect(fixPythonSource(input, mapping).text).toBe(output);
  });

  it('reports an unmapped address and a commented one without changing them', () => {
    const r = fixPythonSource('# was 192.168.100.16\nother = "10.0.0.5"\n', mapping);
    expect(r.text).toBe('# was 192.168.100.16\nother = "10.0.0.5"\n');
    expect(r.findings).toEqual([
      {
        line: 1,
        column: 7,
        address: '192.168.100.16',
        variable: 'MAIN_PC_IP',
        fixed: false,
        reason: 'it is in a comment',
      },
      { line: 2, column: 10, address: '10.0.0.5', fixed: false },
    ]);
  });

  it('scans a tree with file:line, and --fix rewrites it so that a rescan is clean', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scan-'));
    mkdirSync(join(dir, 'agents'));
    writeFileSync(join(dir, 'agents', 'a.py'), 'import zmq\nMAIN = "192.168.100.16"\n');
    writeFileSync(join(dir, 'agents', 'b.py'), 'PC2 = "192.168.100.17"\n');
    writeFileSync(join(dir, 'notes.txt'), '192.168.100.16\n');
    const before = cli(['scan-ips', dir]);
    expect(before.code).toBe(1);
    expect(before.stdout).toMatch(/agents\/a\.py:2:9 192\.168\.100\.16: use MAIN_PC_IP/);
    expect(before.stdout).toMatch(/2 hard-coded addresses in 2 of 2 Python files$/m);
    expect(cli(['scan-ips', dir, '--fix']).code).toBe(0);
    expect(readFileSync(join(dir, 'agents', 'a.py'), 'utf8')).toBe(
      'import os\nimport zmq\nMAIN = os.environ.get("MAIN_PC_IP", "localhost")\n',
    );
    const after = cli(['scan-ips', dir]);
    expect(after.code).toBe(0);
    expect(after.stdout).toMatch(/^0 hard-coded addresses/m);
  });

  it('takes a custom mapping', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scan-'));
    writeFileSync(join(dir, 'c.py'), 'X = "10.1.2.3"\n');
    expect(cli(['scan-ips', dir, '--map', '10.1.2.3=GPU_NODE_IP', '--fix']).code).toBe(0);
    expect(readFileSync(join(dir, 'c.py'), 'utf8')).toBe('import os\nX = os.environ.get("GPU_NODE_IP", "localhost")\n');
  });

  it.each([
    [
      'a missing directory',
      () => join(tmpdir(), 'agent-infra-no-such-dir'),
      'directory not found; pass the root of the Python sources [missing-file]',
    ],
    [
      'a file',
      () => {
        const f = join(mkdtempSync(join(tmpdir(), 'scan-')), 'a.py');
        writeFileSync(f, 'X = 1\n');
        return f;
      },
      'not a directory; pass the root of the Python sources [unreadable-file]',
    ],
  ])('fails %s with exit 2 and one line', (_what, target, message) => {
    const r = cli(['scan-ips', target()]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(message);
  });
});

describe('scan-ips --fix on files Python is strict about', () => {
  it.each([
    [
      'after a from __future__ import',
      '"""Doc."""\nfrom __future__ import annotations\nx = "192.168.100.16"\n',
      '"""Doc."""\nfrom __future__ import annotations\nimport os\nx = os.environ.get("MAIN_PC_IP", "localhost")\n',
    ],
    [
      'after a parenthesized __future__ list',
      'from __future__ import (annotations,\n    division)\nx = "192.168.100.17"\n',
      'from __future__ import (annotations,\n    division)\nimport os\nx = os.environ.get("PC2_IP", "localhost")\n',
    ],
  ])('puts import os %s, and the file still compiles', (_name, input, output) => {
    const fixed = fixPythonSource(input, mapping).text;
    expect(fixed).toBe(output);
    // Python itself: a __future__ import after any other statement is a SyntaxError.
    const r = spawnSync('python3', ['-c', 'import sys; compile(sys.stdin.read(), "f.py", "exec")'], {
      input: fixed,
      encoding: 'utf8',
    });
    expect([r.status, r.stderr]).toEqual([0, '']);
  });

  it('does not follow links: a loop and a dangling link are skipped, not an internal error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scan-links-'));
    writeFileSync(join(dir, 'a.py'), 'host = "192.168.100.16"\n');
    symlinkSync(join(dir, 'loop'), join(dir, 'loop'));
    symlinkSync(join(dir, 'missing.py'), join(dir, 'dangling.py'));
    symlinkSync(dir, join(dir, 'self'));
    const r = cli(['scan-ips', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /a\.py:1:9 192\.168\.100\.16: use MAIN_PC_IP\n1 hard-coded addresses in 1 of 1 Python files\n$/,
    );
  });
});

describe('scan-ips reads the syntax tree', () => {
  const mapping = { '192.168.100.16': 'MAIN_PC_IP' };
  it('finds addresses in docstrings, byte strings and comments without rewriting them, and tells a # in a string from a comment', () => {
    const input =
      '"""Talks to 192.168.100.16 first."""\nraw = b"192.168.100.16"\nurl = "tcp://192.168.100.16:5555  # not a comment"  # real 192.168.100.16\n';
    const r = fixPythonSource(input, mapping);
    expect(r.findings.map((f) => [f.line, f.column, f.fixed])).toEqual([
      [1, 13, false],
      [2, 9, false],
      [3, 14, true],
      [3, 60, false],
    ]);
    expect(r.text).toBe(
      '"""Talks to 192.168.100.16 first."""\nimport os\nraw = b"192.168.100.16"\nurl = f"tcp://{os.environ.get(\'MAIN_PC_IP\', \'localhost\')}:5555  # not a comment"  # real 192.168.100.16\n',
    );
  });

  it('keeps every other byte: CRLF line ends, tabs, non-ASCII text', () => {
    const input = 'x = "é"\r\n\thost = "192.168.100.16"\r\n';
    expect(fixPythonSource(input, mapping).text).toBe(
      'import os\r\nx = "é"\r\n\thost = os.environ.get("MAIN_PC_IP", "localhost")\r\n',
    );
  });
});

describe('scan-ips --fix writes only Python that compiles, in the file’s own bytes', () => {
  const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
  const hasPython = python.status === 0;
  const version = hasPython ? python.stdout.trim().replace('Python ', '') : '';
  if (!hasPython) console.warn('skipping the python3 checks of scan-ips --fix: python3 is not installed');
  const get = (v: string, q = '"') => `os.environ.get(${q}${v}${q}, ${q}localhost${q})`;

  /** The files of the tree, as bytes (latin-1 strings here), before and after, worked out by hand. */
  const cases: Record<string, { before: string; after?: string; mode?: number; reason?: string }> = {
    'concat.py': {
      before: 'URL = ("tcp://" "192.168.100.16" ":5555")\n',
      after: `import os\nURL = ("tcp://" f"{${get('MAIN_PC_IP', "'")}}" ":5555")\n`,
    },
    'concat_part.py': {
      before: 'URL = ("tcp://192.168.100.17:" "5555")\n',
      after: `import os\nURL = (f"tcp://{${get('PC2_IP', "'")}}:" "5555")\n`,
    },
    'latin.py': {
      before: '# -*- coding: latin-1 -*-\nNAME = "Jos\xe9"\nHOST = "192.168.100.17"\n',
      after: `# -*- coding: latin-1 -*-\nimport os\nNAME = "Jos\xe9"\nHOST = ${get('PC2_IP')}\n`,
    },
    'crlf.py': {
      before: 'A = 1\r\nHOST = "192.168.100.16"\r\n',
      after: `import os\r\nA = 1\r\nHOST = ${get('MAIN_PC_IP')}\r\n`,
    },
    'bom.py': {
      before: '\xef\xbb\xbf"""Doc."""\nHOST = "192.168.100.16"\n',
      after: `\xef\xbb\xbf"""Doc."""\nimport os\nHOST = ${get('MAIN_PC_IP')}\n`,
    },
    'tool.py': {
      before: '#!/usr/bin/env python3\nHOST = "192.168.100.16"\n',
      after: `#!/usr/bin/env python3\nimport os\nHOST = ${get('MAIN_PC_IP')}\n`,
      mode: 0o755,
    },
    'pattern.py': {
      before: 'def f(x):\n    match x:\n        case "192.168.100.16":\n            return 1\n',
      reason: 'it is a case pattern, where only a literal may stand',
    },
    'sjis.py': {
      before: '# coding: shift_jis\nHOST = "192.168.100.16"\n',
      reason: 'the file cannot be rewritten: it declares shift_jis, an encoding in which agent-infra does not edit',
    },
    'broken.py': {
      before: 'HOST = "192.168.100.16"\nreturn HOST\n',
      reason: `python3 ${version} cannot compile the file (line 2: 'return' outside function); fix that first`,
    },
    'unclosed.py': {
      before: 'HOST = ("192.168.100.16"\n',
      reason: "the file does not compile (line 1: '(' was never closed); fix that first",
    },
  };

  function tree(): string {
    const dir = mkdtempSync(join(tmpdir(), 'scan-fix-'));
    for (const [name, c] of Object.entries(cases)) {
      writeFileSync(join(dir, name), Buffer.from(c.before, 'latin1'));
      chmodSync(join(dir, name), c.mode ?? 0o644);
    }
    return dir;
  }

  it.skipIf(!hasPython)('rewrites what stays valid, leaves the rest byte for byte, and says why', async () => {
    const dir = tree();
    const r = await scanIps(dir, mapping, 'fix');
    for (const [name, c] of Object.entries(cases)) {
      expect(readFileSync(join(dir, name)).toString('latin1'), name).toBe(c.after ?? c.before);
      expect(statSync(join(dir, name)).mode & 0o777, name).toBe(c.mode ?? 0o644);
      const mine = r.findings.filter((f) => f.file.endsWith(`/${name}`));
      expect(
        mine.map((f) => [f.fixed, f.reason]),
        name,
      ).toEqual([[c.after !== undefined, c.reason]]);
    }
    // Every file written compiles with CPython, in its declared encoding.
    for (const [name, c] of Object.entries(cases)) {
      if (!c.after) continue;
      const p = spawnSync(
        'python3',
        ['-c', 'import sys; compile(open(sys.argv[1], "rb").read(), sys.argv[1], "exec")', join(dir, name)],
        { encoding: 'utf8' },
      );
      expect([name, p.status, p.stderr]).toEqual([name, 0, '']);
    }
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it.skipIf(!hasPython)('--dry-run prints the diff in each file’s bytes and writes nothing', () => {
    const dir = tree();
    const before = treeHash(dir);
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'agent-infra.mjs'), 'scan-ips', '.', '--dry-run'], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(r.status).toBe(1);
    expect(treeHash(dir)).toBe(before);
    const out = r.stdout.toString('latin1');
    expect(out).toContain(
      [
        '--- a/latin.py',
        '+++ b/latin.py',
        '@@ -1,3 +1,4 @@',
        ' # -*- coding: latin-1 -*-',
        '+import os',
        ' NAME = "Jos\xe9"',
        '-HOST = "192.168.100.17"',
        `+HOST = ${get('PC2_IP')}`,
        '',
      ].join('\n'),
    );
    expect(out).toContain(
      [
        '--- a/crlf.py',
        '+++ b/crlf.py',
        '@@ -1,2 +1,3 @@',
        '+import os\r',
        ' A = 1\r',
        '-HOST = "192.168.100.16"\r',
        `+HOST = ${get('MAIN_PC_IP')}\r`,
        '',
      ].join('\n'),
    );
    expect(out).toContain(
      `pattern.py:3:15 192.168.100.16: use MAIN_PC_IP; not rewritten: it is a case pattern, where only a literal may stand\n`,
    );
    expect(out).not.toContain('a/pattern.py');
    // The diff applies with patch(1) and gives exactly what --fix writes.
    const copy = mkdtempSync(join(tmpdir(), 'scan-fix-patched-'));
    cpSync(dir, copy, { recursive: true });
    const diff = Buffer.from(
      out.slice(out.indexOf('--- a/'), out.lastIndexOf('\n', out.lastIndexOf('hard-coded')) + 1),
      'latin1',
    );
    const patched = spawnSync('patch', ['-p1', '-s', '--no-backup-if-mismatch'], {
      cwd: copy,
      input: diff,
      encoding: 'utf8',
    });
    if (patched.error) return console.warn('patch(1) is not installed: the diff was not applied');
    expect([patched.status, patched.stderr]).toEqual([0, '']);
    for (const [name, c] of Object.entries(cases))
      expect(readFileSync(join(copy, name)).toString('latin1'), name).toBe(c.after ?? c.before);
  });

  it('--fix and --dry-run together are a usage error', () => {
    const r = cli(['scan-ips', tmpdir(), '--fix', '--dry-run']);
    expect([r.code, r.stderr]).toEqual([
      2,
      'agent-infra: --fix and --dry-run exclude each other: --dry-run prints what --fix would write [usage]\n',
    ]);
  });
});
