/**
 * The output root is replaced as a whole, so it may hold nothing but agent-infra's output: an --out
 * that is or holds an input (the spec, a startup config, the lock, the source tree), a git work tree,
 * the home folder or / is refused, and a folder, link or file agent-infra did not create is never
 * moved, removed or replaced. Each case: the code, the whole message, and the hash of the folder
 * holding the inputs and the old output, the same before and after.
 */
import { describe, expect, it } from 'vitest';
import { cpSync, lstatSync, mkdirSync, mkdtempSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synthesize, writeReports } from '../../lib/synth.ts';
import { formatDiagnostic } from '../../lib/diagnostics.ts';
import { cli, ROOT, STACK, treeHash } from '../helpers.ts';

/** The example in a fresh folder that is a git work tree, as a user's repository is. */
function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'out-safety-'));
  cpSync(join(ROOT, 'examples', 'two-pc'), join(dir, 'repo'), { recursive: true });
  mkdirSync(join(dir, 'repo', '.git'));
  writeFileSync(join(dir, 'repo', '.git', 'HEAD'), 'ref: refs/heads/main\n');
  return join(dir, 'repo');
}

/** Synthesizes the compose files into `out`; its errors, as `check` prints them. */
async function refusal(repo: string, out: string): Promise<{ code: number; errors: string[] }> {
  const r = await synthesize({ spec: join(repo, 'agent-infra.yaml'), cwd: repo, out, only: ['compose'] });
  return { code: r.code, errors: r.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic) };
}

/** `agent-infra report` with a source tree (written even when the code has errors): its output error. */
async function reportRefusal(repo: string, out: string, source: string): Promise<string[]> {
  const r = await writeReports({ spec: join(repo, 'agent-infra.yaml'), cwd: repo, out, source });
  return r.diagnostics.filter((d) => d.code === 'unsafe-output').map(formatDiagnostic);
}

const unsafe = (shown: string, what: string) =>
  `cannot write ${shown} (the output folder ${what}, and it is replaced as a whole); nothing was changed there: pass an --out of its own, such as dist beside the spec [unsafe-output]`;

