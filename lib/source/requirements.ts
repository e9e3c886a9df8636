/**
 * `missing-requirement`: a third-party module an agent imports that its image family's requirement
 * files do not install. Import names map to distributions for the common ones (`cv2` is
 * opencv-python); the others are taken to be their own distribution's name.
 */
import { join, relative } from 'node:path';
import { andList, diag, type Diagnostic } from '../diagnostics.ts';
import type { StartProblem, SystemPlan } from '../plan/types.ts';
import { debianPythonPackages, declaresInstalls, type FamilyInstalls } from '../config/spec.ts';
import { startStep, type ScriptFacts } from './tree.ts';
import { STDLIB } from './stdlib.ts';
import { normalName, readRequirementTree } from './requirement-files.ts';

/** Import name -> the distribution that provides it, where the two differ. */
export const DISTRIBUTION_OF: Readonly<Record<string, string>> = {
  cv2: 'opencv-python',
  yaml: 'pyyaml',
  zmq: 'pyzmq',
  sklearn: 'scikit-learn',
  skimage: 'scikit-image',
  PIL: 'pillow',
  bs4: 'beautifulsoup4',
  dotenv: 'python-dotenv',
  grpc: 'grpcio',
  jwt: 'pyjwt',
  dateutil: 'python-dateutil',
  serial: 'pyserial',
  attr: 'attrs',
  Crypto: 'pycryptodome',
  OpenSSL: 'pyopenssl',
  pkg_resources: 'setuptools',
  faiss: 'faiss-cpu',
  llama_cpp: 'llama-cpp-python',
  whisper: 'openai-whisper',
  pyaudio: 'pyaudio',
  nats: 'nats-py',
  docx: 'python-docx',
  fitz: 'pymupdf',
  websocket: 'websocket-client',
  multipart: 'python-multipart',
  jose: 'python-jose',
  psycopg2: 'psycopg2-binary',
  magic: 'python-magic',
  speech_recognition: 'speechrecognition',
  google: 'protobuf',
  Levenshtein: 'python-levenshtein',
  sentence_transformers: 'sentence-transformers',
  huggingface_hub: 'huggingface-hub',
};

/** Debian's python3-<name> packages whose <name> is not the module they provide. */
export const DEBIAN_MODULES: Readonly<Record<string, string>> = {
  opencv: 'cv2',
  pil: 'PIL',
  grpcio: 'grpc',
  protobuf: 'google',
  serial: 'serial',
  dotenv: 'dotenv',
  levenshtein: 'Levenshtein',
};

export { normalName };

/** Distributions a requirement file installs (following `-r other.txt` inside the root), by normal name. */
export function installedBy(root: string, file: string): Set<string> {
  const tree = readRequirementTree(root, [file]);
  const out = new Set<string>();
  const seen = new Set<string>();
  const walk = (f: string) => {
    if (seen.has(f)) return;
    seen.add(f);
    const r = tree.get(f);
    for (const q of r?.requirements ?? []) out.add(q.name);
    for (const inc of r?.includes ?? []) if (!inc.constraint) walk(inc.file);
  };
  walk(file);
  return out;
}

/** What an image family installs: its requirement files' distributions and, when its virtual environment sees them, Debian's `python3-*` packages. */
function familyInstalls(image: SystemPlan['images'][number], family: FamilyInstalls | undefined, sourceRoot: string) {
  const have = new Set(image.requirements.flatMap((r) => [...installedBy(sourceRoot, r)]));
  const debian = debianPythonPackages(family);
  // Debian names a module's package python3-<name>: python3-zmq is import zmq, python3-prometheus-client
  // prometheus_client; the few that differ are in DEBIAN_MODULES.
  for (const p of debian) {
    const name = p.slice('python3-'.length);
    have.add(normalName(DEBIAN_MODULES[name] ?? name));
  }
  const what = [
    image.requirements.length ? image.requirements.join(', ') : 'no requirement files',
    ...(debian.length ? [`Debian's ${debian.join(', ')}`] : []),
  ].join('; ');
  return { have, what, declared: declaresInstalls({ ...family, requirements: image.requirements }) };
}

