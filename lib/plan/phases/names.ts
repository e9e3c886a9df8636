/** Names: one DNS name per agent; an agent defined on several machines gets the machine as a suffix. */
import { diag, type Diagnostic } from '../../diagnostics.ts';
import { byString } from '../names.ts';
import type { Draft } from './drafts.ts';

/** Drafts grouped by agent name (one name may be defined on several machines), in input order. */
export function byAgentName<T extends Pick<Draft, 'cfg'>>(drafts: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const d of drafts) {
    const list = out.get(d.cfg.name);
    if (list) list.push(d);
    else out.set(d.cfg.name, [d]);
  }
  return out;
}

/** The drafts with their final ids (those whose id another took are dropped with an error), and by id. */
export function nameAgents(drafts: readonly Draft[]): {
  live: Draft[];
  byId: Map<string, Draft>;
  diagnostics: Diagnostic[];
} {
  const ds: Diagnostic[] = [];
  const ids = new Map<Draft, string>();
  for (const [name, list] of [...byAgentName(drafts)].sort((a, b) => byString(a[0], b[0]))) {
    if (list.length > 1) {
      ds.push(
        diag(
          'shared-agent-name',
          'info',
          `agent '${name}' is defined on ${list.map((d) => d.cfg.machine).join(' and ')}; each gets its machine as a name suffix`,
          list[0]!.cfg.at,
        ),
      );
      for (const d of list) ids.set(d, `${d.id.slice(0, 62 - d.cfg.machine.length)}-${d.cfg.machine}`);
    } else ids.set(list[0]!, list[0]!.id);
  }
  const byId = new Map<string, Draft>();
  for (const d of drafts) {
    const id = ids.get(d)!;
    const other = byId.get(id);
    if (other) {
      ds.push(
        diag(
          'duplicate-agent',
          'error',
          `agents '${other.cfg.name}' and '${d.cfg.name}' both get the name '${id}'; rename one`,
          d.cfg.at,
        ),
      );
      continue;
    }
    byId.set(id, id === d.id ? d : { ...d, id });
  }
  return { live: [...byId.values()], byId, diagnostics: ds };
}