describe('an output folder that is or holds an input', () => {
  it.each([
    ['.', 'holds the spec (agent-infra.yaml)'],
    ['..', 'holds the spec (repo/agent-infra.yaml)'],
    ['main_pc_code', 'holds the startup config of mainpc (config/startup_config.yaml)'],
    ['main_pc_code/config/startup_config.yaml', 'is the startup config of mainpc'],
    ['agent-infra.lock.yaml', 'is the port lock'],
  ])('refuses --out %s: unsafe-output, nothing changed', async (out, what) => {
    const repo = project();
    const parent = join(repo, '..');
    const before = treeHash(parent);
    const r = await refusal(repo, out);
    expect(r.code).toBe(2);
    expect(r.errors).toEqual([unsafe(out, what)]);
    expect(treeHash(parent)).toBe(before);
  });

  it('refuses --out / (it holds the spec)', async () => {
    const repo = project();
    const before = treeHash(repo);
    const r = await refusal(repo, '/');
    expect(r.errors).toEqual([unsafe('/', `holds the spec (${join(repo, 'agent-infra.yaml').slice(1)})`)]);
    expect(treeHash(repo)).toBe(before);
  });

  it('refuses the source tree, a git work tree of its own and the home folder', async () => {
    const repo = project();
    const parent = join(repo, '..');
    for (const d of ['code', 'other/.git', 'home']) mkdirSync(join(parent, d), { recursive: true });
    const before = treeHash(parent);
    expect(await reportRefusal(repo, '../code', join(parent, 'code'))).toEqual([
      unsafe('../code', 'is the source tree'),
    ]);
    expect((await refusal(repo, '../other')).errors).toEqual([unsafe('../other', 'is a git work tree')]);
    const home = process.env['HOME'];
    process.env['HOME'] = join(parent, 'home');
    try {
      expect((await refusal(repo, '../home')).errors).toEqual([unsafe('../home', 'is the home folder')]);
    } finally {
      process.env['HOME'] = home;
    }
    expect(treeHash(parent)).toBe(before);
  });

  it('writes dist beside the spec as before, inside the git work tree and the source tree', async () => {
    const repo = project();
    expect((await synthesize({ spec: join(repo, 'agent-infra.yaml'), cwd: repo, only: ['compose'] })).code).toBe(0);
    expect(lstatSync(join(repo, 'dist')).isSymbolicLink()).toBe(true);
    expect(await reportRefusal(repo, 'dist', repo)).toEqual([]);
    expect(lstatSync(join(repo, 'dist', 'reports')).isDirectory()).toBe(true);
  });

  it('exits 2 from the command line with the one line and no stack trace', () => {
    const repo = project();
    const before = treeHash(join(repo, '..'));
    const r = cli(['synth', '--spec', 'agent-infra.yaml', '--out', '.'], repo);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error ${unsafe('.', 'holds the spec (agent-infra.yaml)')}`);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stdout).toBe('');
    expect(treeHash(join(repo, '..'))).toBe(before);
  });
});

describe('what agent-infra did not create', () => {
  const notOurs = (shown: string, why: string, fix: string) =>
    `cannot write ${shown} (${why}); nothing was changed there: ${fix}; agent-infra never moves or replaces what it did not create [output-not-ours]`;

  it('refuses a folder of the user’s with files in it, and takes an empty one', async () => {
    const repo = project();
    mkdirSync(join(repo, 'mine', 'k8s'), { recursive: true });
    writeFileSync(join(repo, 'mine', 'k8s', 'notes.md'), 'mine\n');
    const before = treeHash(repo);
    expect((await refusal(repo, 'mine')).errors).toEqual([
      notOurs(
        'mine',
        'it is a folder agent-infra did not write (it is not a link to a version of its output)',
        'move that folder away or pass another --out',
      ),
    ]);
    expect(treeHash(repo)).toBe(before);
    mkdirSync(join(repo, 'empty'));
    expect((await refusal(repo, 'empty')).code).toBe(0);
    expect(lstatSync(join(repo, 'empty')).isSymbolicLink()).toBe(true);
  });

  it('refuses a link the user made, and leaves it and what it points to as they were', async () => {
    const repo = project();
    const elsewhere = mkdtempSync(join(tmpdir(), 'out-safety-elsewhere-'));
    writeFileSync(join(elsewhere, 'precious'), 'x\n');
    symlinkSync(elsewhere, join(repo, 'out'));
    const before = [treeHash(repo), treeHash(elsewhere)];
    expect((await refusal(repo, 'out')).errors).toEqual([
      notOurs(
        'out',
        `it is a link to ${elsewhere}, which agent-infra did not make`,
        'remove that link or pass another --out',
      ).replace('never moves or replaces', 'never replaces'),
    ]);
    expect([treeHash(repo), treeHash(elsewhere)]).toEqual(before);
    expect(readlinkSync(join(repo, 'out'))).toBe(elsewhere);
  });

  it('refuses to overwrite a file the user put where this run writes one', async () => {
    const repo = project();
    expect((await refusal(repo, 'dist')).code).toBe(0);
    // The compose output is agent-infra's; a k8s/kustomization.yaml the user wrote there is not.
    mkdirSync(join(repo, 'dist', 'k8s'));
    writeFileSync(join(repo, 'dist', 'k8s', 'kustomization.yaml'), 'mine\n');
    const before = treeHash(repo);
    const r = await synthesize({ spec: join(repo, 'agent-infra.yaml'), cwd: repo, out: 'dist', only: ['k8s'] });
    expect(r.code).toBe(2);
    expect(r.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic)).toEqual([
      notOurs(
        'dist',
        'k8s/kustomization.yaml there was not written by agent-infra, and this run writes a file of that name',
        'move k8s/kustomization.yaml out of the output folder',
      ).replace('never moves or replaces', 'never replaces'),
    ]);
    expect(treeHash(repo)).toBe(before);
  });
});
