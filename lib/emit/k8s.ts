/** Emits the Kubernetes manifests: one file per chart plus a kustomization, as text. Pure. */
import { App, Chart } from 'cdk8s';
import { GpuSharingChart, MachineChart, SystemChart } from '../../constructs/index.ts';
import type { SystemPlan } from '../plan/types.ts';
import { headerLine, toYaml, toYamlDocuments } from './yaml.ts';

export const ADDRESSES_CONFIGMAP = 'machine-addresses';
export const ENDPOINTS_CONFIGMAP = 'service-endpoints';
export const DEVICE_PLUGIN_NAMESPACE = 'nvidia-device-plugin';
export const DEVICE_PLUGIN_CONFIGMAP = 'nvidia-device-plugin-config';

/** The secret that holds the system's secret variables; generated manifests only refer to it. */
export const secretName = (plan: SystemPlan) => `${plan.name}-secrets`;

/** Builds the cdk8s app for a plan: the system chart, one chart per machine, and the GPU sharing chart. */
export function buildApp(plan: SystemPlan): { app: App; charts: Chart[] } {
  const app = new App({ outdir: '/nonexistent' });
  const charts: Chart[] = [new SystemChart(app, 'system', { plan, addressesConfigMap: ADDRESSES_CONFIGMAP, endpointsConfigMap: ENDPOINTS_CONFIGMAP })];
  for (const m of plan.machines) {
    charts.push(new MachineChart(app, m.name, { plan, machine: m.name, addressesConfigMap: ADDRESSES_CONFIGMAP, secretName: secretName(plan) }));
  }
  if (plan.machines.some((m) => m.gpus.some((g) => g.agents.length > 0))) {
    charts.push(new GpuSharingChart(app, 'gpu-sharing', { plan, devicePluginNamespace: DEVICE_PLUGIN_NAMESPACE, configMapName: DEVICE_PLUGIN_CONFIGMAP }));
  }
  return { app, charts };
}

/** `k8s/<chart>.yaml` for each chart and `k8s/kustomization.yaml`, each starting with the header line. */
export function emitKubernetes(plan: SystemPlan, input: string): Map<string, string> {
  const { charts } = buildApp(plan);
  const files = new Map<string, string>();
  const header = `${headerLine(input)}\n`;
  for (const c of charts) files.set(`k8s/${c.node.id}.yaml`, header + toYamlDocuments(c.toJson()));
  files.set(
    'k8s/kustomization.yaml',
    header +
      toYaml({
        apiVersion: 'kustomize.config.k8s.io/v1beta1',
        kind: 'Kustomization',
        resources: charts.map((c) => `${c.node.id}.yaml`),
      }),
  );
  return files;
}
