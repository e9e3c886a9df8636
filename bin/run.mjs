// Loads one of agent-infra's entry modules: the compiled JavaScript in build/ (written by `npm run build`,
// which `npm install` runs) when it is newer than every source file, else the TypeScript source through
// tsx, so that an edited checkout never runs stale code.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const stamp = join(root, 'build', '.built');

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

function buildIsCurrent() {
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
