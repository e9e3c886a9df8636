/**
 * The source stage, between load and plan: each agent's script read from the system's source tree,
 * its problems and its disagreements with the config turned into diagnostics, and, with
 * `trust: code` (the default), the configs adjusted to what the code does: the health port it
 * really binds and the agents it really connects to.
 */
import { join, relative } from 'node:path';
import { andList, diag, type Diagnostic, type SourceRef } from '../diagnostics.ts';
import type { AgentConfig, ExtraPort, MachineConfig } from '../config/model.ts';
import type { DeploymentSpec, HealthCheck } from '../config/spec.ts';
import type { StartProblem } from '../plan/types.ts';
import { overrideFor } from '../plan/phases/drafts.ts';
import { byString } from '../plan/names.ts';
import { cacheDir, FactsCache } from './cache.ts';
import { StreamingJudge } from './cpython.ts';
import { DISTRIBUTION_OF, installedBy, normalName } from './requirements.ts';
import { ZMQ_PEERS, zmqPair } from './zmq.ts';
import { STDLIB } from './stdlib.ts';
import type { ArgValue } from './python.ts';
import { readScript, SourceTree, startStep, type Outcome, type ScriptFacts, type SourceProblem } from './tree.ts';

export interface SourceStage {
  readonly configs: readonly MachineConfig[];
  /** Per agent (`machine/name`), what its code does. */
  readonly facts: ReadonlyMap<string, ScriptFacts>;
  /** Per agent (`machine/name`) whose code binds its health socket elsewhere than its config says: both ports. */
  readonly healthDrift: ReadonlyMap<string, { readonly config: number; readonly code: number }>;
  /** Per agent (`machine/name`), the agents its code connects to that its config does not list. */
  readonly undeclared: ReadonlyMap<string, readonly string[]>;
  /** Connections between ZMQ socket types that never pair, by machine, agent and line. */
  readonly mismatches: readonly SocketMismatch[];
  /** Per agent (`machine/name`) whose start its code stops: the first problem it dies of. */
  readonly cannotStart: ReadonlyMap<string, CannotStart>;
  readonly diagnostics: readonly Diagnostic[];
}

/** A socket connected to an agent's port where that agent binds a type ZMQ never pairs it with. */
export interface SocketMismatch {
  readonly from: string;
  readonly machine: string;
  readonly socket: string;
  readonly endpoint: string;
  /** Where the code connects (relative to the source root). */
  readonly file: string;
  readonly line: number;
  readonly to: string;
  readonly bound: string;
}

/** The problem an agent's start dies of, as the code says it (`file` relative to the source root). */
export type CannotStart = StartProblem;

/**
 * The port a constructor argument binds when the code decides it: a literal, or the default of a variable
 * the plan does not set (`int(os.getenv("X", "5642"))` with X unset binds 5642). Undefined where the
 * plan's port reaches the code: through `planned` (AGENT_PORT, HEALTH_CHECK_PORT, which the plan sets
 * to the agent's ports), or a value only the running code knows.
 */
export function argPort(v: ArgValue, planned: 'AGENT_PORT' | 'HEALTH_CHECK_PORT'): number | undefined {
  if (v.kind === 'int') return v.value;
  if (v.kind === 'env' && v.name !== planned) return v.default;
  return undefined;
}

/** The health port the code binds, when it can be told: a port it passes, or its port + 1. */
function codeHealthPort(f: ScriptFacts, configPort: number): number | undefined {
  const h = f.health;
  if (!h) return undefined;
  if (h.kind === 'passed') return argPort(h.value, 'HEALTH_CHECK_PORT');
  if (h.kind === 'port+1') return (argPort(h.port, 'AGENT_PORT') ?? configPort) + 1;
  return undefined;
}

/**
 * How to probe an agent whose code has no health server (no BaseAgent): the HTTP server it starts (a
 * Prometheus exporter answers `GET /metrics`), else a TCP connect to the port it binds that is its
 * service port. Undefined when the code says neither (the spec's default or the preset then applies).
 */
