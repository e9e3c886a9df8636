/** A whole agent system in a cdk8s app: the system chart, one chart per machine and the GPU sharing chart. */
import type { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import type { Diagnostic } from '../lib/diagnostics.ts';
import { AgentSystemError, checkPlan } from './validate.ts';
import type { PipelineResult } from '../lib/pipeline.ts';
import type { SystemPlan } from '../lib/plan/types.ts';
import type { AgentWorkload } from './agent-workload.ts';
import { GpuSharingChart } from './gpu-sharing-chart.ts';
import { MachineChart } from './machine-chart.ts';
import { SystemChart } from './system-chart.ts';

/** The ConfigMap of the machines' address variables (`MAIN_PC_IP` -> `mainpc.<namespace>.svc`). */
export const ADDRESSES_CONFIGMAP = 'machine-addresses';
/** The ConfigMap of every agent's `<service>.<namespace>.svc:<port>`. */
export const ENDPOINTS_CONFIGMAP = 'service-endpoints';
export const DEVICE_PLUGIN_NAMESPACE = 'nvidia-device-plugin';
export const DEVICE_PLUGIN_CONFIGMAP = 'nvidia-device-plugin-config';

/** The secret that holds the system's secret variables; generated manifests only refer to it. */
export const secretName = (plan: SystemPlan) => `${plan.name}-secrets`;

export { AgentSystemError } from './validate.ts';

/** The plan of a pipeline run, or an {@link AgentSystemError} with its errors. */
export function planOf(r: PipelineResult): SystemPlan {
  if (!r.ok) throw new AgentSystemError(r.diagnostics);
  return r.plan;
}

export interface AgentSystemOptions {
  /**
   * Name of the ConfigMap of the machines' address variables.
   * @default 'machine-addresses'
   */
  readonly addressesConfigMap?: string;
  /**
   * Name of the ConfigMap of the agents' endpoints.
   * @default 'service-endpoints'
   */
  readonly endpointsConfigMap?: string;
  /**
   * Name of the Secret the agents' secret variables are read from (the manifests refer to it; it is never written).
   * @default '<system name>-secrets'
   */
  readonly secretName?: string;
  /**
   * Namespace of the NVIDIA device plugin, where the GPU sharing ConfigMap goes.
   * @default 'nvidia-device-plugin'
   */
  readonly devicePluginNamespace?: string;
  /**
   * Name of the device plugin's ConfigMap.
   * @default 'nvidia-device-plugin-config'
   */
  readonly devicePluginConfigMap?: string;
}

export interface AgentSystemProps extends AgentSystemOptions {
  /** The plan every chart is built from: made by `planSystem` (or `agentSystemFromSpec` loads and plans a spec). */
  readonly plan: SystemPlan;
  /**
   * What planning said (warnings and notes), kept on the construct for the app to print.
   * @default - none
   */
  readonly diagnostics?: readonly Diagnostic[];
}

/**
 * A whole agent system: the system chart (Namespace, ConfigMaps, default-deny), one {@link MachineChart}
 * per machine with its agents' workloads, and the GPU sharing chart when an agent uses a GPU. Charts
 * are children of this construct, so a cdk8s app can hold several systems and its own charts beside.
 * A plan that is not one throws an {@link AgentSystemError} naming each field; nothing is built.
 */
export class AgentSystem extends Construct {
  /** The plan every chart was built from. */
  readonly plan: SystemPlan;
  /** Warnings and notes of planning, as given in props. */
  readonly diagnostics: readonly Diagnostic[];
  readonly systemChart: SystemChart;
  readonly machineCharts: readonly MachineChart[];
  /** @default - none when no agent uses a GPU */
  readonly gpuSharingChart?: GpuSharingChart;

  constructor(scope: Construct, id: string, props: AgentSystemProps) {
    super(scope, id);
    checkPlan(props?.plan);
    this.plan = props.plan;
    this.diagnostics = props.diagnostics ?? [];
    const plan = this.plan;
    const addressesConfigMap = props.addressesConfigMap ?? ADDRESSES_CONFIGMAP;
    this.systemChart = new SystemChart(this, 'system', {
      plan,
      addressesConfigMap,
      endpointsConfigMap: props.endpointsConfigMap ?? ENDPOINTS_CONFIGMAP,
    });
    this.machineCharts = plan.machines.map(
      (m) =>
        new MachineChart(this, m.name, {
          plan,
          machine: m.name,
          addressesConfigMap,
          secretName: props.secretName ?? secretName(plan),
        }),
    );
    if (plan.machines.some((m) => m.gpus.some((g) => g.agents.length > 0))) {
      this.gpuSharingChart = new GpuSharingChart(this, 'gpu-sharing', {
        plan,
        devicePluginNamespace: props.devicePluginNamespace ?? DEVICE_PLUGIN_NAMESPACE,
        configMapName: props.devicePluginConfigMap ?? DEVICE_PLUGIN_CONFIGMAP,
      });
    }
  }

  /** Every chart of the system, in the order they are written. */
  get charts(): readonly Chart[] {
    return [this.systemChart, ...this.machineCharts, ...(this.gpuSharingChart ? [this.gpuSharingChart] : [])];
  }

  /** The chart of machine `name`; throws when the system has no such machine. */
  machine(name: string): MachineChart {
    const c = this.machineCharts.find((m) => m.node.id === name);
    if (!c)
      throw new Error(
        `the system has no machine '${name}' (it has ${this.machineCharts.map((m) => m.node.id).join(', ')})`,
      );
    return c;
  }

  /** The workload of agent `name` (its config name, or its DNS name); throws when no agent has it. */
  workload(name: string): AgentWorkload {
    for (const m of this.machineCharts) {
      const w = m.workloads.find((x) => x.agent.name === name || x.agent.id === name);
      if (w) return w;
    }
    throw new Error(`the system has no agent '${name}'`);
  }
}
