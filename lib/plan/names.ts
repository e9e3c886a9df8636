/** Names: one DNS label per agent, environment variable prefixes, and did-you-mean suggestions. */

/** `ModelOpsCoordinator` -> `model-ops-coordinator`, `STTService` -> `stt-service`; at most 63 characters. */
export function dnsLabel(name: string): string {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  const label = /^[a-z]/.test(words) ? words : `a-${words}`;
  return label.slice(0, 63).replace(/-+$/, '');
}

/** A DNS label or port name as an environment variable name part: `model-ops-coordinator` -> `MODEL_OPS_COORDINATOR`. */
export function envName(label: string): string {
  return label.replace(/-/g, '_').toUpperCase();
}

/** The variables a machine's address is read from: its own, and `MAINPC_IP`, which the system's Python code reads as well as `MAIN_PC_IP`. */
export function addressVariables(addressEnv: string): string[] {
  return addressEnv === 'MAIN_PC_IP' ? [addressEnv, 'MAINPC_IP'] : [addressEnv];
}

/** A container port name (IANA_SVC_NAME: at most 15 characters, lowercase, dashes) from a config key. */
export function portName(key: string): string {
  const base = key
    .replace(/_(port|address)$/, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return (base || 'port').slice(0, 15).replace(/-+$/, '');
}

function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagPrev = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diagPrev + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagPrev = tmp;
    }
  }
  return prev[b.length]!;
}

/** The closest candidate to `name`, when one is close enough to be a likely typo. */
export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const lower = name.toLowerCase();
  for (const c of candidates) {
    const d = distance(lower, c.toLowerCase());
    if (d < bestD || (d === bestD && best !== undefined && c < best)) {
      best = c;
      bestD = d;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 4)) ? best : undefined;
}

/** Plain `<` comparison, for sorting that does not depend on locale. */
export function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
