/** Emits the Kubernetes manifests: one file per chart of the system plus a kustomization, as text. Pure. */
import { App } from 'cdk8s';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import {
  AgentSystem,
  DEVICE_PLUGIN_CONFIGMAP,
  DEVICE_PLUGIN_NAMESPACE,
  secretName,
} from '../../constructs/agent-system.ts';
import type { SystemPlan } from '../plan/types.ts';
import { headerLine, toYaml, toYamlDocuments, xmlHeader } from '../contract/yaml.ts';
import { packageRoot } from '../package-root.ts';

/** `k8s/<chart>.yaml` for each chart of the {@link AgentSystem} and `k8s/kustomization.yaml`, each starting with the header line. */
export function emitKubernetes(plan: SystemPlan, input: string): Map<string, string> {
  const { charts } = new AgentSystem(new App({ outdir: '/nonexistent' }), plan.name, { plan });
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
  files.set('k8s/README.md', k8sReadme(plan, xmlHeader(input)));
  return files;
}

let readmeTemplate: Handlebars.TemplateDelegate | undefined;

/** The operators' notes beside the manifests (`templates/k8s-README.md.hbs`): node labels, the device plugin, the Secret, the apply. */
export function k8sReadme(plan: SystemPlan, header: string): string {
  // strict: a missing context field is an error, not an empty string; noEscape: Markdown, not HTML.
  readmeTemplate ??= Handlebars.create().compile(
    readFileSync(join(packageRoot(), 'templates', 'k8s-README.md.hbs'), 'utf8'),
    { strict: true, noEscape: true },
  );
  const gpuAgents = (m: SystemPlan['machines'][number]) => m.gpus.reduce((n, g) => n + g.agents.length, 0);
  const gpuMachines = plan.machines
    .filter((m) => gpuAgents(m) > 0)
    .map((m) => ({
      name: m.name,
      sharing: m.sharing,
      replicas: Math.max(...m.gpus.map((g) => g.agents.length), 1),
    }));
  return readmeTemplate({
    header,
    name: plan.name,
    namespace: plan.namespace,
    machines: plan.machines.map((m) => ({
      name: m.name,
      agents: m.agents.length,
      node: m.node ?? `<${m.name}-node>`,
      gpu: gpuAgents(m) > 0,
    })),
    anyGpu: gpuMachines.length > 0,
    gpuMachines,
    devicePluginNamespace: DEVICE_PLUGIN_NAMESPACE,
    devicePluginConfig: DEVICE_PLUGIN_CONFIGMAP,
    secretName: secretName(plan),
    secrets: plan.secrets,
    serviceMonitors: plan.kubernetes.serviceMonitors,
    prometheusNamespace: plan.kubernetes.prometheusNamespace,
  });
}
