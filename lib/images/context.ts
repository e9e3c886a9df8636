/** The build context: a source tree as a tar stream, filtered by .dockerignore rules, plus generated files. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import tar from 'tar-stream';
import { byString } from '../plan/names.ts';

/** A .dockerignore matcher for the patterns we generate: `name`, `dir/name`, `**\/name`, `*` wildcards, `!` exceptions. */
export function dockerignoreMatcher(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = (negate ? l.slice(1) : l).replace(/^\/+|\/+$/g, '');
      const body = pattern
        .split('/')
        .map((seg) => (seg === '**' ? '(?:[^/]+/)*' : `${seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}/`))
        .join('');
      // Tested against `path/`: a pattern matches the path itself and everything below it.
      return { negate, re: new RegExp(`^${body}`) };
    });
  return (path: string) => {
    let ignored = false;
    for (const r of rules) if (r.re.test(`${path}/`)) ignored = !r.negate;
    return ignored;
  };
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
export function contextTar(dir: string, dockerignore: string, extra: ReadonlyMap<string, string>): { stream: NodeJS.ReadableStream; files: string[] } {
  const ignored = dockerignoreMatcher(dockerignore);
  const files = contextFiles(dir, ignored).filter((f) => !extra.has(f));
  const pack = tar.pack();
  for (const f of files) {
    const st = statSync(join(dir, f));
    pack.entry({ name: f, mode: st.mode & 0o111 ? 0o755 : 0o644, mtime: EPOCH, uid: 0, gid: 0 }, readFileSync(join(dir, f)));
  }
  for (const [name, text] of [...extra].sort((a, b) => byString(a[0], b[0]))) pack.entry({ name, mode: 0o644, mtime: EPOCH, uid: 0, gid: 0 }, text);
  pack.finalize();
  return { stream: pack, files: [...files, ...extra.keys()] };
}