/**
 * Third-party modules the agents import that their image family does not install, one diagnostic per
 * import line and family naming every agent it reaches. Where the family says what it installs
 * (requirement files, or Debian's python3 packages it sees) and nothing guards or defers the import,
 * the agent cannot start: an error that stops those agents (`cannotStart`). A family that says nothing
 * gets warnings: what it will install is not known yet.
 */
export function requirementCauses(
  plan: SystemPlan,
  families: Readonly<Record<string, FamilyInstalls>>,
  source: { readonly facts: ReadonlyMap<string, ScriptFacts> },
  sourceRoot: string,
  cwd: string,
): { diagnostics: Diagnostic[]; cannotStart: Map<string, StartProblem> } {
  const byFamily = new Map(plan.images.map((i) => [i.family, familyInstalls(i, families[i.family], sourceRoot)]));
  const causes = new Map<
    string,
    {
      module: string;
      dist: string;
      family: string;
      file: string;
      line: number;
      fatal: boolean;
      agents: string[];
      keys: string[];
    }
  >();
  const cannotStart = new Map<string, StartProblem>();
  for (const a of plan.agents) {
    const f = source.facts.get(`${a.machine}/${a.name}`);
    const installs = byFamily.get(a.family);
    if (!f || !installs) continue;
    const seen = new Set<string>();
    for (const imp of f.externalImports) {
      if (imp.optional || imp.outcome === 'handled' || STDLIB.has(imp.module) || seen.has(imp.module)) continue;
      const dist = DISTRIBUTION_OF[imp.module] ?? imp.module;
      if (installs.have.has(normalName(dist)) || installs.have.has(normalName(imp.module))) continue;
      seen.add(imp.module);
      const fatal = installs.declared && imp.outcome === 'fatal';
      const key = `${imp.module} ${a.family} ${imp.file}:${imp.line}`;
      const c = causes.get(key) ?? {
        module: imp.module,
        dist,
        family: a.family,
        file: imp.file,
        line: imp.line,
        fatal,
        agents: [],
        keys: [],
      };
      c.agents.push(a.name);
      c.keys.push(`${a.machine}/${a.name}`);
      causes.set(key, c);
      const step = startStep(f, imp);
      const before = cannotStart.get(`${a.machine}/${a.name}`);
      if (fatal && (!before || step < (before.step ?? Number.MAX_SAFE_INTEGER)))
        cannotStart.set(`${a.machine}/${a.name}`, {
          step,
          code: 'missing-requirement',
          message: `No module named '${imp.module}': image family '${a.family}' does not install ${dist}`,
          file: imp.file,
          line: imp.line,
        });
    }
  }
  const diagnostics = [...causes.values()].map((c) => {
    const at = { file: relative(cwd, join(sourceRoot, c.file)) || c.file, line: c.line, column: 1, path: '' };
    const who = andList([...new Set(c.agents)].sort());
    const verb = c.agents.length > 1 ? 'import' : 'imports';
    const head = `${who} ${verb} ${c.module}${c.dist !== c.module ? ` (${c.dist})` : ''}, which image family '${c.family}' does not install (${byFamily.get(c.family)!.what})`;
    const agents = [...new Set(c.keys)].sort();
    if (!c.fatal)
      return { ...diag('missing-requirement', 'warning', `${head}; add ${c.dist} to its requirements`, at), agents };
    return {
      ...diag(
        'missing-requirement',
        'error',
        `${head}: ${c.agents.length > 1 ? 'they cannot' : 'it cannot'} start without it; add ${c.dist} to the family's requirements`,
        at,
      ),
      stops: agents,
      agents,
    };
  });
  return { diagnostics, cannotStart };
}
