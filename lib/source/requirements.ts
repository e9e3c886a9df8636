/**
 * `missing-requirement`: a third-party module an agent imports that its image family's requirement
 * files do not install. Import names map to distributions for the common ones (`cv2` is
 * opencv-python); the others are taken to be their own distribution's name.
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { diag, type Diagnostic } from '../diagnostics.ts';
import type { SystemPlan } from '../plan/types.ts';
import type { ScriptFacts } from './tree.ts';
import { STDLIB } from './stdlib.ts';

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

/** A distribution name as PEP 503 compares them. */
export const normalName = (name: string) => name.toLowerCase().replace(/[-_.]+/g, '-');

/** Distributions a requirement file installs (following `-r other.txt` inside the root), by normal name. */
export function installedBy(root: string, file: string, seen = new Set<string>()): Set<string> {
  const out = new Set<string>();
  if (seen.has(file) || file.split('/').includes('..')) return out;
  seen.add(file);
  let text: string;
  try {
    text = readFileSync(join(root, file), 'utf8');
  } catch {
    return out;
  }
  for (const raw of text.split('\n')) {
    const lineText = raw.replace(/(^|\s)#.*$/, '').trim();
    const include = /^(?:-r|--requirement)\s*=?\s*(\S+)$/.exec(lineText);
    if (include)
      for (const d of installedBy(root, join(file, '..', include[1]!).split('\\').join('/'), seen)) out.add(d);
    const name = /^([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(lineText)?.[1];
    if (name && !lineText.startsWith('-')) out.add(normalName(name));
  }
  return out;
}

/** One warning per agent and module its family does not install (imports guarded by `except ImportError` are left out). */
export function requirementWarnings(
  plan: SystemPlan,
  source: { readonly facts: ReadonlyMap<string, ScriptFacts> },
  sourceRoot: string,
  cwd: string,
): Diagnostic[] {
  const ds: Diagnostic[] = [];
  const byFamily = new Map(plan.images.map((i) => [i.family, i]));
  const byFamilyInstalled = new Map<string, Set<string>>();
  for (const a of plan.agents) {
    const f = source.facts.get(`${a.machine}/${a.name}`);
    const image = byFamily.get(a.family);
    if (!f || !image) continue;
    if (!byFamilyInstalled.has(a.family))
      byFamilyInstalled.set(a.family, new Set(image.requirements.flatMap((r) => [...installedBy(sourceRoot, r)])));
    const have = byFamilyInstalled.get(a.family)!;
    const warned = new Set<string>();
    for (const imp of f.externalImports) {
      if (imp.optional || STDLIB.has(imp.module) || warned.has(imp.module)) continue;
      const dist = DISTRIBUTION_OF[imp.module] ?? imp.module;
      if (have.has(normalName(dist))) continue;
      warned.add(imp.module);
      const files = image.requirements.length ? image.requirements.join(', ') : 'no requirement files';
      ds.push(
        diag(
          'missing-requirement',
          'warning',
          `${a.name} imports ${imp.module}${dist !== imp.module ? ` (${dist})` : ''}, which image family '${a.family}' does not install (${files}); add ${dist} to its requirements`,
          { file: relative(cwd, join(sourceRoot, imp.file)) || imp.file, line: imp.line, column: 1, path: '' },
        ),
      );
    }
  }
  return ds;
}