function codeProbe(
  a: AgentConfig,
  f: ScriptFacts,
  shown: (file: string) => string,
):
  | {
      check: HealthCheck;
      extraPorts: ExtraPort[];
      servicePortByCode: boolean;
      why: string;
      file: string;
      line: number;
    }
  | undefined {
  if (!f.compiles || f.framework !== 'none') return undefined;
  const server = f.httpServers.find((h) => h.port !== undefined);
  if (server) {
    const port = server.port!;
    const declared = port === a.port.value || a.extraPorts.some((e) => e.port === port);
    const at = { file: shown(server.file), line: server.line, column: 1, path: '' };
    return {
      check: { protocol: 'http', port, path: '/metrics' },
      extraPorts: declared ? [] : [{ name: 'metrics', port, at, byCode: true }],
      servicePortByCode: false,
      why: `the plan probes the HTTP server its code starts on ${port} (GET /metrics, line ${server.line}) and lists that port`,
      file: server.file,
      line: server.line,
    };
  }
  const bind = f.binds.find((b) => b.port === a.port.value);
  if (bind)
    return {
      check: { protocol: 'tcp', port: 'service' },
      extraPorts: [],
      servicePortByCode: true,
      why: `the plan probes a TCP connect to port ${bind.port}, which its code binds (line ${bind.line})`,
      file: bind.file,
      line: bind.line,
    };
  return undefined;
}

/**
 * Why nothing can probe an agent its code runs: it is no BaseAgent, it answers on no port the plan knows
 * (no HTTP server on a port it can tell, no bind of its configured port) and it binds a port the kernel
 * picks. Undefined when a probe can find it, or when the spec gives it a health check of its own.
 */
function unprobeable(spec: DeploymentSpec, a: AgentConfig, f: ScriptFacts): StartProblem | undefined {
  const k = f.kernelPorts[0];
  if (!k || !f.compiles || f.framework !== 'none') return undefined;
  if (f.httpServers.some((h) => h.port !== undefined) || f.binds.some((b) => b.port === a.port.value)) return undefined;
  const o = overrideFor(spec, a);
  if (o.health || o.probe || o.framework) return undefined;
  return {
    code: 'unprobeable-port',
    message: `${a.name} binds a port the kernel picks (${k.text}, line ${k.line}) and answers on no port the plan knows (not its configured ${a.port.value}): no probe can find it and no agent can reach it; bind its port (AGENT_PORT), or give agents.${a.name} a health check`,
    file: k.file,
    line: k.line,
    // It fails after it starts, when it is probed: any failure of its start comes first.
    step: Number.MAX_SAFE_INTEGER,
  };
}

/**
 * The machine an endpoint's host names: its address variable or a helper named after it
 * (`{PC2_IP}`, `get_pc2_ip()`, `MAINPC_IP` for `MAIN_PC_IP`), or one of its old address literals.
 * Undefined for any other host (loopback, a service name, a value the code computes).
 */
function machineOfHost(spec: DeploymentSpec, host: string): string | undefined {
  const squash = (s: string) => s.toUpperCase().replace(/_/g, '');
  const h = squash(host);
  for (const [name, m] of Object.entries(spec.machines)) {
    if (m.legacyAddresses.includes(host)) return name;
    if (m.addressEnv && h.includes(squash(m.addressEnv))) return name;
  }
  return undefined;
}

/** What to do about a problem of the code. */
function fixOf(p: SourceProblem): string {
  switch (p.code) {
    case 'missing-module':
      return 'add the module to the source tree or fix the import';
    case 'relative-import':
      return 'import it absolutely (from package.module import name)';
    case 'script-syntax-error':
      return 'the agent cannot start until it compiles';
    default:
      return 'fix the file';
  }
}

