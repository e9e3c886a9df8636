/**
 * Inputs that would hang, grow without end or lie: each is refused with a diagnostic, its code and
 * exit 2, never a stack trace, and a synth that refuses leaves its output folder as it was.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { firstInvalidUtf8 } from '../../lib/config/read-input.ts';
import { cli, ROOT } from '../helpers.ts';

const STACK = /\n\s+at .+:\d+:\d+\)?\n/;

/** A hash of every file below `dir`, to show a rejected run changed nothing. */
function treeHash(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else h.update(`${p}\0`).update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

/** The example in a temporary folder, with a synthesized dist/ to compare against after a rejected run. */
function exampleWithOutput(): { dir: string; spec: string; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'hostile-'));
  cpSync(join(ROOT, 'examples', 'two-pc'), dir, { recursive: true });
  const spec = join(dir, 'agent-infra.yaml');
  const out = join(dir, 'dist');
  expect(cli(['synth', '--spec', spec, '--out', out, '--only', 'compose'], dir).code).toBe(0);
  return { dir, spec, out };
}

describe('inputs that would hang or grow without end', () => {
  const cases: [string, (dir: string) => string, RegExp][] = [
    ['a FIFO with no writer', (dir) => (execFileSync('mkfifo', [join(dir, 'fifo.yaml')]), join(dir, 'fifo.yaml')), /fifo\.yaml: is not a regular file \(a FIFO, socket or device\); fix machines\.pc2\.config or pass --machine pc2=FILE \[unreadable-file\]/],
    ['/dev/zero', () => '/dev/zero', /zero: is not a regular file \(a FIFO, socket or device\); fix machines\.pc2\.config or pass --machine pc2=FILE \[unreadable-file\]/],
    ['a 9 MiB file', (dir) => (writeFileSync(join(dir, 'big.yaml'), `# ${'x'.repeat(9 * 2 ** 20)}\n`), join(dir, 'big.yaml')), /big\.yaml: is 9\.0 MiB, more than the 8 MiB an input may be; fix machines\.pc2\.config or pass --machine pc2=FILE \[unreadable-file\]/],
    ['a symbolic link loop', (dir) => (symlinkSync(join(dir, 'loop-b.yaml'), join(dir, 'loop-a.yaml')), symlinkSync(join(dir, 'loop-a.yaml'), join(dir, 'loop-b.yaml')), join(dir, 'loop-a.yaml')), /loop-a\.yaml: is a symbolic link loop; fix machines\.pc2\.config or pass --machine pc2=FILE \[unreadable-file\]/],
    ['a file that is not UTF-8', (dir) => (writeFileSync(join(dir, 'latin1.yaml'), Buffer.from('pc2_services:\n- name: Caf\xe9\n  port: 7100\n', 'latin1')), join(dir, 'latin1.yaml')), /latin1\.yaml:2: byte 0xe9 is not valid UTF-8; save the file as UTF-8 \[parse-error\]/],
  ];
  it.each(cases)('refuses %s as a startup config with exit 2, and synth writes nothing', (_name, make, message) => {
    const { dir, spec, out } = exampleWithOutput();
    const before = treeHash(out);
    const file = make(dir);
    const t0 = performance.now();
    for (const command of ['check', 'synth']) {
      const r = cli([command, '--spec', spec, '--machine', `pc2=${file}`, ...(command === 'synth' ? ['--out', out] : [])], dir);
      expect([command, r.code]).toEqual([command, 2]);
      expect(r.stderr).toMatch(message);
      expect(r.stderr + r.stdout).not.toMatch(STACK);
    }
    expect(performance.now() - t0).toBeLessThan(30_000);
    expect(treeHash(out)).toBe(before);
  });

  it('refuses a FIFO given as the spec', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hostile-'));
    execFileSync('mkfifo', [join(dir, 'agent-infra.yaml')]);
    const r = cli(['check', '--spec', join(dir, 'agent-infra.yaml')], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('agent-infra.yaml: is not a regular file (a FIFO, socket or device); pass the spec file to --spec [unreadable-file]');
  });

  it('ignores a port lock that is a FIFO, with a warning that says so', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hostile-'));
    cpSync(join(ROOT, 'examples', 'two-pc'), dir, { recursive: true, filter: (s) => !s.endsWith('.lock.yaml') });
    execFileSync('mkfifo', [join(dir, 'agent-infra.lock.yaml')]);
    const r = cli(['check', '--spec', join(dir, 'agent-infra.yaml')], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('warning agent-infra.lock.yaml:1: the port lock cannot be read and is ignored (it is not a regular file (a FIFO, socket or device)); delete it to have it written anew [parse-error]');
  });

  it('leaves the output folder as it was when a config in it is refused', () => {
    const { dir, spec, out } = exampleWithOutput();
    const before = treeHash(out);
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'bomb.yaml'), `a: &a [x, x, x, x, x, x, x, x, x, x]\n${[...'bcdefghi'].map((c, i) => `${c}: &${c} [${Array(10).fill(`*${'abcdefgh'[i]}`).join(', ')}]`).join('\n')}\n`);
    const r = cli(['synth', '--spec', spec, '--machine', `pc2=${join(dir, 'sub', 'bomb.yaml')}`, '--out', out], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('aliases expand the document past 100,000 nodes');
    expect(treeHash(out)).toBe(before);
  });
});

describe('firstInvalidUtf8', () => {
  it.each([
    ['ASCII', [0x61, 0x62], -1],
    ['a two-byte letter', [0xc3, 0xa9], -1],
    ['an emoji', [0xf0, 0x9f, 0x8e, 0x89], -1],
    ['a Latin-1 byte', [0x61, 0xe9, 0x62], 1],
    ['an overlong slash', [0xc0, 0xaf], 0],
    ['a UTF-16 surrogate', [0x61, 0xed, 0xa0, 0x80], 1],
    ['a truncated sequence', [0xe2, 0x82], 0],
    ['a code point past U+10FFFF', [0xf4, 0x90, 0x80, 0x80], 0],
  ])('finds %s', (_name, bytes, expected) => {
    expect(firstInvalidUtf8(Uint8Array.from(bytes))).toBe(expected);
  });
});
