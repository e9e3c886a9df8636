/** NVIDIA device plugin time-slicing config: one entry per GPU machine, with as many replicas as GPU agents placed there. */
import { checkPlan } from './validate.ts';
import { Chart, type ChartProps } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { toYaml } from '../lib/contract/yaml.ts';
import { Construct } from 'constructs';
import type { SystemPlan } from '../lib/plan/types.ts';

export const DEVICE_PLUGIN_CONFIG_LABEL = 'nvidia.com/device-plugin.config';

export interface GpuSharingChartProps extends ChartProps {
  /** The system's plan (`planSystem`): its machines' GPUs and the agents placed on them. */
  readonly plan: SystemPlan;
  /** Namespace the device plugin runs in (it reads its ConfigMap from there). */
  readonly devicePluginNamespace: string;
  /** Name of the device plugin's ConfigMap (the plugin's `--config-file` source). */
  readonly configMapName: string;
}

/**
 * The device plugin's ConfigMap: key `<machine>` holds that node's time-slicing config, selected by
 * labelling the node `nvidia.com/device-plugin.config=<machine>`. Time-slicing isolates no memory:
 * the plan has already refused a node whose agents' VRAM exceeds its card.
 */
export class GpuSharingChart extends Chart {
  constructor(scope: Construct, id: string, props: GpuSharingChartProps) {
    checkPlan(props?.plan);
    super(scope, id, { ...props, namespace: props.devicePluginNamespace, disableResourceNameHashes: true });
    const data: Record<string, string> = {};
    for (const m of props.plan.machines) {
      const agents = m.gpus.reduce((n, g) => n + g.agents.length, 0);
      if (m.gpus.length === 0 || agents === 0) continue;
      const config = {
        version: 'v1',
        flags: { migStrategy: 'none' },
        // MPS gives each replica an equal share of the card's memory; time-slicing isolates none.
        sharing: {
          [m.sharing === 'mps' ? 'mps' : 'timeSlicing']: {
            renameByDefault: false,
            ...(m.sharing === 'mps' ? {} : { failRequestsGreaterThanOne: true }),
            resources: [{ name: 'nvidia.com/gpu', replicas: Math.max(...m.gpus.map((g) => g.agents.length), 1) }],
          },
        },
      };
      data[m.name] = toYaml(config);
    }
    new k8s.KubeConfigMap(this, 'config', {
      metadata: {
        name: props.configMapName,
        labels: { 'app.kubernetes.io/part-of': props.plan.name, 'app.kubernetes.io/managed-by': 'agent-infra' },
      },
      data,
    });
  }
}
