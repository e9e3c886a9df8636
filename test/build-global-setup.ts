/**
 * Global setup of the command-line suite: the commands it starts run the compiled build, as an installed
 * package does, so the build is brought up to date first (`npm run build`, a few seconds) when a source
 * is newer. Running the TypeScript through tsx instead would test the development loader: its module
 * hooks run in a second V8 isolate, which reserves another 4 GiB of address space and makes the
 * address-space-limit tests fail some of the time.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
// @ts-expect-error: a JavaScript module of the package's own, without declarations.
import { buildIsCurrent } from '../bin/run.mjs';
import { ROOT } from './helpers.ts';

export default function setup(): void {
  if ((buildIsCurrent as () => boolean)()) return;
  try {
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: 'inherit' });
  } catch {
    throw new Error('npm run build failed (its output is above): the command-line tests need the build');
  }
}
