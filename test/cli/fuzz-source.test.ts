/**
 * Fuzzing the source stage: generated Python that nests deeper than CPython allows, very long lines
 * and odd bytes (NUL, lone surrogates' bytes, invalid UTF-8, form feeds, bare CRs). Whatever the
 * text, the reader answers (never a stack overflow or an internal error); where CPython has a limit,
 * the reader reports CPython's message at CPython's line, worked out here from the limits themselves
 * (200 open brackets, 100 indentation levels). A sample runs `check --source` as a process.
 * FUZZ_RUNS and FUZZ_SEED as in fuzz.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { initPython, readPython } from '../../lib/source/python.ts';
import { cli, ROOT, STACK } from '../helpers.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 150);
const SEED = Number(process.env['FUZZ_SEED'] ?? 20261203);

beforeAll(() => initPython());

/** A piece of Python: nested brackets, unary chains, indentation, long lines, odd bytes. */
const piece = fc.oneof(
  fc.integer({ min: 0, max: 6000 }).map((n) => `x = ${'('.repeat(n)}1${')'.repeat(n)}\n`),
  fc.integer({ min: 0, max: 6000 }).map((n) => `y = ${'-'.repeat(n)}1\n`),
  fc.integer({ min: 0, max: 6000 }).map((n) => `z = a${'.b'.repeat(n)}\n`),
  fc.integer({ min: 0, max: 6000 }).map((n) => `w = ${'['.repeat(n)}`),
  fc
    .integer({ min: 1, max: 300 })
    .map((n) => Array.from({ length: n }, (_, i) => `${' '.repeat(i)}if x:\n`).join('') + `${' '.repeat(n)}pass\n`),
  fc.integer({ min: 1, max: 200_000 }).map((n) => `s = "${'a'.repeat(n)}"\n`),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
  fc.constantFrom(
    '\0',
    '\r',
    '\f',
    '\ud800',
    '"""',
    "'''",
    '\\',
    '#',
    'class X(BaseAgent):\n    def __init__(self):\n        super().__init__(port=5000)\n',
    'import a, b\n',
    'from . import x\n',
  ),
);

describe('the Python reader on generated text', () => {
  it('answers every text, and reports CPython’s limits at CPython’s line', () => {
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 4 }), (pieces) => {
        const text = pieces.join('');
        const facts = readPython(text);
        expect(Array.isArray(facts.imports)).toBe(true);
        if (facts.syntaxError) expect(facts.syntaxError.line).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it.each([
    ['201 nested brackets', `a = 1\nb = ${'('.repeat(201)}1${')'.repeat(201)}\n`, 2, 'too many nested parentheses'],
    ['200 nested brackets', `a = 1\nb = ${'('.repeat(200)}1${')'.repeat(200)}\n`, undefined, undefined],
    [
      '5000 nested brackets over lines',
      `a = (\n${'(\n'.repeat(4999)}1${')'.repeat(5000)}\n`,
      201,
      'too many nested parentheses',
    ],
    [
      '100 levels of indentation',
      `${Array.from({ length: 100 }, (_, i) => `${' '.repeat(i)}if x:\n`).join('')}${' '.repeat(100)}pass\n`,
      101,
      'too many levels of indentation',
    ],
    [
      '99 levels of indentation',
      `${Array.from({ length: 99 }, (_, i) => `${' '.repeat(i)}if x:\n`).join('')}${' '.repeat(99)}pass\n`,
      undefined,
      undefined,
    ],
    ['6000 unary minuses', `y = ${'-'.repeat(6000)}1\n`, 1, 'maximum recursion depth exceeded during compilation'],
    ['2000 unary minuses', `y = ${'-'.repeat(2000)}1\n`, undefined, undefined],
  ])('%s', (_name, text, line, message) => {
    expect(readPython(text).syntaxError).toEqual(line === undefined ? undefined : { line, message });
  });
});

describe('check --source on nested and odd scripts', () => {
  it('exits 1 with the script-syntax-error at CPython’s line, never 70, never a stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fuzz-source-'));
    cpSync(join(ROOT, 'examples', 'two-pc'), dir, { recursive: true });
    cpSync(join(ROOT, 'test', 'fixtures', 'mini-monorepo'), dir, { recursive: true });
    const script = join(dir, 'main_pc_code', 'agents', 'service_registry_agent.py');
    const lines = readFileSync(script, 'utf8').split('\n').length;
    writeFileSync(script, `${readFileSync(script, 'utf8')}x = ${'('.repeat(5000)}1${')'.repeat(5000)}\n`);
    writeFileSync(join(dir, 'common', 'odd.py'), Buffer.from([0x78, 0x3d, 0xff, 0xfe, 0x00, 0x0c, 0x0d, 0x0a]));
    const r = cli(['check', '--spec', 'agent-infra.yaml', '--source', '.', '--quiet', '--strict'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr).toContain(
      `error main_pc_code/agents/service_registry_agent.py:${lines}: too many nested parentheses; the agent cannot start until it compiles [script-syntax-error]`,
    );
  });
});
