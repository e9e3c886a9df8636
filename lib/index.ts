/**
 * agent-infra's public API, the package's main export: constructs for a cdk8s app of one's own, and the
 * functions behind the command line (load, plan, synthesize). Everything else is internal.
 */
import type { Construct } from 'constructs';
import { AgentSystem, planOf, type AgentSystemOptions } from '../constructs/agent-system.ts';
import { runPipeline, runPipelineAsync, type PipelineResult } from './pipeline.ts';
import type { LoadOptions } from './config/load.ts';

export {
  AgentSystem,
  AgentSystemError,
  type AgentSystemOptions,
  type AgentSystemProps,
  ADDRESSES_CONFIGMAP,
  ENDPOINTS_CONFIGMAP,
  DEVICE_PLUGIN_NAMESPACE,
  DEVICE_PLUGIN_CONFIGMAP,
  secretName,
} from '../constructs/agent-system.ts';
export { AgentWorkload, type AgentWorkloadOptions, type AgentWorkloadProps } from '../constructs/agent-workload.ts';
export { MachineChart, type MachineChartProps, LOCAL_STORAGE_CLASS } from '../constructs/machine-chart.ts';
export { SystemChart, type SystemChartProps } from '../constructs/system-chart.ts';
export { GpuSharingChart, type GpuSharingChartProps } from '../constructs/gpu-sharing-chart.ts';
export { loadSystem, type LoadOptions, type LoadedSystem, type MachineFile } from './config/load.ts';
export { DeploymentSpecSchema, type DeploymentSpec } from './config/spec.ts';
export { formatDiagnostic, type Diagnostic, type DiagnosticCode, type Severity } from './diagnostics.ts';
export type { PipelineResult } from './pipeline.ts';
export type { MachinePlan, PlannedAgent, PlannedPort, SystemPlan } from './plan/types.ts';
export { synthesize, OUTPUTS, type Output, type SynthOptions, type SynthResult } from './synth.ts';
export { printSynthResult } from './cli/synth.ts';

/**
 * Loads and plans a system, reading its agents' code when the spec (or `source`) names a source tree.
 * Resolves to the whole result: the plan, every diagnostic, and what the code does. With
 * `throwOnError` (the default) a system with errors rejects with an {@link AgentSystemError}.
 */
export async function planSystem(
  options: LoadOptions & { readonly throwOnError?: boolean } = {},
): Promise<PipelineResult> {
  const r = await runPipelineAsync({ spec: 'agent-infra.yaml', ...options });
  if (options.throwOnError !== false) planOf(r);
  return r;
}

/** {@link planSystem} for a system without a source tree, synchronously (what {@link agentSystemFromSpec} runs). */
export function planSystemSync(options: LoadOptions & { readonly throwOnError?: boolean } = {}): PipelineResult {
  const r = runPipeline({ spec: 'agent-infra.yaml', ...options });
  if (options.throwOnError !== false) planOf(r);
  return r;
}

/**
 * An {@link AgentSystem} from a spec: loads and plans it (synchronously: a spec without a source tree;
 * one with a source tree is planned with `await planSystem(...)` and its plan given to `new
 * AgentSystem`). A spec with errors throws an {@link AgentSystemError} listing them; nothing is built.
 */
export function agentSystemFromSpec(
  scope: Construct,
  id: string,
  props: LoadOptions & AgentSystemOptions = {},
): AgentSystem {
  const { spec, machines, cwd, specText, source, ...options } = props;
  const r = planSystemSync({
    ...(spec ? { spec } : {}),
    ...(machines ? { machines } : {}),
    ...(cwd ? { cwd } : {}),
    ...(specText !== undefined ? { specText } : {}),
    ...(source ? { source } : {}),
  });
  return new AgentSystem(scope, id, { ...options, plan: r.plan, diagnostics: r.diagnostics });
}
