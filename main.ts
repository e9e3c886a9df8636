/**
 * The cdk8s app: `npx cdk8s synth` runs this (see cdk8s.yaml). It loads the spec (the embedded example
 * unless AGENT_INFRA_SPEC names another), plans, and writes dist/{k8s,compose,docker,reports}; the
 * Kubernetes manifests also go to CDK8S_OUTDIR for the cdk8s CLI. On a config error nothing is written.
 */
import { rmSync } from 'node:fs';
import { printSynthResult } from './lib/cli/synth.ts';
import { synthesize } from './lib/synth.ts';

const spec = process.env['AGENT_INFRA_SPEC'] ?? 'examples/two-pc/agent-infra.yaml';
const cdk8sOutdir = process.env['CDK8S_OUTDIR'];
const code = printSynthResult(await synthesize({ spec, out: process.env['AGENT_INFRA_OUT'] ?? 'dist', ...(cdk8sOutdir ? { cdk8sOutdir } : {}) }));
if (code !== 0 && cdk8sOutdir) {
  // The cdk8s CLI answers a failing app with its own stack trace, but reports an app that created no
  // output folder with one line and exit 1: under the CLI, fail that way.
  rmSync(cdk8sOutdir, { recursive: true, force: true });
  process.exitCode = 0;
} else {
  process.exitCode = code;
}
