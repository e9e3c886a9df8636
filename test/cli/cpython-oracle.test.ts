/**
 * CPython is the authority on what compiles. Every `.py` file of the real slice
 * (`../shared/upstream/src-9ff5bdfb`) and of our fixtures, read as a script by the source stage: where
 * python3 says it does not compile, the stage reports python3's line and message; where it compiles,
 * nothing. And agent-infra's own reader (used when no python3 is installed) agrees with CPython on
 * every file of the slice.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { compileWithPython } from '../../lib/source/cpython.ts';
import { initPython, syntaxProblemOf } from '../../lib/source/python.ts';
import { readScript, SourceTree } from '../../lib/source/tree.ts';
import { HAS_PYTHON, HAS_UPSTREAM, ROOT, UPSTREAM } from '../helpers.ts';

beforeAll(() => initPython());

if (!HAS_PYTHON) console.warn('python3 (3.10 or later) is not installed: the CPython oracle tests are skipped');
if (!HAS_UPSTREAM) console.warn('../shared/upstream is absent: the oracle runs on our fixtures only');

/** Every .py file below `root`, relative, sorted. */
function pythonFiles(root: string): string[] {
  return (readdirSync(root, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((d) => d.isFile() && d.name.endsWith('.py'))
    .map((d) => relative(root, join(d.parentPath, d.name)).split('\\').join('/'))
    .sort();
}

const roots = [
  ...(HAS_UPSTREAM ? [join(UPSTREAM, 'src-9ff5bdfb')] : []),
  join(ROOT, 'test', 'fixtures', 'mini-monorepo'),
  join(ROOT, 'test', 'fixtures', 'probe'),
];

describe.skipIf(!HAS_PYTHON)('the source stage against CPython', () => {
  it.each(roots.map((r) => [relative(ROOT, r), r]))('every file of %s: CPython’s first error, or none', (_n, root) => {
    const files = pythonFiles(root);
    const cpython = compileWithPython(files.map((f) => ({ name: f, bytes: readFileSync(join(root, f)) })))!;
    const tree = new SourceTree(root);
    for (const f of files) readScript(tree, f);
    tree.judgeWithPython();
    const ours = files.map((f) => {
      const p = readScript(tree, f).problems.find((x) => x.code === 'script-syntax-error' && x.file === f);
      return [f, p ? `${p.line}: ${p.message}` : 'compiles'];
    });
    const theirs = files.map((f, i) => {
      const p = cpython.results[i];
      return [f, p ? `${p.line}: ${p.message}` : 'compiles'];
    });
    expect(ours).toEqual(theirs);
    console.log(
      `${relative(ROOT, root)}: ${files.length} files, ${theirs.filter((t) => t[1] !== 'compiles').length} that CPython ${cpython.version} does not compile`,
    );
  });

  it.skipIf(!HAS_UPSTREAM)('the own reader alone agrees with CPython on every file of the slice', () => {
    const root = join(UPSTREAM, 'src-9ff5bdfb');
    const files = pythonFiles(root);
    const bytes = files.map((f) => readFileSync(join(root, f)));
    const cpython = compileWithPython(files.map((f, i) => ({ name: f, bytes: bytes[i]! })))!;
    const disagree = files.filter((f, i) => {
      const a = syntaxProblemOf(bytes[i]!.toString('utf8'));
      const b = cpython.results[i];
      return a?.line !== b?.line || a?.message !== b?.message;
    });
    expect(disagree).toEqual([]);
    expect(files.length).toBeGreaterThan(100);
  });
});
