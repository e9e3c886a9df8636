/** Reading synthesized Kubernetes YAML back, and validating it with the Kubernetes JSON schemas. */
import { parseAllDocuments } from 'yaml';

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
};

export function parseManifests(files: ReadonlyMap<string, string>): K8sObject[] {
  const out: K8sObject[] = [];
  for (const [name, text] of [...files].filter(
    ([n]) => n.startsWith('k8s/') && n.endsWith('.yaml') && !n.endsWith('kustomization.yaml'),
  )) {
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length) throw new Error(`${name}: ${doc.errors[0]!.message}`);
      out.push(doc.toJS() as K8sObject);
    }
  }
  return out;
}

/** The kubernetes-models class for an object, from its apiVersion and kind. */
async function modelFor(apiVersion: string, kind: string): Promise<new (o: unknown) => { validate(): void }> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (group === 'monitoring.coreos.com')
    return (await import(`@kubernetes-models/prometheus-operator/monitoring.coreos.com/${version}/${kind}`))[kind];
  const path = group === '' ? `kubernetes-models/${version}/${kind}` : `kubernetes-models/${group}/${version}/${kind}`;
  return (await import(path))[kind];
}

/** Validates every object against its schema; returns the problems, empty when all are valid. */
export async function validateAll(objects: readonly K8sObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const o of objects) {
    try {
      const Model = await modelFor(o.apiVersion, o.kind);
      new Model(o).validate();
    } catch (e) {
      problems.push(`${o.kind}/${o.metadata?.name}: ${(e as Error).message}`);
    }
  }
  return problems;
}

/** Every path in a value whose value is null or undefined. */
export function nullPaths(v: unknown, path = ''): string[] {
  if (v === null || v === undefined) return [path];
  if (Array.isArray(v)) return v.flatMap((x, i) => nullPaths(x, `${path}[${i}]`));
  if (typeof v === 'object') return Object.entries(v as object).flatMap(([k, x]) => nullPaths(x, `${path}.${k}`));
  return [];
}
