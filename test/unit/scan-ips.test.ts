import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixPythonSource } from '../../lib/scan-ips.ts';
import { initPython } from '../../lib/source/python.ts';
import { cli } from '../helpers.ts';

beforeAll(() => initPython());

const mapping = { '192.168.100.16': 'MAIN_PC_IP', '192.168.100.17': 'PC2_IP' };

describe('scan-ips', () => {
  it.each([
    ['host = "192.168.100.16"\n', 'import os\nhost = os.environ.get("MAIN_PC_IP", "localhost")\n'],
    ["PC2 = '192.168.100.17'\n", "import os\nPC2 = os.environ.get('PC2_IP', 'localhost')\n"],
    ['url = "tcp://192.168.100.16:5555"\n', 'import os\nurl = f"tcp://{os.environ.get(\'MAIN_PC_IP\', \'localhost\')}:5555"\n'],
    ['import os\nx = "192.168.100.17"\n', 'import os\nx = os.environ.get("PC2_IP", "localhost")\n'],
    ['#!/usr/bin/env python3\nx = "192.168.100.16"\n', '#!/usr/bin/env python3\nimport os\nx = os.environ.get("MAIN_PC_IP", "localhost")\n'],
    ['bind = "0.0.0.0"\nlocal = "127.0.0.1"\n', 'bind = "0.0.0.0"\nlocal = "127.0.0.1"\n'],
  ])('rewrites %j', (input, output) => {
    expect(fixPythonSource(input, mapping).text).toBe(output);
  });

  it('reports an unmapped address and a commented one without changing them', () => {
    const r = fixPythonSource('# was 192.168.100.16\nother = "10.0.0.5"\n', mapping);
    expect(r.text).toBe('# was 192.168.100.16\nother = "10.0.0.5"\n');
    expect(r.findings).toEqual([
      { line: 1, column: 7, address: '192.168.100.16', variable: 'MAIN_PC_IP', fixed: false },
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
    expect(readFileSync(join(dir, 'agents', 'a.py'), 'utf8')).toBe('import os\nimport zmq\nMAIN = os.environ.get("MAIN_PC_IP", "localhost")\n');
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
    ['a missing directory', () => join(tmpdir(), 'agent-infra-no-such-dir'), 'directory not found; pass the root of the Python sources [missing-file]'],
    ['a file', () => {
      const f = join(mkdtempSync(join(tmpdir(), 'scan-')), 'a.py');
      writeFileSync(f, 'X = 1\n');
      return f;
    }, 'not a directory; pass the root of the Python sources [unreadable-file]'],
  ])('fails %s with exit 2 and one line', (_what, target, message) => {
    const r = cli(['scan-ips', target()]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(message);
  });
});

describe('scan-ips --fix on files Python is strict about', () => {
  it.each([
    ['after a from __future__ import', '"""Doc."""\nfrom __future__ import annotations\nx = "192.168.100.16"\n', '"""Doc."""\nfrom __future__ import annotations\nimport os\nx = os.environ.get("MAIN_PC_IP", "localhost")\n'],
    ['after a parenthesized __future__ list', 'from __future__ import (annotations,\n    division)\nx = "192.168.100.17"\n', 'from __future__ import (annotations,\n    division)\nimport os\nx = os.environ.get("PC2_IP", "localhost")\n'],
  ])('puts import os %s, and the file still compiles', (_name, input, output) => {
    const fixed = fixPythonSource(input, mapping).text;
    expect(fixed).toBe(output);
    // Python itself: a __future__ import after any other statement is a SyntaxError.
    const r = spawnSync('python3', ['-c', 'import sys; compile(sys.stdin.read(), "f.py", "exec")'], { input: fixed, encoding: 'utf8' });
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
    expect(r.stdout).toMatch(/a\.py:1:9 192\.168\.100\.16: use MAIN_PC_IP\n1 hard-coded addresses in 1 of 1 Python files\n$/);
  });
});

describe('scan-ips reads the syntax tree', () => {
  const mapping = { '192.168.100.16': 'MAIN_PC_IP' };
  it('finds addresses in docstrings, byte strings and comments without rewriting them, and tells a # in a string from a comment', () => {
    const input = '"""Talks to 192.168.100.16 first."""\nraw = b"192.168.100.16"\nurl = "tcp://192.168.100.16:5555  # not a comment"  # real 192.168.100.16\n';
    const r = fixPythonSource(input, mapping);
    expect(r.findings.map((f) => [f.line, f.column, f.fixed])).toEqual([[1, 13, false], [2, 9, false], [3, 14, true], [3, 60, false]]);
    expect(r.text).toBe('import os\n"""Talks to 192.168.100.16 first."""\nraw = b"192.168.100.16"\nurl = f"tcp://{os.environ.get(\'MAIN_PC_IP\', \'localhost\')}:5555  # not a comment"  # real 192.168.100.16\n');
  });

  it('keeps every other byte: CRLF line ends, tabs, non-ASCII text', () => {
    const input = 'x = "é"\r\n\thost = "192.168.100.16"\r\n';
    expect(fixPythonSource(input, mapping).text).toBe('import os\nx = "é"\r\n\thost = os.environ.get("MAIN_PC_IP", "localhost")\r\n');
  });
});
