/** Emits the Kubernetes manifests: one file per chart of the system plus a kustomization, as text. Pure. */
import { App } from 'cdk8s';
import { AgentSystem } from '../../constructs/agent-system.ts';
import type { SystemPlan } from '../plan/types.ts';
import { headerLine, toYaml, toYamlDocuments } from '../contract/yaml.ts';

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
  return files;
}
