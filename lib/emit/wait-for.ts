/** `WAIT_FOR`, which the image's entrypoint and `agent-infra-wait` read: one rule for compose and Kubernetes. */
import type { PlannedDependency } from '../plan/types.ts';

/** One endpoint: `http://host:port/path` for an HTTP-probed dependency, `host:port` (a TCP connect) for a TCP-probed one. */
export function waitForEndpoint(dep: Pick<PlannedDependency, 'healthProbe' | 'healthPath'>, host: string, port: number): string {
  return dep.healthProbe === 'http' ? `http://${host}:${port}${dep.healthPath}` : `${host}:${port}`;
}

/** The comma-separated list, in the order of the dependencies. */
export function waitFor<D extends Pick<PlannedDependency, 'healthProbe' | 'healthPath'>>(deps: readonly D[], at: (d: D) => { host: string; port: number }): string {
  return deps.map((d) => {
    const { host, port } = at(d);
    return waitForEndpoint(d, host, port);
  }).join(',');
}
