/** GPU wiring for one agent's Deployment: the one place that writes `nvidia.com/gpu`. */
import { ApiObject, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import type { PlannedGpu } from '../lib/plan/types.ts';
import { gpuProductValues } from '../lib/config/grammar.ts';

export const GPU_RESOURCE = 'nvidia.com/gpu';
export const GPU_PRODUCT_LABEL = 'nvidia.com/gpu.product';
export const MACHINE_LABEL = 'agent-infra/machine';

export { gpuProductLabel, gpuProductValues } from '../lib/config/grammar.ts';

export interface GpuWiringOptions {
  readonly machine: string;
  readonly gpu?: PlannedGpu;
  readonly runtimeClassName?: string;
  /** Index of the agent container in the pod spec. */
  readonly containerIndex?: number;
}

/**
 * Places the Deployment on its machine's node and, for a GPU agent, requests one GPU.
 *
 * The GPU count is patched in as a Quantity-shaped `{ value: 1 }`: cdk8s's typed conversion keeps only
 * each quantity's `.value`, so a plain `1` would silently synthesize `nvidia.com/gpu: null`.
 */
export function wireGpu(deployment: kplus.Deployment, opts: GpuWiringOptions): void {
  const machine = kplus.NodeLabelQuery.is(MACHINE_LABEL, opts.machine);
  const container = `/spec/template/spec/containers/${opts.containerIndex ?? 0}`;
  const api = ApiObject.of(deployment);
  if (!opts.gpu) {
    deployment.scheduling.attract(kplus.Node.labeled(machine));
    return;
  }
  deployment.scheduling.attract(
    kplus.Node.labeled(kplus.NodeLabelQuery.in(GPU_PRODUCT_LABEL, gpuProductValues(opts.gpu.model)), machine),
  );
  deployment.scheduling.tolerate(
    kplus.Node.tainted(kplus.NodeTaintQuery.exists(GPU_RESOURCE, { effect: kplus.TaintEffect.NO_SCHEDULE })),
  );
  const quantity = { value: 1 } as unknown as number;
  api.addJsonPatch(JsonPatch.add(`${container}/resources/limits/${GPU_RESOURCE.replace('/', '~1')}`, quantity));
  api.addJsonPatch(JsonPatch.add(`${container}/resources/requests/${GPU_RESOURCE.replace('/', '~1')}`, quantity));
  if (opts.runtimeClassName)
    api.addJsonPatch(JsonPatch.add('/spec/template/spec/runtimeClassName', opts.runtimeClassName));
}
