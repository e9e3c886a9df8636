/** Deployment, Service and GPU wiring for one agent. */
import { checkWorkloadProps } from './validate.ts';
import { ApiObject, Duration, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import type { PlannedAgent } from '../lib/plan/types.ts';
import { agentContainer, containerSecurity, deploymentStrategy, waitContainer } from './agent-container.ts';
import { agentEnvironment, type AgentEnvProps } from './agent-env.ts';
import { mountAgentVolumes, type AgentVolumesProps } from './agent-volumes.ts';
import { wireGpu, MACHINE_LABEL } from './gpu.ts';
import { shortDigest, STARTUP_CONFIG_DIGEST } from '../lib/contract/startup-config.ts';

export { containerPortName } from './agent-container.ts';

export interface AgentWorkloadOptions {
  /** Name of the system (`app.kubernetes.io/part-of`). */
  readonly system: string;
  /** Numeric user and group the containers run as. */
  readonly user: number;
  /** ConfigMap holding the machines' address variables. */
  readonly addressesConfigMap: string;
  /** Secret holding the secret variables (referenced, never written). */
  readonly secretName: string;
  /** Namespace of the system: the domain of the Services the agents reach. */
  readonly namespace: string;
  /**
   * Add an init container that waits for the dependencies' health ports.
   * @default true
   */
  readonly waitForDependencies?: boolean;
  /**
   * Runtime class for GPU pods (for example `nvidia`).
   * @default - none; the node's default runtime
   */
  readonly runtimeClassName?: string;
}

export interface AgentWorkloadProps extends AgentWorkloadOptions, AgentEnvProps, AgentVolumesProps {
  readonly agent: PlannedAgent;
  /** The node the machine is: the pod is pinned to it. @default - any node of the machine's label */
  readonly node?: string;
}

/** The annotation carrying {@link addressesAnnotation}'s digest. */
export const ADDRESSES_DIGEST = 'agent-infra/addresses-sha256';

/**
 * A digest of the keys the agent reads from the addresses ConfigMap and their values (each machine's
 * address is its Service, `<machine>.<namespace>.svc`), none when it reads none. Secrets are the
 * operators' (their values are never in the output): a changed Secret needs `kubectl rollout restart`.
 */
export function addressesAnnotation(agent: PlannedAgent, namespace: string): Record<string, string> {
  const read = agent.env
    .flatMap((e) => (e.kind === 'machine-address' ? [`${e.name}=${e.machine}.${namespace}.svc`] : []))
    .sort();
  return read.length ? { [ADDRESSES_DIGEST]: shortDigest(read.join('\n')) } : {};
}

/** The labels every object of an agent carries; the first two are its selector. */
export function agentLabels(agent: PlannedAgent, system: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': agent.id,
    'app.kubernetes.io/part-of': system,
    'app.kubernetes.io/component': agent.group.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 63),
    'app.kubernetes.io/managed-by': 'agent-infra',
    [MACHINE_LABEL]: agent.machine,
  };
}

export function agentSelector(agent: PlannedAgent, system: string): Record<string, string> {
  return { 'app.kubernetes.io/name': agent.id, 'app.kubernetes.io/part-of': system };
}

/** Deployment, Service and GPU wiring for one agent. */
export class AgentWorkload extends Construct {
  /** The agent it runs, as planned. */
  readonly agent: PlannedAgent;
  readonly deployment: kplus.Deployment;
  readonly service: kplus.Service;

  constructor(scope: Construct, id: string, props: AgentWorkloadProps) {
    super(scope, id);
    checkWorkloadProps(props);
    const { agent, system, user } = props;
    this.agent = agent;
    const labels = agentLabels(agent, system);
    const securityContext = containerSecurity(user);
    this.deployment = new kplus.Deployment(this, 'Deployment', {
      metadata: { name: agent.id, labels },
      podMetadata: {
        labels,
        // A change of the startup config it mounts (subPath: the pod never sees one), or of the addresses
        // it reads from a ConfigMap into its environment (read once, at start), rolls the pods.
        annotations: {
          ...(props.startupConfig?.digest ? { [STARTUP_CONFIG_DIGEST]: props.startupConfig.digest } : {}),
          ...addressesAnnotation(agent, props.namespace),
        },
      },
      select: false,
      spread: false,
      replicas: agent.replicas,
      strategy: deploymentStrategy(agent, Boolean(props.dataClaim)),
      automountServiceAccountToken: false,
      isolate: false,
      securityContext: { user, group: user, ensureNonRoot: true, fsGroup: user },
      terminationGracePeriod: Duration.seconds(30),
      containers: [agentContainer(agent, agentEnvironment(this, agent, props), securityContext)],
    });
    this.deployment.select(kplus.LabelSelector.of({ labels: agentSelector(agent, system) }));
    mountAgentVolumes(this, this.deployment.containers[0]!, props);
    if ((props.waitForDependencies ?? true) && agent.dependencies.length > 0)
      this.deployment.addInitContainer(waitContainer(agent, securityContext));
    wireGpu(this.deployment, {
      machine: agent.machine,
      ...(agent.gpu ? { gpu: agent.gpu } : {}),
      ...(props.runtimeClassName ? { runtimeClassName: props.runtimeClassName } : {}),
    });
    hardenPod(ApiObject.of(this.deployment), props.node);
    this.service = agentService(this, agent, labels, agentSelector(agent, system));
  }
}

/** What cdk8s-plus cannot say: the default seccomp profile, no service links, the pinned node, no address label. */
function hardenPod(api: ApiObject, node: string | undefined): void {
  // cdk8s-plus always adds its hashed address label to the pod template; nothing here selects on it.
  api.addJsonPatch(JsonPatch.remove('/spec/template/metadata/labels/cdk8s.io~1metadata.addr'));
  api.addJsonPatch(JsonPatch.add('/spec/template/spec/securityContext/seccompProfile', { type: 'RuntimeDefault' }));
  api.addJsonPatch(JsonPatch.add('/spec/template/spec/enableServiceLinks', false));
  if (node) api.addJsonPatch(JsonPatch.add('/spec/template/spec/nodeSelector', { 'kubernetes.io/hostname': node }));
}

/** Exactly the agent's ports, each at its own number, named as the plan names them. */
function agentService(
  scope: Construct,
  agent: PlannedAgent,
  labels: Record<string, string>,
  selector: Record<string, string>,
): kplus.Service {
  const service = new kplus.Service(scope, 'Service', {
    metadata: { name: agent.id, labels },
    type: kplus.ServiceType.CLUSTER_IP,
    ports: agent.ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.port, protocol: kplus.Protocol.TCP })),
  });
  for (const [k, v] of Object.entries(selector)) service.selectLabel(k, v);
  return service;
}
