/** Deployment, Service and GPU wiring for one agent. */
import { z } from 'zod';
import { diag } from '../lib/diagnostics.ts';
import { AgentSystemError, checkProp, PlannedAgentSchema } from './validate.ts';
import { ApiObject, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { probeCommand, probeTarget, waitFor } from '../lib/contract/probe.ts';
import { kubernetesLiteral } from '../lib/config/grammar.ts';
import {
  DATA_PATH,
  MODELS_PATH,
  type PlannedAgent,
  type PlannedEnv,
  type PlannedProbe,
  type PlannedService,
} from '../lib/plan/types.ts';
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

export interface AgentWorkloadProps extends AgentWorkloadOptions {
  readonly agent: PlannedAgent;
  /** The infrastructure services (Redis, NATS) its URLs name. @default - none */
  readonly services?: readonly PlannedService[];
  /** The node the machine is: the pod is pinned to it. @default - any node of the machine's label */
  readonly node?: string;
  /** The PersistentVolumeClaim of the machine's model cache and where the agent sees it. @default - none */
  readonly cache?: { readonly claimName: string; readonly path: string };
  /** The PersistentVolumeClaim of the machine's read-only models folder. @default - none mounted */
  readonly modelsClaim?: string;
  /** The PersistentVolumeClaim of the agent's data folder, when it keeps state. @default - an emptyDir: nothing kept */
  readonly dataClaim?: string;
  /** The ConfigMap with the machine's planned startup config (key `startup_config.yaml`) and the path the agent reads it at, below /app. @default - none mounted */
  readonly startupConfig?: { readonly configMap: string; readonly path: string };
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

/** Scratch folders of every pod (the logs Kubernetes keeps are stdout and stderr). */
const SCRATCH_DIRS: readonly [string, string, number][] = [
  ['tmp', '/tmp', 256],
  ['logs', '/app/logs', 1024],
];

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
        diag(
          'invalid-props',
          'error',
          `agent '${agent.name}' uses a GPU and runs ${agent.replicas} replicas; a GPU agent runs exactly one`,
          { file: '', line: 0, column: 0, path: 'agent.replicas' },
        ),
      ]);

    const labels = agentLabels(agent, system);
    const selector = agentSelector(agent, system);
    const addresses = kplus.ConfigMap.fromConfigMapName(this, 'Addresses', props.addressesConfigMap);
    const secrets = kplus.Secret.fromSecretName(this, 'Secrets', props.secretName);
    const env = (e: PlannedEnv): kplus.EnvValue => {
      switch (e.kind) {
        case 'literal':
          // The kubelet expands `$(NAME)` in values; a literal keeps its `$(` as written.
          return kplus.EnvValue.fromValue(kubernetesLiteral(e.value));
        case 'machine-address':
          return kplus.EnvValue.fromConfigMap(addresses, e.name);
        case 'agent-host':
          return kplus.EnvValue.fromValue(e.agent);
        case 'port':
          return kplus.EnvValue.fromValue(String(e.port));
        case 'bind-address':
          return kplus.EnvValue.fromValue('0.0.0.0');
        case 'secret':
          return kplus.EnvValue.fromSecretValue({ secret: secrets, key: e.secret }, { optional: true });
        case 'service-host':
          return kplus.EnvValue.fromValue(`${e.service}.${props.namespace}.svc`);
        case 'service-url':
          return kplus.EnvValue.fromValue(
            `${e.scheme}://${e.service}.${props.namespace}.svc:${serviceUrlPort(e.service)}${e.path}`,
          );
        case 'health-target':
          return kplus.EnvValue.fromValue(probeTarget(e.probe, '127.0.0.1', e.probe.port!)!);
      }
    };
    const serviceUrlPort = (id: string) => props.services?.find((x) => x.id === id)!.port;
    const envVariables: Record<string, kplus.EnvValue> = {};
    for (const e of agent.env) envVariables[e.name] = env(e);
    if (!agent.gpu) envVariables['NVIDIA_VISIBLE_DEVICES'] = kplus.EnvValue.fromValue('void');

    const h = agent.health;
    const probe = (p: PlannedProbe, o: { periodSeconds: number; failureThreshold: number; timeoutSeconds: number }) => {
      const common = {
        periodSeconds: Duration.seconds(o.periodSeconds),
        failureThreshold: o.failureThreshold,
        timeoutSeconds: Duration.seconds(o.timeoutSeconds),
        initialDelaySeconds: Duration.seconds(0),
        successThreshold: 1,
      };
      // The kubelet speaks HTTP (any 2xx/3xx) and TCP itself; ZMQ, other codes and commands run the image's probe program.
      if (p.protocol === 'http' && p.codes!.every((c) => c >= 200 && c < 400))
        return kplus.Probe.fromHttpGet(p.path!, { port: p.port!, ...common });
      if (p.protocol === 'tcp') return kplus.Probe.fromTcpSocket({ port: p.port!, ...common });
      // The probe program's own timeout is 1 s under the kubelet's, so that it reports why.
      return kplus.Probe.fromCommand(probeCommand(p, p.port, Math.max(1, o.timeoutSeconds - 1)), common);
    };
    const startupPeriod = 2;
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
          startup: probe(h.readiness, {
            periodSeconds: startupPeriod,
            failureThreshold: Math.ceil((agent.startupSeconds * 3 + 30) / startupPeriod),
            timeoutSeconds: h.timeoutSeconds,
          }),
          readiness: probe(h.readiness, {
            periodSeconds: h.intervalSeconds,
            failureThreshold: h.retries,
            timeoutSeconds: h.timeoutSeconds,
          }),
          liveness: probe(h.liveness, {
            periodSeconds: h.intervalSeconds * 2,
            failureThreshold: h.retries,
            timeoutSeconds: h.timeoutSeconds,
          }),
        },
      ],
    });
    this.deployment.select(kplus.LabelSelector.of({ labels: selector }));
    const container = this.deployment.containers[0]!;
    for (const [name, path, mib] of SCRATCH_DIRS)
      container.mount(
        path,
        kplus.Volume.fromEmptyDir(this, `Volume-${name}`, name, { sizeLimit: Size.mebibytes(mib) }),
      );
    const claim = (id: string, name: string) =>
      kplus.Volume.fromPersistentVolumeClaim(
        this,
        `Volume-${id}`,
        kplus.PersistentVolumeClaim.fromClaimName(this, `Claim-${id}`, name),
        { name: id },
      );
    container.mount(
      DATA_PATH,
      props.dataClaim
        ? claim('data', props.dataClaim)
        : kplus.Volume.fromEmptyDir(this, 'Volume-data', 'data', { sizeLimit: Size.mebibytes(1024) }),
    );
    if (props.cache) container.mount(props.cache.path, claim('model-cache', props.cache.claimName));
    if (props.modelsClaim) container.mount(MODELS_PATH, claim('models', props.modelsClaim), { readOnly: true });
    if (props.startupConfig) {
      const cm = kplus.ConfigMap.fromConfigMapName(this, 'StartupConfig', props.startupConfig.configMap);
      container.mount(
        `/app/${props.startupConfig.path}`,
        kplus.Volume.fromConfigMap(this, 'Volume-startup-config', cm, { name: 'startup-config' }),
        { subPath: 'startup_config.yaml', readOnly: true },
      );
    }
    if ((props.waitForDependencies ?? true) && agent.dependencies.length > 0) {
      this.deployment.addInitContainer({
        name: 'wait-for-dependencies',
        image: agent.image,
        imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
        command: ['agent-infra-wait'],
        envVariables: {
          WAIT_FOR: kplus.EnvValue.fromValue(waitFor(agent.dependencies, (d) => d.id, false)),
          WAIT_TIMEOUT_SECONDS: kplus.EnvValue.fromValue('600'),
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
