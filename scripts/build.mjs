// `npm run build` (run by `npm install` through `prepare`): compiles the TypeScript sources to build/
// with tsc (the cdk8s app, the constructs and their declarations), then bundles the command line into
// build/cli/ so that a command starts by loading a few files instead of a few hundred modules (the yaml
// and zod packages are bundled in; the Kubernetes and Docker libraries, loaded only by the commands
// that use them, stay packages). Writes build/.built last: bin/run.mjs uses build/ only when it is there
// and newer than every source.
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');
const out = join(root, 'build');
rmSync(out, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')],
  { stdio: 'inherit' },
);

const pkg = JSON.parse((await import('node:fs')).readFileSync(join(root, 'package.json'), 'utf8'));
const bundled = new Set(['yaml', 'zod']);
await build({
  entryPoints: [join(root, 'lib', 'cli', 'index.ts')],
  outdir: join(out, 'cli'),
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outExtension: { '.js': '.mjs' },
  external: [...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies ?? {})].filter(
    (d) => !bundled.has(d),
  ),
  // The yaml package is CommonJS and requires Node's modules: give the bundle a require.
  banner: {
    js: "import { createRequire as createRequireOfBundle } from 'node:module'; const require = createRequireOfBundle(import.meta.url);",
  },
  logLevel: 'warning',
});
writeFileSync(join(out, '.built'), '');
