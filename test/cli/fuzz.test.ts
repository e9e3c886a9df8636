/**
 * Fuzzing `check`: random byte strings and random mutations of the example's YAML (spec and startup
 * configs). Whatever the input: never an internal error (exit 70), never a stack trace, a bounded
 * time per input; and an input `check` accepts is one every emitter builds. Runs in the test process
 * through the CLI's own entry (`main`), and a sample through a real process under a heap limit.
 * FUZZ_RUNS sets the number of inputs per kind (default 150), FUZZ_SEED the seed (fixed by default, so
 * a failure repeats).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { main } from '../../lib/cli/index.ts';
import { runPipeline } from '../../lib/pipeline.ts';
import { emitAll } from '../../lib/synth.ts';
import { ROOT, STACK } from '../helpers.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 150);
const SEED = Number(process.env['FUZZ_SEED'] ?? 20261201);
const FILES = ['agent-infra.yaml', 'main_pc_code/config/startup_config.yaml', 'pc2_code/config/startup_config.yaml'];

/** Values a hostile user would try where a scalar goes. */
const HOSTILE = [
  '-1',
  '0',
  '1e308',
  '0.5',
  '99999',
  '"a\\nb"',
  "'${X:?boom}'",
  '__proto__',
  'constructor',
  '[]',
  '{}',
  'null',
  '~',
  '*nope',
  '&a x',
  '<<: *a',
  '!!binary aGk=',
  '"\\u0000"',
  'yes',
  '0755',
  '"../../etc/passwd"',
  '"tcp://192.168.1.5:7150"',
  'x'.repeat(300),
  '"; rm -rf /"',
  '[1, [2, [3]]]',
  '{a: {b: {c: 1}}}',
  '"\\t"',
  'é',
  '"\\ud800"',
  '-',
  '? ',
  ': x',
];

let dir: string;
const originals = new Map<string, string>();
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fuzz-'));
  cpSync(join(ROOT, 'examples', 'two-pc'), dir, { recursive: true });
  for (const f of FILES) originals.set(f, readFileSync(join(dir, f), 'utf8'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One mutation of a YAML text: a line deleted, duplicated, moved, re-indented, cut, or a value replaced. */
const mutation = fc.record({
  file: fc.constantFrom(...FILES),
  ops: fc.array(
    fc.record({
      kind: fc.constantFrom('delete', 'duplicate', 'swap', 'indent', 'dedent', 'value', 'key', 'truncate', 'bytes'),
      at: fc.nat(),
      other: fc.nat(),
      value: fc.constantFrom(...HOSTILE),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
    }),
    { minLength: 1, maxLength: 4 },
  ),
});

type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(text: string, ops: Mutation['ops']): string {
  let lines = text.split('\n');
  for (const op of ops) {
    const i = op.at % lines.length;
    const j = op.other % lines.length;
    const line = lines[i]!;
    switch (op.kind) {
      case 'delete':
        lines.splice(i, 1);
        break;
      case 'duplicate':
        lines.splice(i, 0, line);
        break;
      case 'swap':
        [lines[i], lines[j]] = [lines[j]!, line];
        break;
      case 'indent':
        lines[i] = `  ${line}`;
        break;
      case 'dedent':
        lines[i] = line.replace(/^ {1,2}/, '');
        break;
      case 'value':
        lines[i] = line.includes(':') ? `${line.slice(0, line.indexOf(':') + 1)} ${op.value}` : `${line} ${op.value}`;
        break;
      case 'key':
        lines[i] = line.replace(/^(\s*-?\s*)[\w.]+:/, `$1${op.value}:`);
        break;
      case 'truncate':
        lines = lines.slice(0, i);
        break;
      case 'bytes':
        lines[i] = line + Buffer.from(op.bytes).toString('latin1');
        break;
    }
    if (lines.length === 0) lines = [''];
  }
  return lines.join('\n');
}

/** `check` in this process through the CLI's entry: the exit code and everything printed. */
async function check(spec: string): Promise<{ code: number; out: string; ms: number }> {
  const printed: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void printed.push(a.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void printed.push(a.join(' ')));
  const t0 = performance.now();
  try {
    const code = await main(['check', '--spec', spec, '--format', 'json']);
    return { code, out: printed.join('\n'), ms: performance.now() - t0 };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

/** Writes the example with `file` replaced by `text` (the others as they were). */
function write(file: string, text: string | Buffer): void {
  for (const [f, t] of originals) writeFileSync(join(dir, f), f === file ? text : t);
}

describe('fuzzing check', () => {
  const stats = { inputs: 0, accepted: 0, emitted: 0, slowestMs: 0 };
  afterAll(() =>
    console.log(
      `fuzz: ${stats.inputs} inputs, ${stats.accepted} accepted by check and built by every emitter (${stats.emitted}), slowest ${stats.slowestMs.toFixed(0)} ms`,
    ),
  );

  it(
    'survives mutations of the example: no internal error, no stack, an accepted input builds',
    { timeout: 600_000 },
    async () => {
      await fc.assert(
        fc.asyncProperty(mutation, async ({ file, ops }) => {
          write(file, mutate(originals.get(file)!, ops));
          const r = await check(join(dir, 'agent-infra.yaml'));
          stats.inputs++;
          stats.slowestMs = Math.max(stats.slowestMs, r.ms);
          expect(r.code).not.toBe(70);
          expect(r.out).not.toMatch(STACK);
          expect(r.ms).toBeLessThan(30_000);
          if (r.code === 0) {
            stats.accepted++;
            // What check accepts, synth builds: every emitter runs without an exception.
            const p = runPipeline({ spec: join(dir, 'agent-infra.yaml'), cwd: dir });
            expect(p.ok).toBe(true);
            expect(emitAll(p.plan, 'agent-infra.yaml').size).toBeGreaterThan(0);
            stats.emitted++;
          }
        }),
        { numRuns: RUNS, seed: SEED },
      );
    },
  );

  it('survives random bytes as any of the three files', { timeout: 600_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...FILES), fc.uint8Array({ maxLength: 2000 }), async (file, bytes) => {
        write(file, Buffer.from(bytes));
        const r = await check(join(dir, 'agent-infra.yaml'));
        stats.inputs++;
        stats.slowestMs = Math.max(stats.slowestMs, r.ms);
        expect(r.code).not.toBe(70);
        expect([1, 2]).toContain(r.code);
        expect(r.out).not.toMatch(STACK);
        expect(r.ms).toBeLessThan(30_000);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('stays within a few hundred MB and seconds in a real process, for a sample of both kinds', () => {
    const rng = fc.sample(fc.tuple(mutation, fc.uint8Array({ maxLength: 2000 })), { numRuns: 8, seed: SEED });
    for (const [{ file, ops }, bytes] of rng) {
      for (const text of [mutate(originals.get(file)!, ops), Buffer.from(bytes)]) {
        write(file, text);
        // A heap of 256 MB: an input that needs more kills the process (exit 134), which fails here.
        const r = spawnSync(
          process.execPath,
          [
            '--max-old-space-size=256',
            join(ROOT, 'bin', 'agent-infra.mjs'),
            'check',
            '--spec',
            join(dir, 'agent-infra.yaml'),
          ],
          { encoding: 'utf8', timeout: 20_000, env: { ...process.env, NO_COLOR: '1' } },
        );
        expect(r.signal).toBeNull();
        expect([0, 1, 2]).toContain(r.status);
        expect(r.stderr + r.stdout).not.toMatch(STACK);
      }
    }
  });
});
