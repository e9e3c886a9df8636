/** The containers of an agent's pod: the agent itself and the init container that waits for its dependencies. */
import { Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { DEFAULTS } from '../lib/config/defaults.ts';
import { kubernetesLiteral } from '../lib/config/grammar.ts';
import { waitFor } from '../lib/contract/probe.ts';
import type { PlannedAgent } from '../lib/plan/types.ts';
import { agentProbes } from './agent-probes.ts';

/** A container port's name: its number (`p7200`), unique in the pod, and what a machine's Service routes by. */
export function containerPortName(port: number): string {
  return `p${port}`;
}

/** Every container of an agent: a numeric non-root user, a read-only root, no capability, no escalation. */
export function containerSecurity(user: number): kplus.ContainerSecurityContextProps {
  return {
    user,
    group: user,
    ensureNonRoot: true,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    privileged: false,
    // Kubernetes drops every capability with the literal 'ALL', which the enum lacks.
    capabilities: { drop: ['ALL' as kplus.Capability] },
  };
}

/** The agent's container: its image, ports, arguments, environment, resources and probes. */
export function agentContainer(
  agent: PlannedAgent,
  envVariables: Record<string, kplus.EnvValue>,
  securityContext: kplus.ContainerSecurityContextProps,
): kplus.ContainerProps {
  return {
    name: 'agent',
    image: agent.image,
    imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
    // Named by number: the machine's Service routes each port to the one pod that declares it by this name.
    ports: agent.ports.map((p) => ({ name: containerPortName(p.port), number: p.port, protocol: kplus.Protocol.TCP })),
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
  };
}

/** The init container that holds the agent back until every dependency's health port answers. */
export function waitContainer(
  agent: PlannedAgent,
  securityContext: kplus.ContainerSecurityContextProps,
): kplus.ContainerProps {
  return {
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
  };
}

/** A GPU or a ReadWriteOnce data volume is never held by two pods at once: those agents are recreated. */
export function deploymentStrategy(agent: PlannedAgent, hasDataClaim: boolean): kplus.DeploymentStrategy {
  return agent.gpu || hasDataClaim
    ? kplus.DeploymentStrategy.recreate()
    : kplus.DeploymentStrategy.rollingUpdate({
        maxSurge: kplus.PercentOrAbsolute.absolute(1),
        maxUnavailable: kplus.PercentOrAbsolute.absolute(0),
      });
}
