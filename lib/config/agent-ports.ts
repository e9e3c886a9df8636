/** An agent's `port` and `health_check_port`, read as the agents' own loader reads them. */
import { diag, type Diagnostic, type SourceRef } from '../diagnostics.ts';
import { evaluatePort } from './expr.ts';
import { type Located } from './model.ts';
import { joinPath } from '../io/yaml-source.ts';
import { describe, isObj, type AgentContext } from './values.ts';

/** `port` and `health_check_port` (also under `params`; port + 1000 when absent), or undefined after an error. */
export function readAgentPorts({
  name,
  path,
  value,
  here,
  vars,
  src,
  ds,
}: AgentContext): { port: Located<number>; health: Located<number> & { derived: boolean } } | undefined {
  if (value['port'] === undefined || value['port'] === null) {
    ds.push(diag('invalid-value', 'error', `agent '${name}' has no port; add 'port: NNNN'`, here));
    return undefined;
  }
  const portAt = src.locate(value, 'port', joinPath(path, 'port'));
  const port = evaluatePort(value['port'], vars);
  const portWritten = src.writtenAt(joinPath(path, 'port'));
  if (!port.ok)
    ds.push(
      diag(
        'invalid-value',
        'error',
        `${port.reason}, got ${describe(value['port'], portWritten)}; ${port.fix}`,
        portAt,
      ),
    );
  else if (portWritten !== undefined) ds.push(readAs('port', portWritten, port.value, portAt));
  const params = isObj(value['params']) ? value['params'] : {};
  const own = value['health_check_port'] !== undefined;
  const hcRaw = own ? value['health_check_port'] : params['health_check_port'];
  const hcPath = own ? joinPath(path, 'health_check_port') : joinPath(joinPath(path, 'params'), 'health_check_port');
  if (hcRaw !== undefined && hcRaw !== null) {
    const h = evaluatePort(hcRaw, vars);
    const hcWritten = src.writtenAt(hcPath);
    if (!h.ok) {
      ds.push(
        diag('invalid-value', 'error', `${h.reason}, got ${describe(hcRaw, hcWritten)}; ${h.fix}`, src.at(hcPath)),
      );
      return undefined;
    }
    if (hcWritten !== undefined) ds.push(readAs('health_check_port', hcWritten, h.value, src.at(hcPath)));
    return port.ok
      ? {
          port: { value: port.value, at: portAt },
          health: { value: h.value, at: src.locate(own ? value : params, 'health_check_port', hcPath), derived: false },
        }
      : undefined;
  }
  if (!port.ok) return undefined;
  if (port.value + 1000 > 65535) {
    ds.push(
      diag(
        'invalid-value',
        'error',
        `agent '${name}' declares no health_check_port and port + 1000 is past 65535; add 'health_check_port'`,
        here,
      ),
    );
    return undefined;
  }
  return { port: { value: port.value, at: portAt }, health: { value: port.value + 1000, at: portAt, derived: true } };
}

/** A port written in a form YAML 1.1 reads as another number (`1:30` is 90, `0x1C20` 7200), as the agents' own loader does. */
function readAs(key: string, written: string, value: number, at: SourceRef): Diagnostic {
  return diag(
    'invalid-value',
    'warning',
    `${key} is written ${written}, which YAML 1.1 reads as ${value} (as the agents' own loader does); write ${value} if that is meant, else the port it should be`,
    at,
  );
}
