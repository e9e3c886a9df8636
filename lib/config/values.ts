/** What the startup-config readers share: the shape of an agent's definition, the mapping test, how a value is shown. */
import type { Diagnostic, SourceRef } from '../diagnostics.ts';
import type { Variables } from './expr.ts';
import { YamlTimestamp, type YamlSource } from '../io/yaml-source.ts';

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function describe(v: unknown, written?: string): string {
  if (written !== undefined && typeof v !== 'string' && !(v instanceof YamlTimestamp))
    return `${written} (YAML reads it unquoted as ${typeof v === 'boolean' ? 'the boolean' : typeof v === 'number' ? 'the number' : 'the value'} ${String(v)}; quote it if it is text)`;
  if (v === null || v === undefined) return 'nothing';
  if (v instanceof YamlTimestamp)
    return `the date ${v.text} (YAML reads it unquoted as a timestamp; quote it if it is text)`;
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

export const AGENT_FIELDS = new Set([
  'name',
  'script_path',
  'port',
  'health_check_port',
  'required',
  'dependencies',
  'host',
  'config',
  'params',
  'module',
  'class',
  'startup_priority',
  'description',
  'env',
  'environment',
  'agent_name',
]);

export interface AgentNode {
  readonly name: string;
  readonly group: string;
  readonly value: unknown;
  readonly path: string;
  /** The mapping or list that holds the agent, and its key there. */
  readonly container: object;
  readonly key: string | number;
}

/** What the readers of one agent's fields share: where it is, and where its problems go. */
export interface AgentContext {
  readonly name: string;
  readonly path: string;
  readonly value: Obj;
  readonly here: SourceRef;
  readonly vars: Variables;
  readonly src: YamlSource;
  readonly ds: Diagnostic[];
}
