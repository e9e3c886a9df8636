"""The local import closure of agent scripts, as CPython's own path finder resolves it.

Reads JSON {"root": DIR, "scripts": [relative paths]} on stdin; prints, per script, the local files
its imports reach and the imports that resolve to nothing local. Nothing of the tree is executed:
the finder (importlib.machinery.PathFinder) only looks at files, and the sources are parsed with ast.

sys.path of a started script is [its own folder, the root (PYTHONPATH=/app)], then the standard
library and site-packages, which are left out here: a name found in neither local entry is "not local".
"""
import ast
import json
import os
import sys
from importlib.machinery import PathFinder


def find(name, path):
    """The spec of top-level `name` (or a submodule, given its parent's search path), or None."""
    try:
        return PathFinder.find_spec(name, path)
    except (ImportError, ValueError):
        return None


def rel(root, f):
    return os.path.relpath(f, root).replace(os.sep, "/")


def resolve(root, entries, dotted):
    """The specs of each prefix of `dotted` (a, a.b, a.b.c); None where the chain breaks."""
    specs = []
    path = entries
    for part in dotted.split("."):
        spec = find(part, path)
        if spec is None:
            return specs, False
        specs.append(spec)
        path = spec.submodule_search_locations
        if path is None:
            break
    return specs, len(specs) == len(dotted.split("."))


def closure(root, script):
    """Files the script's imports reach (each as the module name it is imported under) and the imports that break."""
    entries = [os.path.join(root, os.path.dirname(script)), root]
    main = os.path.join(root, script)
    seen, queue, missing = set(), [(main, "__main__", "")], []
    while queue:
        f, name, package = queue.pop()
        if (f, name) in seen:
            continue
        seen.add((f, name))
        try:
            tree = ast.parse(open(f, "rb").read())
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [(a.name, []) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mod = node.module
                if node.level:
                    base = package.split(".") if package else []
                    if not base or node.level - 1 >= len(base) + (0 if package else 1):
                        # "attempted relative import with no known parent package" (or beyond the top level)
                        missing.append([rel(root, f), node.lineno, "." * node.level + (node.module or "")])
                        continue
                    base = base[: len(base) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                targets = [(mod, [a.name for a in node.names])]
            else:
                continue
            for mod, names in targets:
                parts = mod.split(".")
                path, full, last = entries, [], None
                for part in parts:
                    spec = find(part, path)
                    if spec is None:
                        break
                    full.append(part)
                    last = spec
                    if spec.origin and spec.origin.endswith(".py"):
                        pkg = ".".join(full) if spec.submodule_search_locations is not None else ".".join(full[:-1])
                        queue.append((spec.origin, ".".join(full), pkg))
                    path = spec.submodule_search_locations
                    if path is None:
                        break
                if len(full) < len(parts):
                    if full:
                        missing.append([rel(root, f), node.lineno, mod])
                    continue
                if last.submodule_search_locations is None:
                    continue
                for n in names:
                    if n == "*":
                        continue
                    sub = find(n, last.submodule_search_locations)
                    if sub is not None and sub.origin and sub.origin.endswith(".py"):
                        sp = mod + "." + n
                        queue.append((sub.origin, sp, sp if sub.submodule_search_locations is not None else mod))
    return sorted({rel(root, f) for f, _ in seen}), sorted(missing)


def main():
    req = json.load(sys.stdin)
    out = {}
    for s in req["scripts"]:
        files, missing = closure(req["root"], s)
        out[s] = {"closure": files, "missing": missing}
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


main()