const agentKey = (a: AgentConfig) => `${a.machine}/${a.name}`;

/** The problem an agent dies of: the first fatal one in the order Python runs the start. */
function fatalProblem(f: ScriptFacts): SourceProblem | undefined {
  const fatal = f.problems.filter((p) => p.code !== 'namespace-package' && (p.outcome ?? 'fatal') === 'fatal');
  return [...fatal].sort((a, b) => startStep(f, a) - startStep(f, b))[0];
}

const OUTCOME_ORDER: readonly Outcome[] = ['fatal', 'when-called', 'handled'];

/**
 * One diagnostic per problem of the code, naming the agents it reaches: an error where it stops an
 * agent's start, a warning where it fails only when a function is called, a note where a `try` lets
 * the agent go on.
 */
function causeDiagnostic(
  p: SourceProblem,
  agents: readonly { agent: AgentConfig; outcome?: Outcome }[],
  shown: (file: string) => string,
): Diagnostic {
  return { ...causeDiagnosticOf(p, agents, shown), agents: [...new Set(agents.map((x) => agentKey(x.agent)))].sort() };
}

/** Where the config names the agent's script (else the agent), when the problem is that its script is not in the tree. */
function missingOwnScript(p: SourceProblem, a: AgentConfig): SourceRef | undefined {
  return p.code === 'missing-script' && p.file === a.scriptPath ? (a.scriptAt ?? a.at) : undefined;
}

function causeDiagnosticOf(
  p: SourceProblem,
  agents: readonly { agent: AgentConfig; outcome?: Outcome }[],
  shown: (file: string) => string,
): Diagnostic {
  const first = agents[0]!.agent;
  const scriptAt = missingOwnScript(p, first);
  if (scriptAt)
    return {
      ...diag(
        p.code,
        'error',
        `${first.name}'s script ${shown(p.file)} does not exist (script_path is read from the root of the source tree); fix the path, or point the source root at the repository's root`,
        scriptAt,
      ),
      stops: [agentKey(first)],
    };
  const at = { file: shown(p.file), line: p.line, column: 1, path: '' };
  if (p.code === 'namespace-package') return diag(p.code, 'info', p.message, at);
  const worst = OUTCOME_ORDER.find((o) => agents.some((x) => (x.outcome ?? 'fatal') === o)) ?? 'fatal';
  const own = agents.length === 1 && agents[0]!.agent.scriptPath === p.file;
  const names = agents.map((x) => `${x.agent.name}'s ${x.agent.scriptPath}`).sort();
  const whose = own ? '' : ` (imported by ${andList(names)})`;
  if (worst === 'fatal') {
    const stops = agents.filter((x) => (x.outcome ?? 'fatal') === 'fatal').map((x) => agentKey(x.agent));
    return {
      ...diag(p.code, 'error', `${p.message}${whose}; ${fixOf(p)}`, at),
      stops: [...new Set(stops)].sort(),
    };
  }
  if (worst === 'when-called')
    return diag(
      p.code,
      'warning',
      `${p.message}${whose}; the import is inside a function: it fails when that function is called, not at start; ${fixOf(p).replace('the agent cannot start until it compiles', 'fix it')}`,
      at,
    );
  return diag(p.code, 'info', `${p.message}${whose}; a try around the import lets the agent go on without it`, at);
}

/** What the per-agent readers of the stage share. */
interface StageContext {
  readonly spec: DeploymentSpec;
  readonly trustCode: boolean;
  readonly shown: (file: string) => string;
  readonly ds: Diagnostic[];
  /** Which agents declare each port, over all machines. */
  readonly owners: ReadonlyMap<number, readonly AgentConfig[]>;
  readonly undeclared: Map<string, string[]>;
  readonly healthDrift: Map<string, { config: number; code: number }>;
  /** What the code of each agent with a script does. */
  readonly factsOf: (a: AgentConfig) => ScriptFacts | undefined;
  readonly mismatches: SocketMismatch[];
}

