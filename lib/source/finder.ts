/**
 * Module finding as CPython's path finder does it, over the source tree: which file (if any) an
 * import of a started script reaches, and under which name. Nothing is executed.
 *
 * A script started as `python3 <script_path>` from the root with the root on PYTHONPATH has
 * `sys.path` = [the script's own folder, the root, the standard library, site-packages]. In each
 * folder in turn a package (a folder with `__init__.py`) wins, then a module (`name.py`); a folder
 * without `__init__.py` is only a namespace portion, used when no folder of the whole path (the
 * standard library and site-packages included) has a package or module of that name.
 */
import { posix } from 'node:path';

/** A module as imported: its file and the dotted name Python gives it (`__main__` for the started script). */
export interface ModuleRef {
  readonly file: string;
  readonly name: string;
  /** Its `__package__`: itself for a package, its parent for a module, '' for a top-level module and `__main__`. */
  readonly package: string;
}

/** What one name is in a list of folders. */
export type Found =
  | { readonly kind: 'package'; readonly file: string; readonly locations: readonly string[] }
  | { readonly kind: 'module'; readonly file: string }
  | { readonly kind: 'namespace'; readonly locations: readonly string[] };

/** What the finder needs of the tree: whether a path (relative to the root) is a file or a folder. */
export interface TreeView {
  exists(rel: string): boolean;
  isDirectory(rel: string): boolean;
}

/** How an import resolves among the local folders of `sys.path`. */
export type Resolution =
  /** Every part of the dotted name was found: the modules to run, outermost first. */
  | { readonly kind: 'local'; readonly modules: readonly ModuleRef[]; readonly last: Found }
  /** Its top-level name is in no local folder: the standard library's, an installed distribution's, or missing. */
  | { readonly kind: 'external'; readonly top: string }
  /** The top-level name is local but a part below it is not: `ModuleNotFoundError`. */
  | { readonly kind: 'missing'; readonly name: string; readonly modules: readonly ModuleRef[] }
  /** A relative import Python refuses before looking: no parent package, or beyond the top level. */
  | { readonly kind: 'relative-error'; readonly message: string };

const join = (dir: string, name: string) => (dir ? `${dir}/${name}` : name);

/** `name` in `locations`, as `PathFinder.find_spec` finds it; undefined when it is in none. */
export function findIn(tree: TreeView, name: string, locations: readonly string[]): Found | undefined {
  const portions: string[] = [];
  for (const loc of locations) {
    const dir = join(loc, name);
    if (tree.isDirectory(dir) && tree.exists(`${dir}/__init__.py`))
      return { kind: 'package', file: `${dir}/__init__.py`, locations: [dir] };
    if (tree.exists(`${dir}.py`)) return { kind: 'module', file: `${dir}.py` };
    if (tree.isDirectory(dir)) portions.push(dir);
  }
  return portions.length ? { kind: 'namespace', locations: portions } : undefined;
}

/** The local folders of a started script's `sys.path`: its own folder, then the root. */
export function scriptPath(script: string): string[] {
  const dir = posix.dirname(script);
  return dir === '.' ? [''] : [dir, ''];
}

/** The module that `script` is when started: `__main__`, with no package. */
export function mainModule(script: string): ModuleRef {
  return { file: script, name: '__main__', package: '' };
}

/** The absolute name of an import written in `importer` (`level` leading dots), or why Python refuses it. */
export function absoluteName(importer: ModuleRef, level: number, module: string): { name: string } | { error: string } {
  if (level === 0) return { name: module };
  if (!importer.package) return { error: 'attempted relative import with no known parent package' };
  const parts = importer.package.split('.');
  if (level - 1 >= parts.length) return { error: 'attempted relative import beyond top-level package' };
  const base = parts.slice(0, parts.length - (level - 1)).join('.');
  return { name: module ? `${base}.${module}` : base };
}

/**
 * Resolves an absolute dotted name against `path` (the script's local folders). `elsewhere` tells a
 * top-level name the standard library or an installed distribution has: a local namespace folder of that
 * name does not shadow it.
 */
export function resolveName(
  tree: TreeView,
  path: readonly string[],
  dotted: string,
  elsewhere: (top: string) => boolean,
): Resolution {
  const parts = dotted.split('.');
  const modules: ModuleRef[] = [];
  let locations: readonly string[] = path;
  let last: Found | undefined;
  for (let i = 0; i < parts.length; i++) {
    const found = findIn(tree, parts[i]!, locations);
    const name = parts.slice(0, i + 1).join('.');
    if (!found || (i === 0 && found.kind === 'namespace' && elsewhere(parts[0]!))) {
      if (i === 0) return { kind: 'external', top: parts[0]! };
      return { kind: 'missing', name, modules };
    }
    last = found;
    if (found.kind === 'package') modules.push({ file: found.file, name, package: name });
    else if (found.kind === 'module') modules.push({ file: found.file, name, package: parts.slice(0, i).join('.') });
    if (found.kind === 'module') {
      // A module has no submodules: `import a.b` where a is a module fails.
      if (i < parts.length - 1) return { kind: 'missing', name: parts.slice(0, i + 2).join('.'), modules };
      break;
    }
    locations = found.locations;
  }
  return { kind: 'local', modules, last: last! };
}
