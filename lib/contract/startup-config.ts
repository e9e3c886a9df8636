/** The machines' startup configs as the agents read them, with the planned ports written in. Pure. */
import { createHash } from 'node:crypto';
import { isPair, isScalar, parseDocument, Scalar, visit } from 'yaml';
import { SECRET_NAME } from '../config/secrets.ts';
import type { MachinePlan } from '../plan/types.ts';

/** A port as the configs write it: `7200`, `${PORT_OFFSET}+7200`, `$PORT_OFFSET + 7200`. */
const PORT_EXPRESSION = /^\s*(\$\{?[A-Za-z_][A-Za-z0-9_]*\}?\s*\+\s*)?\d+\s*$/;

/** `agent_groups.core.Agent.ports[0]` -> ['agent_groups', 'core', 'Agent', 'ports', 0]. */
function segments(path: string): (string | number)[] {
  return [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]!));
}

/**
 * The config's text with each planned port in place of what it declared (`${PORT_OFFSET}+7200`
 * becomes 7200 plus the offset, a reassigned port its new number), on the machine or on the single
 * host; everything else as written, but secrets' values. A path that does not name a scalar is left alone.
 */
export function startupConfigText(
  m: MachinePlan,
  singleHost: boolean,
  header: string,
  secrets: readonly string[],
): string | undefined {
  const c = m.startupConfig;
  if (!c) return undefined;
  const doc = parseDocument(c.text, { version: '1.1', uniqueKeys: false, merge: true });
  for (const p of c.ports) {
    const node = doc.getIn(segments(p.path), true);
    if (!isScalar(node)) continue;
    const port = singleHost ? (p.singleHostPort ?? p.port) : p.port;
    // A number or a port expression (`${PORT_OFFSET}+7200`) becomes the number; an address
    // (`tcp://*:5561`) keeps its text, with the port at its end replaced.
    if (typeof node.value === 'number' || (typeof node.value === 'string' && PORT_EXPRESSION.test(node.value)))
      node.value = port;
    else if (typeof node.value === 'string' && node.value.endsWith(`:${p.declared}`))
      node.value = `${node.value.slice(0, -String(p.declared).length)}${port}`;
  }
  // A secret's value never reaches an output, this copy included: the agents get it from their
  // environment. Secrets by name (`*_KEY`, `*TOKEN`...) and those the spec names.
  const secret = new Set(secrets);
  visit(doc, {
    Pair(_, pair) {
      if (!isPair(pair) || !isScalar(pair.key) || !isScalar(pair.value)) return;
      const key = String(pair.key.value);
      if (!SECRET_NAME.test(key) && !secret.has(key)) return;
      if (pair.value.value === null || pair.value.value === '') return;
      const blank = new Scalar('');
      blank.comment = ' secret: removed; the agent gets it from its environment';
      pair.value = blank;
    },
  });
  return `${header}\n# The startup config of ${m.name} with the ports agent-infra planned${singleHost ? ' for the single host' : ''}; the agents read it at /app/${c.path}.\n${doc.toString({ lineWidth: 0 })}`;
}

/** A value with mapping keys and list items in one order: the same data read from a reordered file. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical).sort((a, b) => cmp(JSON.stringify(a), JSON.stringify(b)));
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v)
        .sort(([a], [b]) => cmp(a, b))
        .map(([k, x]) => [k, canonical(x)]),
    );
  return v;
}
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * A digest of what the agents of a machine read in its startup config: its data, in one order (a file
 * reordered, or commented, is the same config). Every container that mounts the file carries it as a
 * label or annotation, so that a change recreates exactly those (compose and Kubernetes never restart a
 * container whose mounted file changed, and a `subPath` mount never sees the change). Undefined when
 * the machine has no startup config to mount.
 */
export function startupConfigDigest(
  m: MachinePlan,
  singleHost: boolean,
  secrets: readonly string[],
): string | undefined {
  // Once per machine and layout: every agent of the machine asks, and a config may hold a thousand.
  const memo = digests.get(m) ?? new Map<string, string | undefined>();
  digests.set(m, memo);
  const key = `${singleHost}\0${secrets.join('\0')}`;
  if (memo.has(key)) return memo.get(key);
  const text = startupConfigText(m, singleHost, '', secrets);
  const data =
    text === undefined
      ? undefined
      : parseDocument(text, { version: '1.1', uniqueKeys: false, merge: true }).toJS({ maxAliasCount: -1 });
  const digest = data === undefined ? undefined : shortDigest(JSON.stringify(canonical(data)));
  memo.set(key, digest);
  return digest;
}

const digests = new WeakMap<MachinePlan, Map<string, string | undefined>>();

/** The digest the rollout labels and annotations carry: 16 hex digits of SHA-256. */
export function shortDigest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** The label (compose) and annotation (Kubernetes) that carries {@link startupConfigDigest}. */
export const STARTUP_CONFIG_DIGEST = 'agent-infra/startup-config-sha256';
