/** Redis and NATS for the agents: a StatefulSet with its volume (Redis) or a Deployment (NATS), a Service, and a NetworkPolicy admitting exactly the agents that use it. */
import { z } from 'zod';
import { checkProp, PlannedServiceSchema } from './validate.ts';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { redisPing, serviceCommand } from '../lib/contract/probe.ts';
import type { PlannedService } from '../lib/plan/types.ts';

export interface InfrastructureServiceProps {
  readonly service: PlannedService;
  /** Name of the system (`app.kubernetes.io/part-of`). */
  readonly system: string;
}

export function serviceSelector(s: PlannedService, system: string): Record<string, string> {
  return { 'app.kubernetes.io/name': s.id, 'app.kubernetes.io/part-of': system };
}

const quantity = (q: string) => k8s.Quantity.fromString(q);

/** A memory quantity as Kubernetes writes it: `1Gi` for whole gibibytes, else `NMi`. */
const mebibytes = (mib: number) => (mib % 1024 === 0 ? `${mib / 1024}Gi` : `${mib}Mi`);

/** The ports of a service: its client port, and NATS's monitoring port. */
function servicePorts(s: PlannedService) {
  return [
    { name: s.kind, containerPort: s.port, protocol: 'TCP' },
    ...(s.monitorPort !== undefined ? [{ name: 'monitor', containerPort: s.monitorPort, protocol: 'TCP' }] : []),
  ];
}

/** The service's one container: its command, probes, resources, a numeric non-root user and no capability. */
function serviceContainer(s: PlannedService): k8s.Container {
  const redis = s.kind === 'redis';
  const probe = (period: number) => ({ periodSeconds: period, timeoutSeconds: 3, failureThreshold: 3 });
  return {
    name: s.kind,
    image: s.image,
    imagePullPolicy: 'IfNotPresent',
    command: serviceCommand(s, '0.0.0.0'),
    ports: servicePorts(s),
    readinessProbe: redis
      ? { exec: { command: ['sh', '-c', redisPing(s)] }, ...probe(5) }
      : { httpGet: { path: '/healthz', port: k8s.IntOrString.fromNumber(s.monitorPort!) }, ...probe(5) },
    livenessProbe: { tcpSocket: { port: k8s.IntOrString.fromNumber(s.port) }, ...probe(10) },
    resources: {
      requests: {
        cpu: quantity(`${s.resources.cpuRequestMillis}m`),
        memory: quantity(mebibytes(s.resources.memoryRequestMiB)),
      },
      limits: { cpu: quantity(`${s.resources.cpuMillis}m`), memory: quantity(mebibytes(s.resources.memoryMiB)) },
    },
    securityContext: {
      runAsUser: s.user,
      runAsGroup: s.user,
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'] },
    },
    ...(redis ? { volumeMounts: [{ name: 'data', mountPath: '/data' }] } : {}),
  };
}

/** The pod: no service account token, no service links, the default seccomp profile. */
function servicePod(s: PlannedService): k8s.PodSpec {
  return {
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    securityContext: {
      runAsUser: s.user,
      runAsGroup: s.user,
      runAsNonRoot: true,
      fsGroup: s.user,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    terminationGracePeriodSeconds: 30,
    containers: [serviceContainer(s)],
  };
}

/** Exactly the agents that use the service, on its client port; it reaches nothing. */
function servicePolicy(s: PlannedService, system: string, selector: Record<string, string>): k8s.NetworkPolicySpec {
  return {
    podSelector: { matchLabels: selector },
    policyTypes: ['Ingress', 'Egress'],
    ingress: [
      {
        from: [
          {
            podSelector: {
              matchLabels: { 'app.kubernetes.io/part-of': system },
              matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'In', values: [...s.clients] }],
            },
          },
        ],
        ports: [{ port: k8s.IntOrString.fromNumber(s.port), protocol: 'TCP' }],
      },
    ],
    egress: [],
  };
}

/** Redis (append-only file on a PersistentVolumeClaim) or NATS, locked down as the agents are. */
export class InfrastructureService extends Construct {
  constructor(scope: Construct, id: string, props: InfrastructureServiceProps) {
    super(scope, id);
    checkProp(PlannedServiceSchema, props?.service, 'service');
    checkProp(z.string().min(1), props.system, 'system');
    const { service: s, system } = props;
    const selector = serviceSelector(s, system);
    const labels = {
      ...selector,
      'app.kubernetes.io/component': 'infrastructure',
      'app.kubernetes.io/managed-by': 'agent-infra',
    };
    const template = { metadata: { labels }, spec: servicePod(s) };
    if (s.kind === 'redis')
      new k8s.KubeStatefulSet(this, 'StatefulSet', {
        metadata: { name: s.id, labels },
        spec: {
          serviceName: s.id,
          replicas: 1,
          selector: { matchLabels: selector },
          template,
          volumeClaimTemplates: [
            {
              metadata: { name: 'data', labels },
              spec: {
                accessModes: ['ReadWriteOnce'],
                resources: { requests: { storage: quantity(`${s.storageGiB}Gi`) } },
                ...(s.storageClassName ? { storageClassName: s.storageClassName } : {}),
              },
            },
          ],
        },
      });
    else
      new k8s.KubeDeployment(this, 'Deployment', {
        metadata: { name: s.id, labels },
        spec: { replicas: 1, selector: { matchLabels: selector }, strategy: { type: 'Recreate' }, template },
      });
    new k8s.KubeService(this, 'Service', {
      metadata: { name: s.id, labels },
      spec: {
        type: 'ClusterIP',
        selector,
        ports: servicePorts(s).map((p) => ({
          name: p.name,
          port: p.containerPort,
          targetPort: k8s.IntOrString.fromNumber(p.containerPort),
          protocol: 'TCP',
        })),
      },
    });
    new k8s.KubeNetworkPolicy(this, 'NetworkPolicy', {
      metadata: { name: s.id, labels },
      spec: servicePolicy(s, system, selector),
    });
  }
}
