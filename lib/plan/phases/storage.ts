/** Storage: what each agent keeps across restarts and the machines' model caches, checked. */
import { diag, type Diagnostic } from '../../diagnostics.ts';
import type { DeploymentSpec } from '../../config/spec.ts';
import type { MachinePlan, PlannedImage, PlannedState } from '../types.ts';
import { DATA_PATH } from '../types.ts';
import type { Draft } from './drafts.ts';

/**
 * An agent's state: its own override, else the spec's default for agents of one replica (a replicated
 * agent's replicas cannot share one volume: it needs `replicas: 1`, or keeps nothing).
 */
export function stateOf(spec: DeploymentSpec, d: Draft, replicas: number): PlannedState | undefined {
  const s = replicas === 1 ? (d.override.state ?? spec.defaults.state) : false;
  if (s === false) return undefined;
  return {
    sizeGiB: s.sizeGiB ?? 1,
    ...(s.storageClassName ? { storageClassName: s.storageClassName } : {}),
    ...(s.hostPath ? { hostPath: s.hostPath } : {}),
  };
}

interface StorageAgent {
  readonly name: string;
  readonly machine: string;
  readonly replicas: number;
  readonly state?: PlannedState;
  readonly at: Draft['cfg']['at'];
}

/** Agents whose spec asks for state (their own or their group's override) but that run several replicas. */
export function replicatedState(live: readonly Draft[]): Diagnostic[] {
  return live
    .filter((d) => !d.gpu && (d.override.replicas ?? 1) > 1 && d.override.state)
    .map((d) =>
      diag(
        'invalid-spec',
        'error',
        `agent ${d.cfg.name} runs ${d.override.replicas} replicas, which cannot share one state volume (its state in the spec's agents or groups); set its replicas to 1 or its state to false`,
        d.cfg.at,
      ),
    );
}

/** Refusals: a host folder two agents write, a host folder on a machine not pinned to a node, a cache inside the code. */
export function storageProblems(
  agents: readonly StorageAgent[],
  machines: readonly MachinePlan[],
  images: readonly PlannedImage[],
): Diagnostic[] {
  const ds: Diagnostic[] = [];
  const claimed = new Map<string, string>();
  for (const a of agents) {
    const host = a.state?.hostPath;
    if (!host) continue;
    const key = `${a.machine}:${host}`;
    const other = claimed.get(key);
    if (other)
      ds.push(
        diag(
          'invalid-spec',
          'error',
          `agents ${other} and ${a.name} both keep their state in ${host} on ${a.machine} (agents.${a.name}.state.hostPath); give each agent a folder of its own`,
          a.at,
        ),
      );
    claimed.set(key, a.name);
    if (!machines.find((m) => m.name === a.machine)?.node)
      ds.push(
        diag(
          'invalid-spec',
          'error',
          `agent ${a.name} keeps its state in the host folder ${host} (agents.${a.name}.state.hostPath), but machine ${a.machine} names no node: set machines.${a.machine}.node, so that its pods always run where the folder is`,
          a.at,
        ),
      );
  }
  for (const m of machines) {
    if (m.models && !m.node)
      ds.push(
        diag(
          'invalid-spec',
          'error',
          `machines.${m.name}.models.hostPath ${m.models.hostPath} needs the machine pinned to a node: set machines.${m.name}.node`,
        ),
      );
    if (m.models && (m.models.hostPath === m.cache.hostPath || claimed.has(`${m.name}:${m.models.hostPath}`)))
      ds.push(
        diag(
          'invalid-spec',
          'error',
          `machines.${m.name}.models.hostPath ${m.models.hostPath} is also written to (the model cache or an agent's state); the models folder is mounted read-only: give it a folder of its own`,
        ),
      );
    if (m.cache.hostPath && !m.node)
      ds.push(
        diag(
          'invalid-spec',
          'error',
          `machines.${m.name}.cache.hostPath ${m.cache.hostPath} needs the machine pinned to a node: set machines.${m.name}.node`,
        ),
      );
    if (m.cache.hostPath && claimed.has(`${m.name}:${m.cache.hostPath}`))
      ds.push(
        diag(
          'invalid-spec',
          'error',
          `machines.${m.name}.cache.hostPath ${m.cache.hostPath} is also agent ${claimed.get(`${m.name}:${m.cache.hostPath}`)}'s state folder; give the cache a folder of its own`,
        ),
      );
    // Every folder of code the images carry: a cache there would hide it.
    const code = [
      ...new Set(images.flatMap((i) => [...i.sourceDirs, ...(i.sourceFiles ?? []).map((f) => f.split('/')[0]!)])),
    ];
    const p = m.cache.path.replace(/\/+$/, '');
    const inside = (dir: string) => p === dir || p.startsWith(`${dir}/`);
    const clash = p === '/app' ? '/app' : inside(DATA_PATH) ? DATA_PATH : code.map((d) => `/app/${d}`).find(inside);
    if (clash)
      ds.push(
        diag(
          'invalid-spec',
          'error',
          `machines.${m.name}.cache.path ${m.cache.path} is inside ${clash === '/app' ? 'the code root /app' : clash === DATA_PATH ? `the agents' data folder ${DATA_PATH}` : `the code folder ${clash}`}; put the cache beside the code, for example /app/.cache`,
        ),
      );
  }
  return ds;
}
