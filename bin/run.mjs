// Loads one of agent-infra's entry modules: the compiled JavaScript in build/ (written by `npm run build`,
// which `npm install` runs) when it is newer than every source file, else the TypeScript source through
// tsx, so that an edited checkout never runs stale code.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const stamp = join(root, 'build', '.built');

/** The process's address-space limit in bytes (`ulimit -v`), or undefined when it has none. */
export function addressSpaceLimit() {
  try {
    const m = /^Max address space\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m && m[1] !== 'unlimited' ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Makes the process fit where it runs, before anything else: a working folder that was deleted is a
 * clear error (exit 2); under an address-space limit (`ulimit -v`, common in CI runners and
 * containers) the process starts again without V8's WebAssembly trap handler, which reserves about
 * 10 GiB of address space for each WebAssembly memory (the Python parser and the graph layout are
 * WebAssembly) where a few MiB are used. Returns the exit code when the work was done by a new process.
 */
export function prepareProcess() {
  try {
    process.cwd();
  } catch (e) {
    console.error(
      `agent-infra: the working folder no longer exists (${e.code ?? e.message}); cd into an existing folder and run the command again [no-working-folder]`,
    );
    return 2;
  }
  const flag = '--disable-wasm-trap-handler';
  if (addressSpaceLimit() === undefined || process.execArgv.includes(flag) || process.env.AGENT_INFRA_RELAUNCHED)
    return undefined;
  const r = spawnSync(process.execPath, [flag, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, AGENT_INFRA_RELAUNCHED: '1' },
  });
  if (r.error) return undefined;
  if (r.signal) process.kill(process.pid, r.signal);
  return r.status ?? 1;
}

/** The newest modification time of the .ts files below `dir`. */
function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (e.name.endsWith('.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

export function buildIsCurrent() {
  if (!existsSync(stamp)) return false;
  // A package installed from a tarball ships build/ alone: nothing to compare with.
  if (!existsSync(join(root, 'lib'))) return true;
  const built = statSync(stamp).mtimeMs;
  const dirs = ['lib', 'constructs', 'imports'].filter((d) => existsSync(join(root, d)));
  return dirs.every((d) => newest(join(root, d)) <= built) && statSync(join(root, 'main.ts')).mtimeMs <= built;
}

/**
 * Imports `path` (relative to the package root, without extension), or from the build `bundled` (a
 * path below build/) when one is given.
 */
export async function load(path, bundled) {
  if (buildIsCurrent()) return import(join(root, 'build', bundled ?? `${path}.js`));
  const { register } = await import('tsx/esm/api');
  register();
  return import(join(root, `${path}.ts`));
}
