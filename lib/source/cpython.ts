/**
 * CPython as the judge of what compiles: the machine's `python3` compiles many sources in one process
 * (`compile(bytes, name, 'exec')`, which honours each source's encoding declaration) and reports the
 * first error of each, at its line, in its own words.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { SyntaxProblem } from './tokens.ts';

const COMPILE_ALL = `
import base64, json, os, sys

def judge(f):
    try:
        compile(base64.b64decode(f["b64"]), f["name"], "exec", dont_inherit=True)
        return None
    except SyntaxError as e:
        return {"line": e.lineno or 1, "message": e.msg}
    except (ValueError, RecursionError, MemoryError) as e:
        return {"line": 1, "message": type(e).__name__ + ": " + str(e)}

files = json.load(sys.stdin)
workers = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1, 4)
if workers > 1 and len(files) >= 64:
    # Compiling is CPU-bound: a few processes (forked: nothing to import again) share the files; if
    # one dies, the files are judged here, one after the other.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            out = list(pool.map(judge, files, chunksize=8))
    except Exception:
        out = [judge(f) for f in files]
else:
    out = [judge(f) for f in files]
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

/** {@link compileWithPython} in a process of its own, while this one goes on (undefined when no python3 can be run). */
export function compileWithPythonAsync(
  sources: readonly { readonly name: string; readonly bytes: Uint8Array }[],
  python = 'python3',
): Promise<CompileResults | undefined> {
  if (sources.length === 0) return Promise.resolve({ version: '', results: [] });
  const input = JSON.stringify(sources.map((s) => ({ name: s.name, b64: Buffer.from(s.bytes).toString('base64') })));
  return new Promise((resolve) => {
    let out = '';
    let done = false;
    const finish = (r: CompileResults | undefined) => {
      if (!done) resolve(r);
      done = true;
    };
    const child = spawn(python, ['-I', '-S', '-c', COMPILE_ALL], { stdio: ['pipe', 'pipe', 'ignore'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
    child.on('error', () => finish(undefined));
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stdin.on('error', () => finish(undefined));
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return finish(undefined);
      try {
        const parsed = JSON.parse(out) as { version: string; results: ({ line: number; message: string } | null)[] };
        finish({
          version: parsed.version,
          results: parsed.results.map((x) => (x ? { line: x.line, message: x.message } : undefined)),
        });
      } catch {
        finish(undefined);
      }
    });
    child.stdin.end(input);
  });
}
