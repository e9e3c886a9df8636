/**
 * CPython as the judge of what compiles: the machine's `python3` compiles many sources in one process
 * (`compile(bytes, name, 'exec')`, which honours each source's encoding declaration) and reports the
 * first error of each, at its line, in its own words.
 */
import { spawnSync } from 'node:child_process';
import type { SyntaxProblem } from './tokens.ts';

const COMPILE_ALL = `
import base64, json, sys
out = []
for f in json.load(sys.stdin):
    try:
        compile(base64.b64decode(f["b64"]), f["name"], "exec", dont_inherit=True)
        out.append(None)
    except SyntaxError as e:
        out.append({"line": e.lineno or 1, "message": e.msg})
    except (ValueError, RecursionError, MemoryError) as e:
        out.append({"line": 1, "message": type(e).__name__ + ": " + str(e)})
json.dump({"version": "%d.%d.%d" % sys.version_info[:3], "results": out}, sys.stdout)
`;

/** What CPython said of each source, in order, and its version. */
export interface CompileResults {
  readonly version: string;
  readonly results: readonly (SyntaxProblem | undefined)[];
}

/**
 * Compiles each source with `python3` (one process); undefined when no python3 can be run. Nothing
 * is executed: `compile` only parses and builds code objects.
 */
export function compileWithPython(
  sources: readonly { readonly name: string; readonly bytes: Uint8Array }[],
  python = 'python3',
): CompileResults | undefined {
  if (sources.length === 0) return { version: '', results: [] };
  const input = JSON.stringify(sources.map((s) => ({ name: s.name, b64: Buffer.from(s.bytes).toString('base64') })));
  const r = spawnSync(python, ['-I', '-S', '-c', COMPILE_ALL], {
    input,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    timeout: 600_000,
  });
  if (r.error || r.status !== 0) return undefined;
  const parsed = JSON.parse(r.stdout) as { version: string; results: ({ line: number; message: string } | null)[] };
  return {
    version: parsed.version,
    results: parsed.results.map((x) => (x ? { line: x.line, message: x.message } : undefined)),
  };
}