/**
 * The socket type an agent binds at a port: a bind its code makes there, or a BaseAgent's REP sockets
 * at its service port and the health port its code computes (RUNTIME.md's framework), unless the
 * script itself binds at a port the reader cannot tell.
 */
function boundSocket(ctx: StageContext, o: AgentConfig, port: number) {
  const f = ctx.factsOf(o);
  if (!f) return undefined;
  const bind = f.binds.find((b) => b.port === port && b.socketType);
  if (bind) return { type: bind.socketType!, at: `${ctx.shown(bind.file)}:${bind.line}` };
  // The script's own bind at a port it computes may be the one at this port: then nothing is plain.
  const ownUnread = f.binds.some((b) => b.file === f.script && b.port === undefined);
  if (
    f.compiles &&
    f.framework !== 'none' &&
    !ownUnread &&
    (port === o.port.value || port === codeHealthPort(f, o.port.value))
  )
    return { type: 'REP' as const, at: `its ${f.framework} base class` };
  return undefined;
}

/** A connection between socket types ZMQ never pairs: said where the code connects. */
function socketMismatch(ctx: StageContext, a: AgentConfig, c: ScriptFacts['connects'][number], to: AgentConfig) {
  if (!c.socketType || c.port === undefined) return;
  const bound = boundSocket(ctx, to, c.port);
  if (!bound || zmqPair(c.socketType, bound.type)) return;
  const peers = ZMQ_PEERS[bound.type];
  ctx.mismatches.push({
    from: a.name,
    machine: a.machine,
    socket: c.socketType,
    endpoint: c.text,
    file: c.file,
    line: c.line,
    to: to.name,
    bound: bound.type,
  });
  ctx.ds.push(
    diag(
      'socket-mismatch',
      'warning',
      `${a.name} connects a ${c.socketType} socket to ${c.text} (line ${c.line}), where ${to.name} binds a ${bound.type} socket (${bound.at}): ZMQ never pairs ${c.socketType} with ${bound.type}, so no message passes either way; only a ${peers.join(' or ')} socket talks to a ${bound.type}`,
      { file: ctx.shown(c.file), line: c.line, column: 1, path: '' },
    ),
  );
}

/** The agent's service and health ports as its code decides them (trust: code), with the drifts reported. */
function codePorts(
  { trustCode, ds, healthDrift }: StageContext,
  a: AgentConfig,
  f: ScriptFacts,
  scriptAt: SourceRef,
): { port: AgentConfig['port']; health: AgentConfig['healthCheckPort'] } {
  let health = a.healthCheckPort;
  const code = codeHealthPort(f, a.port.value);
  if (f.health && code !== undefined && code !== a.healthCheckPort.value) {
    const why =
      f.health.kind === 'port+1'
        ? 'port + 1: its base constructor gets no health_check_port'
        : 'the health_check_port it passes its base constructor';
    const plan = trustCode
      ? `the plan probes ${code} (trust: code)`
      : `the plan keeps ${a.healthCheckPort.value} (trust: config), where nothing answers`;
    ds.push(
      diag(
        'health-port-drift',
        'warning',
        `${a.name} binds its health socket at ${code} (${why}, line ${f.health.line}) but its config says ${a.healthCheckPort.value}; ${plan}`,
        { ...scriptAt, line: f.health.line },
      ),
    );
    healthDrift.set(`${a.machine}/${a.name}`, { config: a.healthCheckPort.value, code });
  }
  // Ports the code decides are planned where the code binds them, and never moved (trust: code).
  if (trustCode && f.health && code !== undefined)
    health = { value: code, at: { ...scriptAt, line: f.health.line }, derived: false, byCode: true };
  let port: AgentConfig['port'] = a.port;
  const literal = f.servicePort ? argPort(f.servicePort.value, 'AGENT_PORT') : undefined;
  if (trustCode && f.servicePort && (literal !== undefined || f.health?.kind === 'port+1'))
    // A literal port, or the port its health socket is computed from: moving it would leave the health port behind.
    port = { value: literal ?? a.port.value, at: { ...scriptAt, line: f.servicePort.line }, byCode: true };
  if (f.health?.kind === 'free-port')
    ds.push(
      diag(
        'port-drift',
        'warning',
        `${a.name} passes no port to its base constructor (line ${f.health.line}), which then binds the first free port from 5000, not ${a.port.value}, and its health socket one above it: no probe can find it and no other agent can reach it; pass port= (and health_check_port=)`,
        { ...scriptAt, line: f.health.line },
      ),
    );
  else if (f.health?.kind === 'port+1' && literal !== undefined && literal !== a.port.value) {
    const how = f.health.port.kind === 'env' ? ` (${f.health.port.name} is not set, so its default)` : '';
    ds.push(
      diag(
        'port-drift',
        'warning',
        `${a.name} binds port ${literal}${how} (line ${f.health.line}) but its config says ${a.port.value}; ${trustCode ? `the plan binds ${literal}, as the code does (trust: code)` : 'fix one of them'}`,
        { ...scriptAt, line: f.health.line },
      ),
    );
  }
  return { port, health };
}

