/**
 * CPython as the judge of what compiles: the machine's `python3` compiles many sources in one process
 * (`compile(bytes, name, 'exec')`, which honours each source's encoding declaration) and reports the
 * first error of each, at its line, in its own words.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
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

const COMPILE_STREAM = `
import base64, json, sys
for line in sys.stdin:
    f = json.loads(line)
    try:
        compile(base64.b64decode(f["b64"]), f["name"], "exec", dont_inherit=True)
        r = None
    except SyntaxError as e:
        r = {"line": e.lineno or 1, "message": e.msg}
    except (ValueError, RecursionError, MemoryError) as e:
        r = {"line": 1, "message": type(e).__name__ + ": " + str(e)}
    sys.stdout.write(json.dumps({"name": f["name"], "r": r}) + "\\n")
sys.stdout.write(json.dumps({"version": "%d.%d.%d" % sys.version_info[:3]}) + "\\n")
`;

/**
 * CPython judging sources as they are handed to it, in a process of its own: a file submitted while this
 * process goes on reading others is compiled meanwhile (the write reaches the pipe at once), and
 * {@link finish} gives every verdict. Undefined verdicts where no python3 could be run.
 */
export class StreamingJudge {
  private child: ChildProcessWithoutNullStreams | undefined;
  private out = '';
  private failed = false;
  private done: Promise<void> = Promise.resolve();

  constructor(private readonly python = 'python3') {}

  /** Hands a file to the judge; the process starts with the first (none when every verdict is cached). */
  submit(name: string, text: string): void {
    if (this.failed) return;
    if (!this.child) {
      const child = spawn(this.python, ['-I', '-S', '-u', '-c', COMPILE_STREAM], { stdio: ['pipe', 'pipe', 'pipe'] });
      this.child = child;
      child.on('error', () => (this.failed = true));
      child.stdin.on('error', () => (this.failed = true));
      child.stderr.resume();
      child.stdout.setEncoding('utf8').on('data', (d: string) => (this.out += d));
      this.done = new Promise((resolve) => child.on('close', (code) => ((this.failed ||= code !== 0), resolve())));
    }
    this.child.stdin.write(`${JSON.stringify({ name, b64: Buffer.from(text, 'utf8').toString('base64') })}\n`);
  }

  /** Every verdict by file name, and the python3's version; undefined when it could not judge. */
  async finish(): Promise<{ version: string; verdicts: Map<string, SyntaxProblem | undefined> } | undefined> {
    const verdicts = new Map<string, SyntaxProblem | undefined>();
    if (!this.child) return this.failed ? undefined : { version: '', verdicts };
    this.child.stdin.end();
    const child = this.child;
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
    await this.done;
    clearTimeout(timer);
    if (this.failed) return undefined;
    let version = '';
    for (const line of this.out.split('\n').filter(Boolean)) {
      const x = JSON.parse(line) as { name?: string; r?: { line: number; message: string } | null; version?: string };
      if (x.version !== undefined) version = x.version;
      else if (x.name !== undefined) verdicts.set(x.name, x.r ? { line: x.r.line, message: x.r.message } : undefined);
    }
    return version ? { version, verdicts } : undefined;
  }
}
