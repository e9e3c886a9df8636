/**
 * The output tree is replaced in one step: a run killed at any point leaves the complete old tree or
 * the complete new one; files the user put in it survive; an output that cannot be written is a
 * diagnostic and exit 2 with the tree unchanged.
 */
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OUTPUT_MANIFEST, writeOutput } from '../../lib/write.ts';
import { cli, EXAMPLE_SPEC, ROOT, STACK, treeHash } from '../helpers.ts';

const REPLACED = ['k8s', 'compose', 'docker', 'reports'];

/** Every file of the small golden system's output (written by hand-checked runs, not by this code). */
function goldenTree(): Record<string, string> {
  const root = join(ROOT, 'test', 'golden', 'small');
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else out[r] = readFileSync(join(root, r), 'utf8');
    }
  };
  walk('');
  return out;
}

/** A second tree: every file changed, one dropped, one added. */
function nextTree(a: Record<string, string>): Record<string, string> {
  const keys = Object.keys(a).sort();
  const b: Record<string, string> = {};
  for (const k of keys.slice(1)) b[k] = `${a[k]}# next\n`;
  b['compose/added.txt'] = 'added\n';
  return b;
}

/** The hash `treeHash` gives a folder holding `files`, computed from a copy written plainly. */
function expectedHash(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'swap-expected-'));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return treeHash(dir);
}

const manifestOf = (files: Record<string, string>) => `${Object.keys(files).sort().join('\n')}\n`;

