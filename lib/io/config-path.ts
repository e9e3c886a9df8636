/** Config paths as diagnostics show them: `agent_groups.core.Agent.ports[0]`. */

/** Joins a config path: `joinPath('a', 'b')` is `a.b`, `joinPath('a', 0)` is `a[0]`. */
export function joinPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return parent ? `${parent}.${key}` : key;
}
