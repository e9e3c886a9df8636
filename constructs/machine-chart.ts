/** One machine's agents: workloads, their network policies, and the optional PDB, HPA and ServiceMonitor. */
import { Chart, JsonPatch, type ChartProps } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { ServiceMonitor } from '../imports/monitoring.coreos.com.ts';
import { agentIndex, machineOf } from '../lib/plan/agent-index.ts';
import type { MachinePlan, PlannedAgent, SystemPlan } from '../lib/plan/types.ts';

/** The storage class of the `local` PersistentVolumes made for host folders (no provisioner binds it). */
export const LOCAL_STORAGE_CLASS = 'agent-infra-local';
import { AgentWorkload, agentLabels, agentSelector, containerPortName } from './agent-workload.ts';
import { MACHINE_LABEL } from './gpu.ts';
import { InfrastructureService, serviceSelector } from './infrastructure.ts';
import { startupConfigDigest, startupConfigText } from '../lib/contract/startup-config.ts';
import { checkMachine, checkPlan } from './validate.ts';

export interface MachineChartProps extends ChartProps {
  /** The system's plan (`planSystem`); the chart builds what it says of `machine`. */
  readonly plan: SystemPlan;
  /** The machine's name in the plan. */
  readonly machine: string;
  /** The ConfigMap of the machines' address variables, which every agent's environment reads (the system chart makes it). */
  readonly addressesConfigMap: string;
  /** The Secret the agents' secret variables are read from; referenced, never written. */
  readonly secretName: string;
}

const tcp = (port: number): k8s.NetworkPolicyPort => ({ port: k8s.IntOrString.fromNumber(port), protocol: 'TCP' });

/** One machine's agents: workloads, their network policies, and the optional PDB, HPA and ServiceMonitor. */
export class MachineChart extends Chart {
  readonly workloads: readonly AgentWorkload[];

