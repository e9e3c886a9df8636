/** Deployment, Service and GPU wiring for one agent. */
import { DEFAULTS } from '../lib/config/defaults.ts';
import { z } from 'zod';
import { AgentSystemError, checkProp, PlannedAgentSchema, propProblem } from './validate.ts';
import { ApiObject, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { waitFor } from '../lib/contract/probe.ts';
import { kubernetesLiteral } from '../lib/config/grammar.ts';
import type { PlannedAgent } from '../lib/plan/types.ts';
import { agentEnvironment, type AgentEnvProps } from './agent-env.ts';
import { agentProbes } from './agent-probes.ts';
import { mountAgentVolumes, type AgentVolumesProps } from './agent-volumes.ts';
import { wireGpu, MACHINE_LABEL } from './gpu.ts';

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

/** A container port's name: its number (`p7200`), unique in the pod, and what a machine's Service routes by. */
export function containerPortName(port: number): string {
  return `p${port}`;
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
    checkProp(PlannedAgentSchema, props?.agent, 'agent');
    checkProp(
      z.looseObject({
        system: z.string().min(1),
        user: z.number().int().min(1),
        addressesConfigMap: z.string().min(1),
        secretName: z.string().min(1),
        namespace: z.string().min(1),
      }),
      props,
      'props',
    );
    const { agent, system, user } = props;
    this.agent = agent;
    if (agent.gpu && agent.replicas !== 1)
      throw new AgentSystemError([
        propProblem(
          'agent.replicas',
          `agent '${agent.name}' uses a GPU and runs ${agent.replicas} replicas; a GPU agent runs exactly one`,
        ),
      ]);

    const labels = agentLabels(agent, system);
    const selector = agentSelector(agent, system);
    const envVariables = agentEnvironment(this, agent, props);
    const securityContext: kplus.ContainerSecurityContextProps = {
      user,
      group: user,
      ensureNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      // Kubernetes drops every capability with the literal 'ALL', which the enum lacks.
      capabilities: { drop: ['ALL' as kplus.Capability] },
    };

    this.deployment = new kplus.Deployment(this, 'Deployment', {
      metadata: { name: agent.id, labels },
      podMetadata: { labels },
      select: false,
      spread: false,
      replicas: agent.replicas,
      // A GPU or a ReadWriteOnce data volume is never held by two pods at once.
      strategy:
        agent.gpu || props.dataClaim
          ? kplus.DeploymentStrategy.recreate()
          : kplus.DeploymentStrategy.rollingUpdate({
              maxSurge: kplus.PercentOrAbsolute.absolute(1),
              maxUnavailable: kplus.PercentOrAbsolute.absolute(0),
            }),
      automountServiceAccountToken: false,
      isolate: false,
      securityContext: { user, group: user, ensureNonRoot: true, fsGroup: user },
      terminationGracePeriod: Duration.seconds(30),
      containers: [
        {
          name: 'agent',
          image: agent.image,
          imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
          // Named by number: the machine's Service routes each port to the one pod that declares it by this name.
          ports: agent.ports.map((p) => ({
            name: containerPortName(p.port),
            number: p.port,
            protocol: kplus.Protocol.TCP,
          })),
          ...(agent.command.length ? { args: [...agent.command].map(kubernetesLiteral) } : {}),
          envVariables,
          securityContext,
          resources: {
            cpu: {
              request: kplus.Cpu.millis(agent.resources.cpuRequestMillis),
              limit: kplus.Cpu.millis(agent.resources.cpuMillis),
            },
            memory: {
              request: Size.mebibytes(agent.resources.memoryRequestMiB),
              limit: Size.mebibytes(agent.resources.memoryMiB),
            },
          },
          ...agentProbes(agent),
        },
      ],
    });
    this.deployment.select(kplus.LabelSelector.of({ labels: selector }));
    mountAgentVolumes(this, this.deployment.containers[0]!, props);
    if ((props.waitForDependencies ?? true) && agent.dependencies.length > 0) {
      this.deployment.addInitContainer({
        name: 'wait-for-dependencies',
        image: agent.image,
        imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
        command: ['agent-infra-wait'],
        envVariables: {
          WAIT_FOR: kplus.EnvValue.fromValue(waitFor(agent.dependencies, (d) => d.id, false)),
          WAIT_TIMEOUT_SECONDS: kplus.EnvValue.fromValue(String(DEFAULTS.waitTimeoutSeconds)),
        },
        securityContext,
        resources: {
          cpu: { request: kplus.Cpu.millis(10), limit: kplus.Cpu.millis(100) },
          memory: { request: Size.mebibytes(32), limit: Size.mebibytes(64) },
        },
      });
    }
    wireGpu(this.deployment, {
      machine: agent.machine,
      ...(agent.gpu ? { gpu: agent.gpu } : {}),
      ...(props.runtimeClassName ? { runtimeClassName: props.runtimeClassName } : {}),
    });
    const api = ApiObject.of(this.deployment);
    // cdk8s-plus always adds its hashed address label to the pod template; nothing here selects on it.
    api.addJsonPatch(JsonPatch.remove('/spec/template/metadata/labels/cdk8s.io~1metadata.addr'));
    api.addJsonPatch(JsonPatch.add('/spec/template/spec/securityContext/seccompProfile', { type: 'RuntimeDefault' }));
    api.addJsonPatch(JsonPatch.add('/spec/template/spec/enableServiceLinks', false));
    if (props.node)
      api.addJsonPatch(JsonPatch.add('/spec/template/spec/nodeSelector', { 'kubernetes.io/hostname': props.node }));

    this.service = new kplus.Service(this, 'Service', {
      metadata: { name: agent.id, labels },
      type: kplus.ServiceType.CLUSTER_IP,
      // Exactly the agent's ports, each at its own number, named as the plan names them.
      ports: agent.ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.port, protocol: kplus.Protocol.TCP })),
    });
    for (const [k, v] of Object.entries(selector)) this.service.selectLabel(k, v);
  }
}
