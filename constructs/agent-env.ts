/** An agent container's environment: each planned variable as Kubernetes gives it (a value, a ConfigMap key, a Secret reference). */
import * as kplus from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import { probeTarget } from '../lib/contract/probe.ts';
import { kubernetesLiteral } from '../lib/config/grammar.ts';
import type { PlannedAgent, PlannedEnv, PlannedService } from '../lib/plan/types.ts';

export interface AgentEnvProps {
  /** ConfigMap holding the machines' address variables. */
  readonly addressesConfigMap: string;
  /** Secret holding the secret variables (referenced, never written). */
  readonly secretName: string;
  /** Namespace of the system: the domain of the Services the agents reach. */
  readonly namespace: string;
  /** The infrastructure services (Redis, NATS) its URLs name. */
  readonly services?: readonly PlannedService[];
}

/** Every variable of `agent`, by name; a CPU agent is also told it has no GPU. */
export function agentEnvironment(
  scope: Construct,
  agent: PlannedAgent,
  props: AgentEnvProps,
): Record<string, kplus.EnvValue> {
  const addresses = kplus.ConfigMap.fromConfigMapName(scope, 'Addresses', props.addressesConfigMap);
  const secrets = kplus.Secret.fromSecretName(scope, 'Secrets', props.secretName);
  const serviceUrlPort = (id: string) => props.services?.find((x) => x.id === id)!.port;
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
  const variables: Record<string, kplus.EnvValue> = {};
  for (const e of agent.env) variables[e.name] = env(e);
  if (!agent.gpu) variables['NVIDIA_VISIBLE_DEVICES'] = kplus.EnvValue.fromValue('void');
  return variables;
}