/** The agent's dependencies with the connections its code makes (trust: code), each difference reported. */
function codeEdges(ctx: StageContext, a: AgentConfig, f: ScriptFacts) {
  const { spec, trustCode, shown, ds, owners, undeclared } = ctx;
  // Connections the config does not list.
  const deps = [...a.dependencies];
  for (const c of f.connects) {
    if (c.port === undefined) continue;
    const named = machineOfHost(spec, c.hostWritten ?? c.host) ?? machineOfHost(spec, c.host);
    // An address that names a machine (`{PC2_IP}`, `get_pc2_ip()`) is an edge to that machine's agent only.
    const to = (owners.get(c.port) ?? []).filter((o) => o !== a && (named === undefined || o.machine === named));
    const at = { file: shown(c.file), line: c.line, column: 1, path: '' };
    if (to.length === 0 && named !== undefined) {
      ds.push(
        diag(
          'unknown-endpoint',
          'warning',
          `${a.name} connects to ${c.text} (line ${c.line}), port ${c.port} on ${named}, where no agent binds it; fix the endpoint or add the agent`,
          at,
        ),
      );
      continue;
    }
    if (to.length === 0) {
      ds.push(
        diag(
          'unknown-endpoint',
          'warning',
          `${a.name} connects to ${c.text} (line ${c.line}), a port no agent binds; fix the endpoint or add the agent`,
          at,
        ),
      );
      continue;
    }
    const target = to.find((o) => o.machine === a.machine) ?? to[0]!;
    socketMismatch(ctx, a, c, target);
    if (deps.some((d) => d.value === target.name)) continue;
    ds.push(
      diag(
        'undeclared-dependency',
        'warning',
        `${a.name} connects to port ${c.port} (${target.name}) at line ${c.line} but does not list it in its dependencies${trustCode ? '; the plan adds the edge (trust: code)' : ''}`,
        at,
      ),
    );
    if (trustCode) deps.push({ value: target.name, at });
    undeclared.set(`${a.machine}/${a.name}`, [...(undeclared.get(`${a.machine}/${a.name}`) ?? []), target.name]);
  }
  return deps;
}

