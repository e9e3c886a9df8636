/** What the whole system shares: Namespace, address and endpoint ConfigMaps, default-deny and DNS policies. */
import { checkPlan } from './validate.ts';
import { ApiObject, Chart, type ChartProps } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import type { SystemPlan } from '../lib/plan/types.ts';
import { alertRules } from '../lib/emit/prometheus.ts';

export interface SystemChartProps extends ChartProps {
  /** The system's plan (`planSystem`). */
  readonly plan: SystemPlan;
  /** Name of the ConfigMap of the machines' address variables (`MAIN_PC_IP` -> `mainpc.<namespace>.svc`). */
  readonly addressesConfigMap: string;
  /** Name of the ConfigMap of every agent's `<service>.<namespace>.svc:<port>`. */
  readonly endpointsConfigMap: string;
}

/** What the whole system shares: Namespace, address and endpoint ConfigMaps, default-deny and DNS policies. */
export class SystemChart extends Chart {
  constructor(scope: Construct, id: string, props: SystemChartProps) {
    checkPlan(props?.plan);
    super(scope, id, { ...props, namespace: props.plan.namespace, disableResourceNameHashes: true });
    const { plan } = props;
    const labels = { 'app.kubernetes.io/part-of': plan.name, 'app.kubernetes.io/managed-by': 'agent-infra' };
    new k8s.KubeNamespace(this, 'namespace', {
      metadata: { name: plan.namespace, labels: { ...labels, 'pod-security.kubernetes.io/enforce': 'restricted' } },
    });
    // The machines' address variables, which the agents' code reads: each names the machine's Service,
    // which routes every port of the machine's agents to the pod that binds it (see MachineChart).
    const addresses: Record<string, string> = {};
    for (const m of plan.machines) for (const v of m.addressVariables) addresses[v] = `${m.name}.${plan.namespace}.svc`;
    new k8s.KubeConfigMap(this, 'addresses', {
      metadata: { name: props.addressesConfigMap, labels },
      data: sortedRecord(addresses),
    });
    const endpoints: Record<string, string> = {};
    for (const a of plan.agents) endpoints[a.id] = `${a.id}.${plan.namespace}.svc:${a.servicePort.port}`;
    new k8s.KubeConfigMap(this, 'endpoints', {
      metadata: { name: props.endpointsConfigMap, labels },
      data: sortedRecord(endpoints),
    });
    // The alert rules of the compose layouts, for the Prometheus Operator (beside the ServiceMonitors).
    if (plan.kubernetes.serviceMonitors)
      new ApiObject(this, 'alerts', {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PrometheusRule',
        metadata: { name: `${plan.name}-alerts`, labels },
        spec: { groups: alertRules(plan, 'kubernetes') },
      });
    new k8s.KubeNetworkPolicy(this, 'default-deny', {
      metadata: { name: 'default-deny', labels },
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    });
    new k8s.KubeNetworkPolicy(this, 'allow-dns', {
      metadata: { name: 'allow-dns', labels },
      spec: {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [
          {
            to: [
              {
                namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
                podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
              },
            ],
            ports: [
              { port: k8s.IntOrString.fromNumber(53), protocol: 'UDP' },
              { port: k8s.IntOrString.fromNumber(53), protocol: 'TCP' },
            ],
          },
        ],
      },
    });
  }
}

function sortedRecord(r: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(r).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}
