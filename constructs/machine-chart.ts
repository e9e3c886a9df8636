/** One machine's agents: workloads, their network policies, and the optional PDB, HPA and ServiceMonitor. */
import { Chart, type ChartProps } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { ServiceMonitor } from '../imports/monitoring.coreos.com.ts';
import { agentIndex } from '../lib/plan/agent-index.ts';
import type { PlannedAgent, SystemPlan } from '../lib/plan/types.ts';
import { AgentWorkload, agentLabels, agentSelector } from './agent-workload.ts';

export interface MachineChartProps extends ChartProps {
  readonly plan: SystemPlan;
  readonly machine: string;
  readonly addressesConfigMap: string;
  readonly secretName: string;
}

const tcp = (port: number): k8s.NetworkPolicyPort => ({ port: k8s.IntOrString.fromNumber(port), protocol: 'TCP' });

/** One machine's agents: workloads, their network policies, and the optional PDB, HPA and ServiceMonitor. */
export class MachineChart extends Chart {
  readonly workloads: readonly AgentWorkload[];

  constructor(scope: Construct, id: string, props: MachineChartProps) {
    super(scope, id, { ...props, namespace: props.plan.namespace, disableResourceNameHashes: true });
    const { plan, machine } = props;
    const system = plan.name;
    const byId = agentIndex(plan);
    const bus = plan.errorBus?.agent ? byId.get(plan.errorBus.agent) : undefined;
    const workloads: AgentWorkload[] = [];
    for (const agent of plan.agents.filter((a) => a.machine === machine)) {
      workloads.push(
        new AgentWorkload(this, `agent-${agent.id}`, {
          agent,
          system,
          user: plan.user,
          addressesConfigMap: props.addressesConfigMap,
          secretName: props.secretName,
          waitForDependencies: plan.kubernetes.waitForDependencies,
          ...(plan.kubernetes.runtimeClassName ? { runtimeClassName: plan.kubernetes.runtimeClassName } : {}),
        }),
      );
      this.networkPolicy(plan, agent, byId, bus);
      const labels = agentLabels(agent, system);
      const selector = agentSelector(agent, system);
      if (plan.kubernetes.podDisruptionBudgets && agent.replicas > 1) {
        new k8s.KubePodDisruptionBudget(this, `${agent.id}-pdb`, {
          metadata: { name: agent.id, labels },
          spec: { minAvailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: selector } },
        });
      }
      if (plan.kubernetes.autoscaling && agent.maxReplicas !== undefined && !agent.gpu) {
        new k8s.KubeHorizontalPodAutoscalerV2(this, `${agent.id}-hpa`, {
          metadata: { name: agent.id, labels },
          spec: {
            scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: agent.id },
            minReplicas: agent.replicas,
            maxReplicas: agent.maxReplicas,
            metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
          },
        });
      }
      if (plan.kubernetes.serviceMonitors && agent.metricsPort) {
        new ServiceMonitor(this, `${agent.id}-monitor`, {
          metadata: { name: agent.id, labels },
          spec: {
            selector: { matchLabels: selector },
            endpoints: [{ port: agent.metricsPort.name, path: '/metrics', interval: '30s' }],
          },
        });
      }
    }
    this.workloads = workloads;
  }

  /** Admits the agent's dependents (and every agent, for the error bus) and lets it reach its dependencies. */
  private networkPolicy(plan: SystemPlan, agent: PlannedAgent, byId: ReadonlyMap<string, PlannedAgent>, bus: PlannedAgent | undefined) {
    const system = plan.name;
    const selectorOf = (id: string) => ({ podSelector: { matchLabels: agentSelector(byId.get(id)!, system) } });
    const ingress: k8s.NetworkPolicyIngressRule[] = [];
    if (agent.dependents.length > 0) ingress.push({ from: agent.dependents.map(selectorOf), ports: agent.ports.map((p) => tcp(p.port)) });
    if (bus && bus.id === agent.id) ingress.push({ from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/part-of': system } } }], ports: [tcp(agent.servicePort.port)] });
    if (agent.metricsPort && plan.kubernetes.serviceMonitors) {
      // Prometheus pods of the one namespace the spec names (the label Kubernetes sets on every namespace).
      const namespaceSelector = { matchLabels: { 'kubernetes.io/metadata.name': plan.kubernetes.prometheusNamespace } };
      ingress.push({ from: [{ namespaceSelector, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } }], ports: [tcp(agent.metricsPort.port)] });
    }
    const egress: k8s.NetworkPolicyEgressRule[] = agent.dependencies.map((d) => ({ to: [selectorOf(d.id)], ports: byId.get(d.id)!.ports.map((p) => tcp(p.port)) }));
    if (bus && bus.id !== agent.id) egress.push({ to: [selectorOf(bus.id)], ports: [tcp(bus.servicePort.port)] });
    new k8s.KubeNetworkPolicy(this, `${agent.id}-netpol`, {
      metadata: { name: agent.id, labels: agentLabels(agent, system) },
      spec: { podSelector: { matchLabels: agentSelector(agent, system) }, policyTypes: ['Ingress', 'Egress'], ingress, egress },
    });
  }
}