/** One agent's config as its code says it runs: ports, edges, probe, framework, what it reads. */
function adjustAgent(ctx: StageContext, a: AgentConfig, f: ScriptFacts, scriptAt: SourceRef): AgentConfig {
  const { trustCode, shown, ds } = ctx;
  const ports = codePorts(ctx, a, f, scriptAt);
  let port = ports.port;
  const health = ports.health;
  const deps = codeEdges(ctx, a, f);
  const mounted = overrideFor(ctx.spec, a).dockerSocket === true;
  for (const d of f.dockerEngine.slice(0, 1))
    ds.push(
      diag(
        'docker-engine',
        'warning',
        mounted
          ? `${a.name} talks to the Docker engine (${d.text}, line ${d.line}) and the spec mounts its socket (dockerSocket: true): in compose the agent can do anything root can on the host; its Kubernetes pod gets no socket and fails when that line runs`
          : `${a.name} talks to the Docker engine (${d.text}, line ${d.line}), whose socket no container gets: it fails when that line runs; mounting /var/run/docker.sock gives the agent root on the host, so agent-infra does it only where the spec says dockerSocket: true for the agent`,
        { file: shown(d.file), line: d.line, column: 1, path: '' },
      ),
    );
  const probe = trustCode ? codeProbe(a, f, shown) : undefined;
  if (probe)
    ds.push(
      diag('code-probe', 'info', `${a.name} has no health server of its own; ${probe.why}`, {
        file: shown(probe.file),
        line: probe.line,
        column: 1,
        path: '',
      }),
    );
  if (probe?.servicePortByCode) port = { ...port, byCode: true };
  const codeReads = [...new Set(f.envReads.map((e) => e.name))].sort();
  const framework: AgentConfig['framework'] = !f.compiles ? undefined : f.framework === 'none' ? 'none' : 'baseagent';
  const known = { codeReads, ...(framework ? { framework } : {}) } as const;
  return trustCode
    ? {
        ...a,
        port,
        healthCheckPort: health,
        dependencies: deps,
        ...(probe ? { codeHealth: probe.check, extraPorts: [...a.extraPorts, ...probe.extraPorts] } : {}),
        ...known,
      }
    : { ...a, ...known };
}

/** The stage's tree and the reading of every agent's script, before CPython's verdicts are in. */
function openStage(spec: DeploymentSpec, configs: readonly MachineConfig[], sourceRoot: string, cwd: string) {
  const cache = new FactsCache(cacheDir(cwd));
  const tree = new SourceTree(sourceRoot, cache, new Set(spec.envHelpers));
  // A top-level name the standard library has, or a distribution some requirement file installs, is not
  // shadowed by a local folder without __init__.py.
  const installed = new Set(
    Object.values(spec.images ?? {}).flatMap((f) => f.requirements.flatMap((r) => [...installedBy(sourceRoot, r)])),
  );
  const elsewhere = (top: string) => STDLIB.has(top) || installed.has(normalName(DISTRIBUTION_OF[top] ?? top));
  const scripts = configs.flatMap((c) => c.agents).filter((a) => a.scriptPath);
  const readAll = () => new Map(scripts.map((a) => [a, readScript(tree, a.scriptPath!, elsewhere)] as const));
  return { cache, tree, readAll };
}

export function readSources(
  spec: DeploymentSpec,
  configs: readonly MachineConfig[],
  sourceRoot: string,
  cwd: string,
): SourceStage {
  const opened = openStage(spec, configs, sourceRoot, cwd);
  return closeStage(spec, configs, sourceRoot, cwd, opened, opened.readAll());
}

/**
 * {@link readSources}, with CPython compiling each file in a process of its own as soon as it is read,
 * while this one parses the next: its verdicts are in when the reading ends.
 */
export async function readSourcesAsync(
  spec: DeploymentSpec,
  configs: readonly MachineConfig[],
  sourceRoot: string,
  cwd: string,
): Promise<SourceStage> {
  const opened = openStage(spec, configs, sourceRoot, cwd);
  const judge = opened.tree.pythonId ? new StreamingJudge() : undefined;
  if (judge) opened.tree.onUnjudged = (rel, text) => judge.submit(rel, text);
  const read = opened.readAll();
  opened.tree.onUnjudged = undefined;
  const judged = await judge?.finish();
  if (judged) opened.tree.addVerdicts(judged.version, judged.verdicts);
  return closeStage(spec, configs, sourceRoot, cwd, opened, read);
}