  constructor(scope: Construct, id: string, props: MachineChartProps) {
    checkPlan(props?.plan);
    checkMachine(props.plan, props.machine);
    super(scope, id, { ...props, namespace: props.plan.namespace, disableResourceNameHashes: true });
    const { plan, machine } = props;
    const system = plan.name;
    const byId = agentIndex(plan);
    const reaches = reachability(plan);
    const startup = this.startupConfig(plan, machine);
    const mp = machineOf(plan, machine);
    const cacheClaim = this.claim(
      plan,
      mp,
      `model-cache-${machine}`,
      mp.cache.sizeGiB,
      mp.cache.storageClassName,
      mp.cache.hostPath,
    );
    const modelsClaim = mp.models
      ? this.claim(plan, mp, `models-${machine}`, mp.models.sizeGiB, undefined, mp.models.hostPath, true)
      : undefined;
    const workloads: AgentWorkload[] = [];
    for (const agent of plan.agents.filter((a) => a.machine === machine)) {
      workloads.push(
        new AgentWorkload(this, `agent-${agent.id}`, {
          agent,
          system,
          user: plan.user,
          addressesConfigMap: props.addressesConfigMap,
          secretName: props.secretName,
          namespace: plan.namespace,
          services: plan.services,
          ...(startup ? { startupConfig: startup } : {}),
          cache: { claimName: cacheClaim, path: mp.cache.path },
          ...(modelsClaim ? { modelsClaim } : {}),
          ...(mp.node ? { node: mp.node } : {}),
          ...(agent.state
            ? {
                dataClaim: this.claim(
                  plan,
                  mp,
                  `${agent.id}-data`,
                  agent.state.sizeGiB,
                  agent.state.storageClassName,
                  agent.state.hostPath,
                ),
              }
            : {}),
          waitForDependencies: plan.kubernetes.waitForDependencies,
          ...(plan.kubernetes.runtimeClassName ? { runtimeClassName: plan.kubernetes.runtimeClassName } : {}),
        }),
      );
      this.networkPolicy(plan, agent, byId, reaches);
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
            metrics: [
              { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
            ],
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
    for (const s of plan.services.filter((x) => x.machine === machine))
      new InfrastructureService(this, `service-${s.id}`, { service: s, system });
    this.machineService(plan, machine);
  }

  /**
   * A ReadWriteOnce (or, read-only, ReadOnlyMany) PersistentVolumeClaim: from the storage class (the cluster's default unless named),
   * or bound to a `local` PersistentVolume on the machine's node for a host folder (a PVC keeps the
   * pod within PodSecurity restricted, which forbids hostPath volumes). Retained when released.
   */
  private claim(
    plan: SystemPlan,
    m: MachinePlan,
    name: string,
    sizeGiB: number,
    storageClassName: string | undefined,
    hostPath: string | undefined,
    readOnly = false,
  ): string {
    // A read-only folder many pods of the node read: ReadOnlyMany.
    const accessModes = [readOnly ? 'ReadOnlyMany' : 'ReadWriteOnce'];
    const labels = {
      'app.kubernetes.io/part-of': plan.name,
      'app.kubernetes.io/managed-by': 'agent-infra',
      [MACHINE_LABEL]: m.name,
    };
    const storage = k8s.Quantity.fromString(`${sizeGiB}Gi`);
    if (hostPath) {
      const volumeName = `${plan.namespace}-${name}`;
      const pv = new k8s.KubePersistentVolume(this, `${name}-pv`, {
        metadata: { name: volumeName, labels },
        spec: {
          capacity: { storage },
          accessModes,
          persistentVolumeReclaimPolicy: 'Retain',
          storageClassName: LOCAL_STORAGE_CLASS,
          local: { path: hostPath },
          nodeAffinity: {
            required: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [m.node!] }] },
              ],
            },
          },
        },
      });
      // A PersistentVolume belongs to no namespace.
      pv.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
      new k8s.KubePersistentVolumeClaim(this, `${name}-pvc`, {
        metadata: { name, labels },
        spec: { accessModes, storageClassName: LOCAL_STORAGE_CLASS, volumeName, resources: { requests: { storage } } },
      });
    } else {
      new k8s.KubePersistentVolumeClaim(this, `${name}-pvc`, {
        metadata: { name, labels },
        spec: { accessModes, ...(storageClassName ? { storageClassName } : {}), resources: { requests: { storage } } },
      });
    }
    return name;
  }

  /** The machine's startup config with the planned ports, as a ConfigMap its agents mount where they read it. */
  private startupConfig(
    plan: SystemPlan,
    machine: string,
  ): { configMap: string; path: string; digest: string } | undefined {
    const m = machineOf(plan, machine);
    const text = startupConfigText(m, false, '# Generated by agent-infra.', plan.secrets);
    if (!m.startupConfig || text === undefined) return undefined;
    const name = `startup-config-${machine}`;
    new k8s.KubeConfigMap(this, name, {
      metadata: {
        name,
        labels: {
          'app.kubernetes.io/part-of': plan.name,
          'app.kubernetes.io/managed-by': 'agent-infra',
          [MACHINE_LABEL]: machine,
        },
      },
      data: { 'startup_config.yaml': text },
    });
    return { configMap: name, path: m.startupConfig.path, digest: startupConfigDigest(m, false, plan.secrets)! };
  }

  /**
   * The machine's address in the cluster: a Service named like the machine, with every port of its
   * agents, each routed by its container port name (`p7200`) to the one pod that declares it. Agents
   * that connect to `tcp://${MAIN_PC_IP}:N` reach the agent that binds N, as on the two PCs.
   */
  private machineService(plan: SystemPlan, machine: string) {
    const ports = plan.agents
      .filter((a) => a.machine === machine)
      .flatMap((a) => a.ports.map((p) => p.port))
      .sort((a, b) => a - b);
    new k8s.KubeService(this, `machine-${machine}`, {
      metadata: {
        name: machine,
        labels: {
          'app.kubernetes.io/part-of': plan.name,
          'app.kubernetes.io/managed-by': 'agent-infra',
          [MACHINE_LABEL]: machine,
        },
      },
      spec: {
        type: 'ClusterIP',
        selector: { 'app.kubernetes.io/part-of': plan.name, [MACHINE_LABEL]: machine },
        ports: [...new Set(ports)].map((p) => ({
          name: containerPortName(p),
          port: p,
          targetPort: k8s.IntOrString.fromString(containerPortName(p)),
          protocol: 'TCP',
        })),
      },
    });
  }

  /**
   * Admits exactly the agents that reach this one and lets it reach exactly its peers: its dependencies
   * (all their ports), the agents its variables name (their service port: the registry, the digital
   * twin, the error bus) and the infrastructure services it uses.
   */
  private networkPolicy(
    plan: SystemPlan,
    agent: PlannedAgent,
    byId: ReadonlyMap<string, PlannedAgent>,
    reaches: ReadonlyMap<string, ReadonlyMap<string, readonly number[]>>,
  ) {
    const system = plan.name;
    const selectorOf = (id: string) => ({ podSelector: { matchLabels: agentSelector(byId.get(id)!, system) } });
    const ingress: k8s.NetworkPolicyIngressRule[] = [];
    // Peers that reach the same ports share one rule.
    const byPorts = new Map<string, string[]>();
    for (const [from, targets] of reaches) {
      const ports = targets.get(agent.id);
      if (!ports || from === agent.id) continue;
      const key = ports.join(',');
      byPorts.set(key, [...(byPorts.get(key) ?? []), from]);
    }
    for (const [key, from] of [...byPorts].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)))
      ingress.push({ from: from.sort().map(selectorOf), ports: key.split(',').map((p) => tcp(Number(p))) });
    if (agent.metricsPort && plan.kubernetes.serviceMonitors) {
      // Prometheus pods of the one namespace the spec names (the label Kubernetes sets on every namespace).
      const namespaceSelector = { matchLabels: { 'kubernetes.io/metadata.name': plan.kubernetes.prometheusNamespace } };
      ingress.push({
        from: [{ namespaceSelector, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } }],
        ports: [tcp(agent.metricsPort.port)],
      });
    }
    const egress: k8s.NetworkPolicyEgressRule[] = [...(reaches.get(agent.id) ?? new Map<string, readonly number[]>())]
      .filter(([id]) => id !== agent.id)
      .map(([id, ports]) => ({ to: [selectorOf(id)], ports: ports.map(tcp) }));
    for (const s of plan.services.filter((x) => x.clients.includes(agent.id)))
      egress.push({ to: [{ podSelector: { matchLabels: serviceSelector(s, system) } }], ports: [tcp(s.port)] });
    new k8s.KubeNetworkPolicy(this, `${agent.id}-netpol`, {
      metadata: { name: agent.id, labels: agentLabels(agent, system) },
      spec: {
        podSelector: { matchLabels: agentSelector(agent, system) },
        policyTypes: ['Ingress', 'Egress'],
        ingress,
        egress,
      },
    });
  }
}

/** Per agent, the agents it reaches and on which ports: its dependencies (all their ports) and the agents its variables name (their service port). */
export function reachability(plan: SystemPlan): Map<string, Map<string, number[]>> {
  const byId = agentIndex(plan);
  const out = new Map<string, Map<string, number[]>>();
  for (const a of plan.agents) {
    const m = new Map<string, Set<number>>();
    const add = (id: string, ports: readonly number[]) => m.set(id, new Set([...(m.get(id) ?? []), ...ports]));
    for (const d of a.dependencies)
      add(
        d.id,
        byId.get(d.id)!.ports.map((p) => p.port),
      );
    for (const e of a.env)
      if (e.kind === 'agent-host' && byId.has(e.agent)) add(e.agent, [byId.get(e.agent)!.servicePort.port]);
    out.set(
      a.id,
      new Map(
        [...m]
          .sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
          .map(([id, ports]) => [id, [...ports].sort((x, y) => x - y)]),
      ),
    );
  }
  return out;
}
