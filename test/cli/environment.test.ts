/**
 * The environments a command runs in, as CI runners and containers make them: a working folder that
 * was deleted, an address-space limit (`ulimit -v`). A clear error or the normal result, never an
 * internal error (exit 70) or a stack trace; the inputs unchanged.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resourceLimit } from '../../lib/cli/index.ts';
import { ROOT, STACK, treeHash } from '../helpers.ts';

const BIN = join(ROOT, 'bin', 'agent-infra.mjs');

/** Runs a shell line with the CLI as `$AI`; its exit code and output. */
function sh(line: string, cwd: string) {
  const r = spawnSync('sh', ['-c', line], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', AI: `${process.execPath} ${BIN}` },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The example with the mini monorepo's code, as a system with a source tree. */
function system(): string {
  const dir = mkdtempSync(join(tmpdir(), 'environment-'));
  cpSync(join(ROOT, 'examples', 'two-pc'), dir, { recursive: true });
  cpSync(join(ROOT, 'test', 'fixtures', 'mini-monorepo'), dir, { recursive: true });
  return dir;
}

describe('the environment a command runs in', () => {
  it('a working folder that was deleted: one line, exit 2', () => {
    const dir = system();
    const before = treeHash(dir);
    const r = sh(`mkdir gone && cd gone && rmdir ../gone && $AI check --spec ${join(dir, 'agent-infra.yaml')}`, dir);
    expect([r.code, r.stdout, r.stderr]).toEqual([
      2,
      '',
      'agent-infra: the working folder no longer exists (ENOENT); cd into an existing folder and run the command again [no-working-folder]\n',
    ]);
    expect(treeHash(dir)).toBe(before);
  });

  it('an address-space limit of 8 GB (ulimit -v 8000000): check with the source tree gives what it gives without it', () => {
    const dir = system();
    const before = treeHash(dir);
    const free = sh('$AI check --spec agent-infra.yaml --source . --format json', dir);
    const limited = sh('ulimit -v 8000000 && $AI check --spec agent-infra.yaml --source . --format json', dir);
    expect(limited.stderr).not.toMatch(STACK);
    expect([limited.code, limited.stdout]).toEqual([free.code, free.stdout]);
    expect(treeHash(dir)).toBe(before);
    // synth under the limit (the graph layout's worker too) runs from the installed package: test/package.
  });

  it.each([
    [
      new RangeError('WebAssembly.Memory(): could not allocate memory'),
      /^not enough memory \(WebAssembly\.Memory\(\): could not allocate memory; (the address-space limit \(ulimit -v\) is \d+ KiB|no address-space limit is set)\); raise the limit \(ulimit -v\) or free memory, and run the command again$/,
    ],
    [new RangeError('Array buffer allocation failed'), /^not enough memory \(Array buffer allocation failed; /],
    [new RangeError('Invalid array length'), undefined],
    [new TypeError('could not allocate memory'), undefined],
  ])('tells running out of memory (%s) from a defect', (e, expected) => {
    const said = resourceLimit(e);
    if (expected) expect(said).toMatch(expected);
    else expect(said).toBeUndefined();
  });
});
