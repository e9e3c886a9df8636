/** The build context: a source tree as a tar stream, filtered by .dockerignore rules, plus generated files. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { Ignore } from '@balena/dockerignore';
import tar from 'tar-stream';
import { byString } from '../plan/names.ts';

// A CommonJS module (`module.exports = factory`) whose types declare an ES default export: required as it is.
const ignoreFactory = createRequire(import.meta.url)('@balena/dockerignore') as () => Ignore;

/** The engine's own .dockerignore rules (the matcher Docker's clients use), as a predicate on relative paths. */
export function dockerignoreMatcher(text: string): (path: string) => boolean {
  const rules = ignoreFactory().add(text.split('\n'));
  return (path: string) => rules.ignores(path);
}

/** Files of `dir` that the ignore rules keep, relative and sorted. */
export function contextFiles(dir: string, ignored: (path: string) => boolean): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort(byString)) {
      const p = rel ? `${rel}/${name}` : name;
      if (ignored(p)) continue;
      const st = statSync(join(dir, p));
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.push(p);
    }
  };
  walk('');
  return out;
}

const EPOCH = new Date(0);

/** A tar stream of the context: the kept files of `dir` plus `extra` (path -> content), with fixed metadata. */
export function contextTar(
  dir: string,
  dockerignore: string,
  extra: ReadonlyMap<string, string>,
): { stream: NodeJS.ReadableStream; files: string[] } {
  const ignored = dockerignoreMatcher(dockerignore);
  const files = contextFiles(dir, ignored).filter((f) => !extra.has(f));
  const pack = tar.pack();
  for (const f of files) {
    const st = statSync(join(dir, f));
    pack.entry(
      { name: f, mode: st.mode & 0o111 ? 0o755 : 0o644, mtime: EPOCH, uid: 0, gid: 0 },
      readFileSync(join(dir, f)),
    );
  }
  for (const [name, text] of [...extra].sort((a, b) => byString(a[0], b[0])))
    pack.entry({ name, mode: 0o644, mtime: EPOCH, uid: 0, gid: 0 }, text);
  pack.finalize();
  return { stream: pack, files: [...files, ...extra.keys()] };
}
