/** An agent container's volumes: scratch folders, its data folder, the model cache, the models folder and its startup config. */
import { Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import { DATA_PATH, MODELS_PATH } from '../lib/plan/types.ts';

/** Scratch folders of every pod (the logs Kubernetes keeps are stdout and stderr): name, path, MiB. */
const SCRATCH_DIRS: readonly [string, string, number][] = [
  ['tmp', '/tmp', 256],
  ['logs', '/app/logs', 1024],
];

/** The data folder of an agent that keeps no state: scratch space of this size. */
const STATELESS_DATA_MIB = 1024;

export interface AgentVolumesProps {
  /** The PersistentVolumeClaim of the machine's model cache and where the agent sees it. @default - none */
  readonly cache?: { readonly claimName: string; readonly path: string };
  /** The PersistentVolumeClaim of the machine's read-only models folder. @default - none mounted */
  readonly modelsClaim?: string;
  /** The PersistentVolumeClaim of the agent's data folder, when it keeps state. @default - an emptyDir: nothing kept */
  readonly dataClaim?: string;
  /** The ConfigMap with the machine's planned startup config (key `startup_config.yaml`) and the path the agent reads it at, below /app. @default - none mounted */
  readonly startupConfig?: {
    readonly configMap: string;
    readonly path: string;
    /** A digest of its content: the pod template carries it, so that a change rolls the pods that mount it. */
    readonly digest?: string;
  };
}

/** Mounts every volume of an agent into its container. */
export function mountAgentVolumes(scope: Construct, container: kplus.Container, props: AgentVolumesProps): void {
  for (const [name, path, mib] of SCRATCH_DIRS)
    container.mount(path, kplus.Volume.fromEmptyDir(scope, `Volume-${name}`, name, { sizeLimit: Size.mebibytes(mib) }));
  const claim = (id: string, name: string) =>
    kplus.Volume.fromPersistentVolumeClaim(
      scope,
      `Volume-${id}`,
      kplus.PersistentVolumeClaim.fromClaimName(scope, `Claim-${id}`, name),
      { name: id },
    );
  container.mount(
    DATA_PATH,
    props.dataClaim
      ? claim('data', props.dataClaim)
      : kplus.Volume.fromEmptyDir(scope, 'Volume-data', 'data', { sizeLimit: Size.mebibytes(STATELESS_DATA_MIB) }),
  );
  if (props.cache) container.mount(props.cache.path, claim('model-cache', props.cache.claimName));
  if (props.modelsClaim) container.mount(MODELS_PATH, claim('models', props.modelsClaim), { readOnly: true });
  if (props.startupConfig) {
    const cm = kplus.ConfigMap.fromConfigMapName(scope, 'StartupConfig', props.startupConfig.configMap);
    container.mount(
      `/app/${props.startupConfig.path}`,
      kplus.Volume.fromConfigMap(scope, 'Volume-startup-config', cm, { name: 'startup-config' }),
      { subPath: 'startup_config.yaml', readOnly: true },
    );
  }
}
