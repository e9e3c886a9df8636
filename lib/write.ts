/** The io end of output: atomic writes, and whole output trees swapped in at once. */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** Writes a file through a temporary sibling and a rename, so readers never see half of it. */
export function writeFileAtomic(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/**
 * Replaces directory `dir` with exactly `files` (relative path -> content): everything is written to
 * a staging directory first and swapped in with renames, so a failure leaves `dir` as it was.
 */
export function writeTree(dir: string, files: ReadonlyMap<string, string>): void {
  const target = resolve(dir);
  mkdirSync(dirname(target), { recursive: true });
  const staging = mkdtempSync(`${target}.staging-`);
  chmodSync(staging, 0o755);
  try {
    for (const [rel, text] of [...files].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const f = join(staging, rel);
      mkdirSync(dirname(f), { recursive: true });
      writeFileSync(f, text);
    }
    const old = `${target}.old-${process.pid}`;
    if (existsSync(target)) renameSync(target, old);
    renameSync(staging, target);
    rmSync(old, { recursive: true, force: true });
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}
