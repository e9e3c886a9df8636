/**
 * The cdk8s app: `npx cdk8s synth` runs this (see cdk8s.yaml). It loads the spec (the embedded example
 * unless AGENT_INFRA_SPEC names another), plans, and writes dist/{k8s,compose,docker,reports}. It uses
 * only agent-infra's public API (lib/index.ts, the package's main export). On a config error nothing is
 * written.
 */
import { lstatSync, rmSync, unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { printSynthResult, synthesize } from './lib/index.ts';

const spec = process.env['AGENT_INFRA_SPEC'] ?? 'examples/two-pc/agent-infra.yaml';
const out = process.env['AGENT_INFRA_OUT'] ?? 'dist';
const cdk8sOutdir = process.env['CDK8S_OUTDIR'];
const code = printSynthResult(await synthesize({ spec, out, ...(cdk8sOutdir ? { cdk8sOutdir } : {}) }));
if (code !== 0 && cdk8sOutdir) {
  // The cdk8s CLI answers a failing app with its own stack trace, but reports an app that created no
  // output folder with one line and exit 1: under the CLI, fail that way. Its output folder is the
  // output root (cdk8s.yaml), whose link it removed before the run; the version it showed is kept
  // beside it, and the next run links it again (lib/write.ts).
  if (resolve(cdk8sOutdir) !== resolve(out)) rmSync(cdk8sOutdir, { recursive: true, force: true });
  else if (lstatSync(out, { throwIfNoEntry: false })?.isSymbolicLink()) unlinkSync(out);
  process.exitCode = 0;
} else {
  process.exitCode = code;
}