/** CPython's verdicts applied (the scripts read again where they change what compiles), then the facts turned into the stage. */
function closeStage(
  spec: DeploymentSpec,
  configs: readonly MachineConfig[],
  sourceRoot: string,
  cwd: string,
  { cache, tree, readAll }: ReturnType<typeof openStage>,
  firstRead: ReadonlyMap<AgentConfig, ScriptFacts>,
): SourceStage {
  const shown = (file: string) => relative(cwd, join(sourceRoot, file)) || file;
  const ds: Diagnostic[] = [];
  const facts = new Map<string, ScriptFacts>();
  const undeclared = new Map<string, string[]>();
  const healthDrift = new Map<string, { config: number; code: number }>();
  const cannotStart = new Map<string, CannotStart>();
  // Each problem of the code once, with every agent it reaches and what it does to each.
  const causes = new Map<string, { problem: SourceProblem; agents: { agent: AgentConfig; outcome?: Outcome }[] }>();
  // Which agent holds each port, per machine and over all machines.
  const owners = new Map<number, AgentConfig[]>();
  for (const c of configs)
    for (const a of c.agents)
      for (const p of [a.port.value, a.healthCheckPort.value, ...a.extraPorts.map((e) => e.port)])
        owners.set(p, [...(owners.get(p) ?? []), a]);
  let read = firstRead;
  // CPython judges every file read; where it changes what compiles, the walks run again (at most a few times).
  for (let i = 0; i < 5 && tree.judgeWithPython(); i++) read = readAll();
  const ctx: StageContext = {
    spec,
    trustCode: spec.trust === 'code',
    shown,
    ds,
    owners,
    undeclared,
    healthDrift,
    factsOf: (o) => read.get(o),
    mismatches: [],
  };
  const adjusted = configs.map((c) => ({
    ...c,
    agents: c.agents.map((a) => {
      if (!a.scriptPath) return a;
      const f = read.get(a)!;
      facts.set(agentKey(a), f);
      const dies = fatalProblem(f);
      if (dies) {
        // No script at all: the line to fix is the config's script_path, not line 1 of a file that is not there.
        const at = missingOwnScript(dies, a);
        cannotStart.set(agentKey(a), {
          code: dies.code,
          message: at ? `no file ${dies.file} under the source root` : dies.message,
          file: at?.file ?? dies.file,
          line: at?.line ?? dies.line,
          step: startStep(f, dies),
        });
      }
      const hidden = dies ? undefined : unprobeable(spec, a, f);
      if (hidden) {
        cannotStart.set(agentKey(a), hidden);
        ds.push({
          ...diag('unprobeable-port', 'error', hidden.message, {
            file: shown(hidden.file),
            line: hidden.line,
            column: 1,
            path: '',
          }),
          stops: [agentKey(a)],
          agents: [agentKey(a)],
        });
      }
      for (const p of f.problems) {
        // A missing script is said once per agent, at its own script_path.
        const key = missingOwnScript(p, a) ? `${p.code} ${agentKey(a)}` : `${p.code} ${p.file}:${p.line}`;
        const cause = causes.get(key) ?? { problem: p, agents: [] };
        cause.agents.push({ agent: a, outcome: p.outcome });
        causes.set(key, cause);
      }
      return adjustAgent(ctx, a, f, { file: shown(a.scriptPath), line: 1, column: 1, path: '' });
    }),
  }));
  for (const { problem, agents } of causes.values()) ds.push(causeDiagnostic(problem, agents, shown));
  cache.save();
  return {
    configs: adjusted,
    facts,
    undeclared,
    mismatches: ctx.mismatches.sort(
      (x, y) => byString(x.machine, y.machine) || byString(x.from, y.from) || x.line - y.line,
    ),
    healthDrift,
    cannotStart,
    diagnostics: ds,
  };
}
