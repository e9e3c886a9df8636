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

/**
 * Distributions on the package index that provide a module of their own name (normalized), common in
 * agent systems. An import that is neither these nor in {@link DISTRIBUTION_OF} may as well be the
 * system's own code missing from the tree: the fix names both.
 */
const SAME_NAME_DISTRIBUTIONS: ReadonlySet<string> = new Set(
  [
    'accelerate',
    'aiofiles',
    'aiohttp',
    'anthropic',
    'boto3',
    'chromadb',
    'click',
    'datasets',
    'fastapi',
    'flask',
    'gputil',
    'grpcio',
    'h5py',
    'httpx',
    'jinja2',
    'jsonschema',
    'langchain',
    'librosa',
    'lz4',
    'matplotlib',
    'msgpack',
    'networkx',
    'nltk',
    'noisereduce',
    'numba',
    'numpy',
    'onnxruntime',
    'openai',
    'orjson',
    'pandas',
    'prometheus-client',
    'protobuf',
    'psutil',
    'pyarrow',
    'pydantic',
    'pynvml',
    'pyttsx3',
    'pyzmq',
    'redis',
    'requests',
    'rich',
    'safetensors',
    'scipy',
    'sounddevice',
    'soundfile',
    'spacy',
    'sqlalchemy',
    'structlog',
    'tenacity',
    'tiktoken',
    'tokenizers',
    'torch',
    'torchaudio',
    'torchvision',
    'tqdm',
    'transformers',
    'ujson',
    'uvicorn',
    'vosk',
    'webrtcvad',
    'websockets',
    'zstandard',
  ].map(normalName),
);

/** Whether the distribution that provides an import is known here (else it may be missing local code). */
const knownDistribution = (module: string) =>
  DISTRIBUTION_OF[module] !== undefined || SAME_NAME_DISTRIBUTIONS.has(normalName(module));

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
  // One cause per import line (a module a file imports), with the agents it reaches in each family.
  const causes = new Map<
    string,
    {
      module: string;
      dist: string;
      file: string;
      line: number;
      families: Map<string, { fatal: boolean; agents: string[]; keys: string[] }>;
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
      const key = `${imp.module} ${imp.file}:${imp.line}`;
      const c = causes.get(key) ?? { module: imp.module, dist, file: imp.file, line: imp.line, families: new Map() };
      const fam = c.families.get(a.family) ?? { fatal, agents: [], keys: [] };
      fam.agents.push(a.name);
      fam.keys.push(`${a.machine}/${a.name}`);
      c.families.set(a.family, fam);
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
    const families = [...c.families].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
    const all = families.flatMap(([, f]) => f.agents);
    const named = (agents: readonly string[]) => andList([...new Set(agents)].sort());
    const what = (family: string) => byFamily.get(family)!.what;
    const mod = `${c.module}${c.dist !== c.module ? ` (${c.dist})` : ''}`;
    const verb = new Set(all).size > 1 ? 'import' : 'imports';
    const head =
      families.length === 1
        ? `${named(all)} ${verb} ${mod}, which image family '${families[0]![0]}' does not install (${what(families[0]![0])})`
        : `${andList(families.map(([family, f]) => `${named(f.agents)} (family '${family}': ${what(family)})`))} import ${mod}, which their image families do not install`;
    const agents = [...new Set(families.flatMap(([, f]) => f.keys))].sort();
    const stops = [...new Set(families.flatMap(([, f]) => (f.fatal ? f.keys : [])))].sort();
    // protoc's output (`relay_pb2`, `relay_pb2_grpc`) comes from no package index: it is generated.
    if (/_pb2(_grpc)?$/.test(c.module)) {
      const text = `${named(all)} ${verb} ${c.module}, code that protoc generates from a .proto file and that is not in the source tree; generate it (python -m grpc_tools.protoc) where the code imports it from, before the images are built`;
      return stops.length
        ? { ...diag('missing-requirement', 'error', text, at), stops, agents }
        : { ...diag('missing-requirement', 'warning', text, at), agents };
    }
    const where =
      families.length === 1
        ? "the family's requirements"
        : `the requirements of ${andList(families.map(([f]) => `'${f}'`))}`;
    const fix = knownDistribution(c.module)
      ? `add ${c.dist} to ${where}`
      : `add the distribution that provides ${c.module} to ${where}, or its code to the source tree if it is the system's own`;
    if (stops.length === 0) return { ...diag('missing-requirement', 'warning', `${head}; ${fix}`, at), agents };
    return {
      ...diag(
        'missing-requirement',
        'error',
        `${head}: ${new Set(all).size > 1 ? 'they cannot' : 'it cannot'} start without it; ${fix}`,
        at,
      ),
      stops,
      agents,
    };
  });
  return { diagnostics, cannotStart };
}