describe('writeOutput', () => {
  it('swaps a link to a complete version, and keeps the files the user added', () => {
    const dir = mkdtempSync(join(tmpdir(), 'swap-'));
    const out = join(dir, 'dist');
    const a = goldenTree();
    writeOutput(out, new Map(Object.entries(a)), REPLACED);
    expect(lstatSync(out).isSymbolicLink()).toBe(true);
    expect(readlinkSync(out)).toMatch(/^\.dist\.versions\/\d+-\w+$/);
    expect(treeHash(out)).toBe(expectedHash({ ...a, [OUTPUT_MANIFEST]: manifestOf(a) }));
    // A .env beside the compose files and a file of the user's own folder are carried over; a file
    // agent-infra wrote before and writes no more is gone.
    writeFileSync(join(out, 'compose', '.env'), 'MAIN_PC_IP=127.0.0.1\n');
    mkdirSync(join(out, 'mine'));
    writeFileSync(join(out, 'mine', 'notes.md'), 'notes\n');
    const b = nextTree(a);
    writeOutput(out, new Map(Object.entries(b)), REPLACED);
    const user = { 'compose/.env': 'MAIN_PC_IP=127.0.0.1\n', 'mine/notes.md': 'notes\n' };
    expect(treeHash(out)).toBe(expectedHash({ ...b, ...user, [OUTPUT_MANIFEST]: manifestOf(b) }));
    // Only the version linked now is left.
    expect(readdirSync(join(dir, '.dist.versions'))).toEqual([readlinkSync(out).split('/')[1]]);
    expect(readdirSync(dir).sort()).toEqual(['.dist.versions', 'dist']);
  });

  it('replaces only the folders it is given, and lists in its manifest what it wrote', () => {
    const dir = mkdtempSync(join(tmpdir(), 'swap-'));
    const out = join(dir, 'dist');
    const a = goldenTree();
    writeOutput(out, new Map(Object.entries(a)), REPLACED);
    const k8s = Object.fromEntries(Object.entries(nextTree(a)).filter(([k]) => k.startsWith('k8s/')));
    writeOutput(out, new Map(Object.entries(k8s)), ['k8s']);
    const expected = { ...Object.fromEntries(Object.entries(a).filter(([k]) => !k.startsWith('k8s/'))), ...k8s };
    expect(treeHash(out)).toBe(expectedHash({ ...expected, [OUTPUT_MANIFEST]: manifestOf(expected) }));
  });

  it('never moves a plain folder with files in it (agent-infra did not make it), and takes an empty one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'swap-'));
    const out = join(dir, 'dist');
    mkdirSync(join(out, 'compose'), { recursive: true });
    writeFileSync(join(out, 'compose', '.env'), 'PC2_IP=127.0.0.2\n');
    const before = treeHash(dir);
    const a = goldenTree();
    expect(() => writeOutput(out, new Map(Object.entries(a)), REPLACED)).toThrow(
      'it is a folder agent-infra did not write (it is not a link to a version of its output)',
    );
    expect(treeHash(dir)).toBe(before);
    expect(readdirSync(dir)).toEqual(['dist']);
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    writeOutput(empty, new Map(Object.entries(a)), REPLACED);
    expect(lstatSync(empty).isSymbolicLink()).toBe(true);
    expect(treeHash(empty)).toBe(expectedHash({ ...a, [OUTPUT_MANIFEST]: manifestOf(a) }));
  });

  it('removes what dead runs left behind, and leaves a live run’s work alone', () => {
    const dir = mkdtempSync(join(tmpdir(), 'swap-'));
    const out = join(dir, 'dist');
    const versions = join(dir, '.dist.versions');
    // Process 1 (init) is alive and never an agent-infra run; a pid past pid_max never is alive.
    mkdirSync(join(versions, '4194305-dead00'), { recursive: true });
    mkdirSync(join(versions, `${process.ppid}-live00`), { recursive: true });
    symlinkSync('.dist.versions/4194305-dead00', join(dir, '.dist.4194305.link'));
    // Names agent-infra never gives its versions and links are not its own: left alone, dead pid or not.
    mkdirSync(join(versions, '4194305-notes-of-mine'));
    writeFileSync(join(dir, '.dist.4194306.link'), 'a file of the user');
    writeOutput(out, new Map(Object.entries(goldenTree())), REPLACED);
    expect(readdirSync(versions).sort()).toEqual(
      [readlinkSync(out).split('/')[1], `${process.ppid}-live00`, '4194305-notes-of-mine'].sort(),
    );
    expect(existsSync(join(dir, '.dist.4194305.link'))).toBe(false);
    expect(readFileSync(join(dir, '.dist.4194306.link'), 'utf8')).toBe('a file of the user');
  });

  it('refuses output paths that leave the tree', () => {
    const dir = mkdtempSync(join(tmpdir(), 'swap-'));
    expect(() => writeOutput(join(dir, 'dist'), new Map([['k8s/../../x', '']]), REPLACED)).toThrow(
      /leaves the output folder/,
    );
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('a run killed at random points', () => {
  const runs = Number(process.env['SWAP_FAULT_RUNS'] ?? 200);
  it(
    `leaves the complete old or the complete new tree, by content hash, over ${runs} SIGKILLs`,
    { timeout: 240_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'swap-fault-'));
      const out = join(dir, 'dist');
      const a = goldenTree();
      const b = nextTree(a);
      const treesFile = join(dir, 'trees.json');
      writeFileSync(treesFile, JSON.stringify({ a, b }));
      writeOutput(out, new Map(Object.entries(a)), REPLACED);
      writeFileSync(join(out, 'compose', '.env'), 'SECRET_REF=x\n');
      const env = { 'compose/.env': 'SECRET_REF=x\n' };
      const hashes = new Set([
        expectedHash({ ...a, ...env, [OUTPUT_MANIFEST]: manifestOf(a) }),
        expectedHash({ ...b, ...env, [OUTPUT_MANIFEST]: manifestOf(b) }),
      ]);
      expect(hashes.has(treeHash(out))).toBe(true);
      // A fixed seed: the delays are the same on every run of the suite.
      let seed = 0x2545f491;
      const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31);
      let interrupted = 0;
      const t0 = performance.now();
      for (let i = 0; i < runs; i++) {
        const child = spawn(process.execPath, [join(ROOT, 'test', 'fault', 'swap-driver.mjs'), out, treesFile], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        await new Promise<void>((res, rej) => {
          child.once('error', rej);
          child.stdout.once('data', () => res());
          child.once('exit', (code) => rej(new Error(`the driver exited with ${code} before it was ready`)));
        });
        child.removeAllListeners('exit');
        await new Promise((r) => setTimeout(r, random() * 30));
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
        expect([i, hashes.has(treeHash(out))]).toEqual([i, true]);
        // Work of the killed run left behind shows the kill landed inside a write.
        if (readdirSync(join(dir, '.dist.versions')).some((n) => n.startsWith(`${child.pid}-`))) interrupted++;
      }
      // A next run removes what the killed ones left.
      writeOutput(out, new Map(Object.entries(a)), REPLACED);
      expect(readdirSync(join(dir, '.dist.versions'))).toHaveLength(1);
      expect(readdirSync(dir).sort()).toEqual(['.dist.versions', 'dist', 'trees.json']);
      console.log(
        `output swap: ${runs} runs killed, ${interrupted} inside a write, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
      expect(interrupted).toBeGreaterThan(runs / 4);
    },
  );
});

describe('an output that cannot be written', () => {
  /** The example's compose output in a fresh folder, written once. */
  function withOutput() {
    const dir = mkdtempSync(join(tmpdir(), 'unwritable-'));
    const out = join(dir, 'dist');
    expect(cli(['synth', '--spec', EXAMPLE_SPEC, '--out', out, '--only', 'compose'], dir).code).toBe(0);
    return { dir, out };
  }
  const cases: [string, (dir: string) => string[], RegExp][] = [
    [
      '--out a file',
      (dir) => (writeFileSync(join(dir, 'file'), 'x'), ['--out', join(dir, 'file')]),
      /error cannot write \S+file \(it is a file, not a folder\); nothing was changed there: remove it or choose another --out \[unwritable-output\]/,
    ],
    [
      '--out /dev/null',
      () => ['--out', '/dev/null'],
      /error cannot write \/dev\/null \(it is a device, socket or FIFO, not a folder\); nothing was changed there: remove it or choose another --out \[unwritable-output\]/,
    ],
    [
      '--out below a file',
      (dir) => (writeFileSync(join(dir, 'file'), 'x'), ['--out', join(dir, 'file', 'dist')]),
      /error cannot write (\S+)file\/dist \(\1file is not a folder\); nothing was changed there: remove it or choose another --out \[unwritable-output\]/,
    ],
    [
      '--out where no folder can be made (/proc)',
      () => ['--out', '/proc/agent-infra-out'],
      /error cannot write \/proc\/agent-infra-out \(ENOENT on mkdir of \/proc\/\.agent-infra-out\.versions\); nothing was changed there: choose another --out \[unwritable-output\]/,
    ],
  ];
  it.each(cases)('%s: unwritable-output, exit 2, the existing output unchanged', (_name, args, message) => {
    const { dir, out } = withOutput();
    const before = treeHash(out);
    const r = cli(['synth', '--spec', EXAMPLE_SPEC, ...args(dir)], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr + r.stdout).not.toMatch(STACK);
    expect(r.stderr).not.toContain('internal error');
    expect(treeHash(out)).toBe(before);
  });

  it('a file size limit (ulimit -f) smaller than the output: unwritable-output, exit 2, the old tree kept whole', () => {
    const { dir, out } = withOutput();
    const before = treeHash(out);
    // The limit (in 1 KiB blocks) lets small files through and stops the big compose files.
    const r = spawnSync(
      'sh',
      [
        '-c',
        `ulimit -f 64 && exec "$0" "$@"`,
        process.execPath,
        join(ROOT, 'bin', 'agent-infra.mjs'),
        'synth',
        '--spec',
        EXAMPLE_SPEC,
        '--out',
        out,
      ],
      { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /error cannot write \S+dist \(EFBIG on write\); nothing was changed there: raise the file size limit \(ulimit -f\) \[unwritable-output\]/,
    );
    expect(treeHash(out)).toBe(before);
    expect(readdirSync(join(dir, '.dist.versions'))).toHaveLength(1);
  });

  /** A small tmpfs of `kib` KiB (needs root); undefined, with a message, where it cannot be mounted. */
  function tmpfs(kib: number): string | undefined {
    const dir = mkdtempSync(join(tmpdir(), 'tmpfs-'));
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${kib}k`, 'tmpfs', dir], { encoding: 'utf8' });
    if (r.status === 0) return dir;
    console.warn(
      `skipping a full or read-only disk: cannot mount a tmpfs here (${(r.stderr || r.error?.message || '').trim()})`,
    );
    return undefined;
  }
  const unmount = (dir: string) => spawnSync('umount', [dir]);

  it.each([
    [
      'a full disk',
      1200,
      false,
      /error cannot write \S+dist \(ENOSPC on \w+( of \S+)?\); nothing was changed there: free some disk space \[unwritable-output\]/,
    ],
    [
      'a read-only disk',
      4096,
      true,
      /error cannot write \S+dist \(EROFS on \w+( of \S+)?\); nothing was changed there: choose a writable --out or fix its permissions \[unwritable-output\]/,
    ],
  ] as const)('%s: unwritable-output, exit 2, the old tree kept whole', (_name, kib, readOnly, message) => {
    const disk = tmpfs(kib);
    if (!disk) return;
    try {
      const out = join(disk, 'dist');
      // The compose files alone fit; the whole output beside them does not.
      expect(cli(['synth', '--spec', EXAMPLE_SPEC, '--out', out, '--only', 'compose']).code).toBe(0);
      const before = treeHash(out);
      if (readOnly) expect(spawnSync('mount', ['-o', 'remount,ro', disk]).status).toBe(0);
      const r = cli(['synth', '--spec', EXAMPLE_SPEC, '--out', out]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr + r.stdout).not.toMatch(STACK);
      expect(treeHash(out)).toBe(before);
      expect(readdirSync(join(disk, '.dist.versions'))).toHaveLength(1);
    } finally {
      unmount(disk);
    }
  });

  it('under cdk8s synth: one line, no stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'unwritable-cdk8s-'));
    writeFileSync(join(dir, 'file'), 'x');
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'cdk8s-app.mjs')], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1', AGENT_INFRA_OUT: join(dir, 'file'), CDK8S_OUTDIR: join(dir, 'cdk8s') },
    });
    expect(r.stderr).toMatch(
      /error cannot write \S+file \(it is a file, not a folder\); nothing was changed there: remove it or choose another --out \[unwritable-output\]/,
    );
    expect(r.stderr + r.stdout).not.toMatch(STACK);
    expect(existsSync(join(dir, 'cdk8s'))).toBe(false);
  });
});
