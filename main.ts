/**
 * The cdk8s app: `npx cdk8s synth` runs this (see cdk8s.yaml). It loads the spec (the embedded example
 * unless AGENT_INFRA_SPEC names another), plans, and writes dist/{k8s,compose,docker,reports}; the
 * Kubernetes manifests also go to CDK8S_OUTDIR for the cdk8s CLI. On a config error nothing is written.
 */
import { synthesize } from './lib/synth.ts';

const spec = process.env['AGENT_INFRA_SPEC'] ?? 'examples/two-pc/agent-infra.yaml';
process.exitCode = synthesize({
  spec,
  out: process.env['AGENT_INFRA_OUT'] ?? 'dist',
  ...(process.env['CDK8S_OUTDIR'] ? { cdk8sOutdir: process.env['CDK8S_OUTDIR'] } : {}),
});
