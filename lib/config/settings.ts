/** A machine's settings from its startup config: ports, timeouts, resources, health, networks. */
import { diag, type Diagnostic, type SourceRef } from '../diagnostics.ts';
import { evaluatePort, substitute, type Variables } from './expr.ts';
import { type Located, type MachineSettings, type PortRange } from './model.ts';
import { joinPath } from '../io/yaml-source.ts';
import { envNameProblem } from './grammar.ts';
import { describe, isObj, type Obj } from './values.ts';
import { collectSecretRefs, SECRET_NAME } from './secrets.ts';

/** A number's allowed range where it is read: `[min, max]`, whole or not. */
interface Range {
  readonly min: number;
  readonly max: number;
  readonly whole: boolean;
  readonly what: string;
}

/**
 * Number `v` at `path` when it is in `range`; else undefined, with an error (an absent value is no
 * error: the defaults apply).
 */
function bounded(
  v: unknown,
  path: string,
  range: Range,
  at: (p: string) => SourceRef,
  ds: Diagnostic[],
): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (
    typeof v === 'number' &&
    Number.isFinite(v) &&
    v >= range.min &&
    v <= range.max &&
    (!range.whole || Number.isInteger(v))
  )
    return v;
  ds.push(
    diag(
      'invalid-value',
      'error',
      `${range.what} must be ${range.whole ? 'a whole number' : 'a number'} from ${range.min} to ${range.max.toLocaleString('en-US')}, got ${describe(v)}; fix the value or remove it for the default`,
      at(path),
    ),
  );
  return undefined;
}

const SECONDS: Omit<Range, 'what'> = { min: 1, max: 86_400, whole: true };

export function readSettings(
  root: Obj,
  at: (p: string) => SourceRef,
  vars: Variables,
  ds: Diagnostic[],
): MachineSettings {
  const gs = isObj(root['global_settings']) ? root['global_settings'] : {};
  const base = isObj(root['global_settings']) ? 'global_settings' : '';
  const pick = (k: string): [unknown, string] => (k in gs ? [gs[k], joinPath(base, k)] : [root[k], k]);
  const [envRaw, envPath] = pick('environment');
  const environment: { name: string; value: string }[] = [];
  const secretEnvironment: string[] = [];
  if (isObj(envRaw)) {
    for (const [name, value] of Object.entries(envRaw)) {
      const bad = envNameProblem(name);
      if (bad) {
        ds.push(diag('invalid-value', 'error', `'${name}' ${bad}; rename it`, at(joinPath(envPath, name))));
        continue;
      }
      if (value !== null && typeof value === 'object') {
        ds.push(
          diag(
            'invalid-value',
            'error',
            `'${name}' must have a string, number or boolean value, got ${describe(value)}; write the value on one line`,
            at(joinPath(envPath, name)),
          ),
        );
        continue;
      }
      if (SECRET_NAME.test(name)) {
        // The value never reaches an output: the agents get the name as a reference.
        secretEnvironment.push(name);
        ds.push(
          diag(
            'literal-secret',
            'warning',
            `'${name}' looks like a secret and the config holds its value; it is written to no output, the agents get it as a reference (a Secret in Kubernetes, \${${name}} from .env in compose): remove the value from the config`,
            at(joinPath(envPath, name)),
          ),
        );
        continue;
      }
      const { text, unresolved } = substitute(String(value), vars);
      if (unresolved.length > 0) {
        ds.push(
          diag(
            'unresolved-variable',
            'info',
            `'${name}' refers to ${unresolved.map((u) => `\${${u}}`).join(', ')} of the launching shell; it is left out of the generated environment`,
            at(joinPath(envPath, name)),
          ),
        );
        continue;
      }
      environment.push({ name, value: text });
    }
  }
  const [rlRaw, rlPath] = pick('resource_limits');
  const rl = isObj(rlRaw) ? rlRaw : {};
  const [hcRaw, hcPath] = pick('health_checks');
  const hc = isObj(hcRaw) ? hcRaw : {};
  const check = (o: Obj, base: string, key: string, range: Range) =>
    bounded(o[key], joinPath(base, key), range, at, ds);
  const portRanges: PortRange[] = [];
  const net = root['pc2_network'];
  if (isObj(net)) {
    for (const [key, role] of [
      ['agent_ports', 'service'],
      ['health_check_ports', 'health'],
    ] as const) {
      const r = net[key];
      if (isObj(r) && typeof r['start'] === 'number' && typeof r['end'] === 'number') {
        portRanges.push({ role, start: r['start'], end: r['end'], at: at(joinPath('pc2_network', key)) });
      }
    }
  }
  let errorBusPort: Located<number> | undefined;
  if (root['error_bus_port'] !== undefined) {
    const e = evaluatePort(root['error_bus_port'], vars);
    if (e.ok) errorBusPort = { value: e.value, at: at('error_bus_port') };
    else
      ds.push(
        diag(
          'invalid-value',
          'error',
          `${e.reason}, got ${describe(root['error_bus_port'])}; ${e.fix}`,
          at('error_bus_port'),
        ),
      );
  }
  const secretRefs = new Set<string>();
  collectSecretRefs(root, (s) => secretRefs.add(s));
  const hip = root['hybrid_inference_policy'];
  const lb = isObj(hip) && isObj(hip['local_backend']) ? hip['local_backend'] : undefined;
  const gpuDevice = typeof lb?.['gpu_device'] === 'string' ? lb['gpu_device'] : undefined;
  return {
    environment: environment.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    ...(secretEnvironment.length ? { secretEnvironment: secretEnvironment.sort() } : {}),
    memoryMiB: check(rl, rlPath, 'memory_mb', { min: 1, max: 2 ** 26, whole: true, what: 'memory_mb' }),
    cpuPercent: check(rl, rlPath, 'cpu_percent', { min: 1, max: 409_600, whole: false, what: 'cpu_percent' }),
    healthChecks: {
      intervalSeconds: check(hc, hcPath, 'interval_seconds', { ...SECONDS, what: 'interval_seconds' }),
      timeoutSeconds: check(hc, hcPath, 'timeout_seconds', { ...SECONDS, what: 'timeout_seconds' }),
      retries: check(hc, hcPath, 'retries', { min: 1, max: 1000, whole: true, what: 'retries' }),
      startPeriodSeconds: check(hc, hcPath, 'start_period_seconds', {
        ...SECONDS,
        min: 0,
        what: 'start_period_seconds',
      }),
    },
    portRanges,
    errorBusPort,
    secretRefs: [...secretRefs].sort(),
    gpuDevice,
  };
}
