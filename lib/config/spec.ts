/** The deployment spec `agent-infra.yaml`: machines, GPUs, overrides and image families, with defaults in one place. */
import { DIAGNOSTIC_CODES } from '../diagnostics.ts';
import { DEFAULTS } from './defaults.ts';
import { isIPv4 } from 'node:net';
import { z } from 'zod';
import {
  debianPackageProblem,
  dnsSubdomainProblem,
  ENV_NAME,
  gpuProductValues,
  IMAGE_TAG,
  imageReferenceProblem,
  labelValueProblem,
  pipLocationProblem,
  relativePathProblem,
  REPOSITORY,
} from './grammar.ts';

const PortNumber = z.number().int().min(1).max(65535);

/** A string that must fit the grammar of where it goes (see grammar.ts). */
const fits = (problem: (s: string) => string | undefined) =>
  z.string().superRefine((s, ctx) => {
    const p = problem(s);
    if (p) ctx.addIssue({ code: 'custom', message: p });
  });
/** A number read from the spec, range-checked where it is read: a positive amount no larger than `max`. */
const amount = (max: number) => z.number().positive().max(max);

/** Names of the charts and files beside the machines' own in dist/k8s (a machine's chart is `<machine>.yaml`). */
/** A machine's name: a lowercase word of at most 31 characters (it suffixes agents' DNS names). */
export const MACHINE_NAME = /^[a-z][a-z0-9-]{0,30}$/;

export const RESERVED_MACHINE_NAMES = new Set([
  'system',
  'gpu-sharing',
  'kustomization',
  'single-host',
  'redis',
  'nats',
]);

/** Namespaces a deployment must not take over. */
const SYSTEM_NAMESPACES = new Set(['default', 'kube-system', 'kube-public', 'kube-node-lease']);
const DnsLabel = z
  .string()
  .regex(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a DNS label: lowercase letters, digits and dashes');

/** An absolute host folder: no `..`, no spaces, quotes, `$` or control characters (it reaches compose binds and hostPath volumes). */
const HostPath = z
  .string()
  .regex(
    /^\/(?:[A-Za-z0-9._+@-]+\/?)*$/,
    'must be an absolute folder path of letters, digits and . _ + @ - (no spaces, quotes or $)',
  )
  .refine((p) => !p.split('/').includes('..'), 'must not contain ..');

export const GpuSchema = z.strictObject({
  /** Product name as GPU Feature Discovery reports it, e.g. `NVIDIA GeForce RTX 4090`. */
  model: z
    .string()
    .min(1)
    .superRefine((m, ctx) => {
      // It selects nodes by their product label, in its time-sliced form too.
      if (gpuProductValues(m).some((v) => labelValueProblem(v)))
        ctx.addIssue({
          code: 'custom',
          message:
            'as a node label (spaces as dashes, with -SHARED) it is not a Kubernetes label value: at most 55 letters, digits, spaces, - _ .',
        });
    }),
  // A sanity bound (64 TiB), not a card's: planning tools give one GPU the memory of many.
  vramGiB: amount(65536),
  device: z.number().int().min(0).max(63).default(0),
});

export const MachineSpecSchema = z.strictObject({
  /** Path of the machine's `startup_config.yaml`, relative to the spec file. */
  config: z.string().min(1),
  /** Environment variable that holds the machine's address. */
  addressEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name such as MAIN_PC_IP'),
  /** Address literals the machine used to have; reported as `hardcoded-ip` with `addressEnv` as the fix. */
  legacyAddresses: z.array(z.string().refine((a) => isIPv4(a), 'is not an IPv4 address')).default([]),
  gpus: z
    .array(GpuSchema)
    .default([])
    .superRefine((gpus, ctx) => {
      // Two cards on one device index would both be scheduled onto the same card.
      gpus.forEach((g, i) => {
        const first = gpus.findIndex((o) => o.device === g.device);
        if (first < i)
          ctx.addIssue({
            code: 'custom',
            message: `device ${g.device} is also GPU ${first}'s; give each GPU its own device index`,
            path: [i, 'device'],
          });
      });
    }),
  cpus: amount(4096).optional(),
  memoryGiB: amount(65536).optional(),
  /** The Kubernetes node that is this machine: its pods are pinned to it (needed for hostPath folders). @default - any node labelled agent-infra/machine=<name> */
  node: fits(dnsSubdomainProblem).optional(),
  /** The machine's model cache, shared by its agents (HF_HOME, TORCH_HOME, XDG_CACHE_HOME point into it). */
  cache: z
    .strictObject({
      sizeGiB: amount(65536).default(DEFAULTS.cacheSizeGiB),
      storageClassName: fits(dnsSubdomainProblem).optional(),
      /** A host folder (the real system keeps its models there) instead of a volume. */
      hostPath: HostPath.optional(),
      /** Where the agents see it. @default /app/.cache */
      path: HostPath.default('/app/.cache'),
    })
    .prefault({}),
  /** A host folder of model files the agents read (mounted read-only at /app/models; the real system keeps its models there). */
  models: z.strictObject({ hostPath: HostPath, sizeGiB: amount(65536).default(DEFAULTS.modelsSizeGiB) }).optional(),
  /** How the GPU device plugin shares this machine's cards: time-slicing, or MPS (an equal memory fraction per replica). @default time-slicing */
  sharing: z.enum(['time-slicing', 'mps']).default('time-slicing'),
  ports: z
    .strictObject({
      /** Range that reassigned ports are taken from. */
      range: z
        .strictObject({ start: PortNumber, end: PortNumber })
        .refine((r) => r.start <= r.end, {
          message: 'the range is inverted: start must not be above end',
          path: ['end'],
        })
        .optional(),
      onConflict: z.enum(['error', 'reassign']).default('error'),
    })
    .prefault({}),
});

const Millis = z.number().int().positive().max(4_096_000);
const MiB = z
  .number()
  .int()
  .positive()
  .max(2 ** 26);
const ResourcesSchema = z.strictObject({
  cpuMillis: Millis.optional(),
  cpuRequestMillis: Millis.optional(),
  memoryMiB: MiB.optional(),
  memoryRequestMiB: MiB.optional(),
});
/** Seconds an agent takes to start, or a probe waits: whole seconds up to a day. */
const Seconds = z.number().positive().max(86_400).refine(Number.isInteger, 'must be whole seconds');

/** The agent frameworks whose runtime contract agent-infra knows: `baseagent` (ZMQ health socket, HTTP /health and /metrics on health + 1), `http` (an HTTP /health on the health port). */
export const FRAMEWORKS = ['baseagent', 'http'] as const;
export type FrameworkName = (typeof FRAMEWORKS)[number];

/** A word of a health reply or a status set: letters, digits, _ . - */
const StatusWord = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'is not a status word (letters, digits, _ . -)');

/** How one probe asks an agent whether it is healthy, and on which of its ports. */
export const HealthCheckSchema = z
  .strictObject({
    protocol: z.enum(['zmq', 'http', 'tcp', 'exec']),
    /** `health` (its health port), `health+1`, `service`, or a port number. @default health */
    port: z.union([z.enum(['health', 'health+1', 'service']), PortNumber]).optional(),
    /** zmq: the request sent, JSON. @default {"action": "health_check"} */
    request: z
      .string()
      .max(4096)
      .refine((r) => {
        try {
          JSON.parse(r);
          return true;
        } catch {
          return false;
        }
      }, 'is not JSON')
      .optional(),
    /** zmq: the reply's `status` values that are healthy. @default [ok, healthy] */
    status: z.array(StatusWord).min(1).max(16).optional(),
    /** zmq: healthy only when the reply's `ready` is true too. @default false */
    ready: z.boolean().optional(),
    /** http: the path asked for. @default /health */
    path: z
      .string()
      .regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]{0,255}$/, 'is not a URL path (/ followed by URL characters)')
      .optional(),
    /** http: the status codes that are healthy. @default [200] */
    codes: z.array(z.number().int().min(100).max(599)).min(1).max(16).optional(),
    /** exec: the command run inside the container. */
    command: z
      .array(
        z
          .string()
          .min(1)
          .max(4096)
          .regex(/^[^\u0000-\u001f\u007f]*$/, 'must be one line'),
      )
      .min(1)
      .max(64)
      .optional(),
  })
  .superRefine((h, ctx) => {
    const allowed: Record<string, readonly string[]> = {
      zmq: ['request', 'status', 'ready'],
      http: ['path', 'codes'],
      tcp: [],
      exec: ['command'],
    };
    for (const k of ['request', 'status', 'ready', 'path', 'codes', 'command'] as const) {
      if (h[k] !== undefined && !allowed[h.protocol]!.includes(k))
        ctx.addIssue({ code: 'custom', message: `${k} does not apply to protocol ${h.protocol}`, path: [k] });
    }
    if (h.protocol === 'exec' && !h.command)
      ctx.addIssue({ code: 'custom', message: 'protocol exec needs a command', path: ['command'] });
    if (h.protocol === 'exec' && h.port !== undefined)
      ctx.addIssue({ code: 'custom', message: 'protocol exec takes no port', path: ['port'] });
  });
export type HealthCheck = z.infer<typeof HealthCheckSchema>;

/** An argument an agent is started with: one line, no NUL. */
const Argument = z
  .string()
  .max(4096)
  .regex(/^[^\u0000-\u001f\u007f]*$/, 'must be one line');

/** What an agent keeps across restarts: its data folder on a volume of its own. */
export const StateSchema = z.strictObject({
  /** Size of the agent's volume. @default 1 */
  sizeGiB: amount(65536).optional(),
  /** Kubernetes storage class of its PersistentVolumeClaim. @default - the cluster's default */
  storageClassName: fits(dnsSubdomainProblem).optional(),
  /** A host folder instead of a volume (compose bind, Kubernetes hostPath on the machine's pinned node). */
  hostPath: HostPath.optional(),
});

/** Overrides for one agent or one group; every field optional. */
export const OverrideSchema = z.strictObject({
  gpu: z.boolean().optional(),
  vramGiB: amount(1024).optional(),
  family: z.string().optional(),
  resources: ResourcesSchema.optional(),
  startupSeconds: Seconds.optional(),
  replicas: z.number().int().min(1).max(1000).optional(),
  /** Horizontal autoscaling between `replicas` and `maxReplicas` (never for GPU agents). */
  maxReplicas: z.number().int().min(1).max(1000).optional(),
  probe: z.enum(['http', 'tcp']).optional(),
  /** The agent's framework, which says how it answers health checks. @default - what its code shows, else defaults.framework */
  framework: z.enum(FRAMEWORKS).optional(),
  /** Readiness (and startup) probe. @default - the framework's */
  health: HealthCheckSchema.optional(),
  /** Liveness probe. @default - the framework's */
  liveness: HealthCheckSchema.optional(),
  /** Where the agent really binds its health socket: `service+1` (a BaseAgent given no health_check_port) or a number. @default - the config's health_check_port */
  healthPort: z.union([z.literal('service+1'), PortNumber]).optional(),
  /** Arguments after `python3 <script_path>`. */
  args: z.array(Argument).max(64).optional(),
  /** Its data folder (/app/data) on a volume of its own, or `false` for none. @default - defaults.state (agents of one replica) */
  state: z.union([z.literal(false), StateSchema]).optional(),
  disabled: z.boolean().optional(),
  /**
   * Mount the Docker engine's socket (`/var/run/docker.sock`) into the agent's compose container, with
   * the group `DOCKER_GID` names. It gives the agent root on the host: only for code that must drive the
   * engine. Kubernetes pods never get it (a hostPath socket breaks the restricted Pod Security level).
   * @default false
   */
  dockerSocket: z.boolean().optional(),
  secrets: z
    .array(
      z
        .string()
        .regex(
          /^[A-Z_][A-Z0-9_]*$/,
          'is not a secret name (uppercase letters, digits and _, as an environment variable)',
        ),
    )
    .optional(),
});

export const ImageFamilySchema = z.strictObject({
  gpu: z.boolean().default(false),
  /** Base images, pinned (a tag other than `latest`, or a digest). Build arguments in the Dockerfile. */
  builderBase: fits(imageReferenceProblem),
  runtimeBase: fits(imageReferenceProblem),
  buildPackages: z.array(fits(debianPackageProblem)).default([]),
  runtimePackages: z.array(fits(debianPackageProblem)).default([]),
  /** Requirement files, relative to the root of the source tree; each is copied with its path. */
  requirements: z.array(fits(relativePathProblem)).default([]),
  /**
   * Where pip finds packages, as defaults of the Dockerfile's build arguments PIP_INDEX_URL,
   * PIP_EXTRA_INDEX_URL and PIP_FIND_LINKS (a build may pass others): a GPU family can name the
   * PyTorch CUDA index here.
   */
  pip: z
    .strictObject({
      indexUrl: fits(pipLocationProblem).optional(),
      extraIndexUrls: z.array(fits(pipLocationProblem)).max(16).optional(),
      findLinks: z.array(fits(pipLocationProblem)).max(16).optional(),
    })
    .optional(),
  /** Source folders every image of the family needs besides its agents' own (shared packages such as `common`). */
  sharedDirs: z
    .array(fits((d) => (d.includes('/') ? 'a top-level folder name, without /' : relativePathProblem(d))))
    .default([]),
  /** Size budget for the built image. */
  maxSizeMiB: amount(2 ** 20).optional(),
  /** The virtual environment also sees the runtime base's own Python packages (Debian's `python3-*` in runtimePackages). @default false */
  systemSitePackages: z.boolean().default(false),
});

/** Redis, for readiness keys and the registry's backend: its pinned image, port and persistent storage (AOF). */
const RedisSchema = z.strictObject({
  image: fits(imageReferenceProblem).default('redis:7.2.5-bookworm'),
  port: PortNumber.default(6379),
  storageGiB: amount(65536).default(DEFAULTS.stateSizeGiB),
  storageClassName: fits(dnsSubdomainProblem).optional(),
});
/** NATS, for the error handler: its pinned image, client port and monitor port (`/healthz`). */
const NatsSchema = z.strictObject({
  image: fits(imageReferenceProblem).default('nats:2.10.22-alpine3.20'),
  port: PortNumber.default(4222),
  monitorPort: PortNumber.default(8222),
});
export type RedisSpec = z.infer<typeof RedisSchema>;
export type NatsSpec = z.infer<typeof NatsSchema>;

/** The variables BaseAgent reads its peers from, by prefix, and the agents they name. */
export const DEFAULT_DISCOVERY: Readonly<Record<string, string>> = {
  SERVICE_REGISTRY: 'ServiceRegistry',
  DIGITAL_TWIN: 'SystemDigitalTwin',
  SYSTEM_DIGITAL_TWIN: 'SystemDigitalTwin',
  ERROR_BUS: 'CentralErrorBus',
};

export const DeploymentSpecSchema = z.strictObject({
  name: DnsLabel.default('agent-system'),
  namespace: DnsLabel.refine((n) => !SYSTEM_NAMESPACES.has(n), {
    message:
      "is a namespace Kubernetes or every workload shares; the output labels it PodSecurity restricted and denies all traffic in it by default: name a namespace of the system's own",
  }).default('agents'),
  variables: z
    .record(
      z.string().regex(ENV_NAME, 'variable names are environment variable names (letters, digits and _)'),
      z
        .union([
          z.string().regex(/^[^\u0000-\u001f\u007f$]*$/, 'must be one line, without $'),
          z.number().refine(Number.isFinite),
        ])
        .transform(String),
    )
    .default({ PORT_OFFSET: '0' }),
  machines: z.record(
    z
      .string()
      .regex(MACHINE_NAME, 'machine names are lowercase words of at most 31 characters')
      .refine((n) => !RESERVED_MACHINE_NAMES.has(n), {
        message: `names one of the system's own outputs (${[...RESERVED_MACHINE_NAMES].join(', ')}); rename the machine`,
      }),
    MachineSpecSchema,
  ),
  defaults: z
    .strictObject({
      startupSeconds: Seconds.default(DEFAULTS.startupSeconds),
      gpuStartupSeconds: Seconds.default(DEFAULTS.gpuStartupSeconds),
      vramGiB: amount(1024).default(DEFAULTS.vramGiB),
      probe: z.enum(['http', 'tcp']).default('http'),
      /** The framework of agents whose code does not say. */
      framework: z.enum(FRAMEWORKS).default('http'),
      /** Readiness probe of every agent that sets none. @default - its framework's */
      health: HealthCheckSchema.optional(),
      /** Liveness probe of every agent that sets none. @default - its framework's */
      liveness: HealthCheckSchema.optional(),
      /** State of every agent of one replica that sets none. @default {sizeGiB: 1} */
      state: z.union([z.literal(false), StateSchema]).default({ sizeGiB: DEFAULTS.stateSizeGiB }),
      cpuFamily: z.string().default('cpu'),
      gpuFamily: z.string().default('gpu'),
      cpuRequestMillis: Millis.default(DEFAULTS.cpuRequestMillis),
      memoryRequestMiB: MiB.default(DEFAULTS.memoryRequestMiB),
      // A uid the kernel takes (uid_t is 32 bits, and 2^32 - 1 means "no user"), never root.
      user: z
        .number()
        .int()
        .min(1)
        .max(2 ** 32 - 2)
        .default(DEFAULTS.user),
    })
    .prefault({}),
  /** Probe timing for every agent; overrides the startup configs' `health_checks`. */
  healthChecks: z
    .strictObject({
      // Whole seconds: Kubernetes probes take no fractions.
      intervalSeconds: Seconds.optional(),
      timeoutSeconds: Seconds.optional(),
      retries: z.number().int().min(1).max(1000).optional(),
      startPeriodSeconds: z.number().int().min(0).max(86_400).optional(),
    })
    .default({}),
  groups: z.record(z.string(), OverrideSchema).default({}),
  agents: z.record(z.string(), OverrideSchema).default({}),
  images: z.record(DnsLabel, ImageFamilySchema).optional(),
  /** Variables beside HF_HOME, TORCH_HOME and XDG_CACHE_HOME that point into the model cache: name -> folder below it. */
  cacheEnv: z.record(z.string().regex(ENV_NAME, 'is not a variable name'), fits(relativePathProblem)).default({}),
  /** Infrastructure the agents need: Redis and NATS (by default when an agent is a BaseAgent). */
  services: z
    .strictObject({
      redis: z.union([z.literal(false), RedisSchema]).optional(),
      nats: z.union([z.literal(false), NatsSchema]).optional(),
      /** The machine that runs them (one per system). @default - the first machine */
      machine: z.string().optional(),
    })
    .prefault({}),
  /** Variable prefixes the framework reads peers' addresses from (`<PREFIX>_HOST`, `<PREFIX>_PORT`), and the agent each names. */
  discovery: z
    .record(
      z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'is not a variable prefix (uppercase letters, digits, _)'),
      z.string().min(1),
    )
    .optional(),
  /** The system's source tree (the monorepo root), relative to the spec: its agents' code is read. */
  source: z.string().min(1).optional(),
  /** Where config and code disagree on a port, which one the plan follows. */
  trust: z.enum(['code', 'config']).default('code'),
  /**
   * Whether an agent that cannot start blocks everything (for CI). Without it such an agent, and every
   * agent that needs it, is left out of what is deployed, and named.
   */
  strict: z.boolean().default(false),
  /** Problems the system's owners know and accept: each silences one code's warnings and notes, with a reason. */
  diagnostics: z
    .strictObject({
      ignore: z
        .array(
          z.strictObject({
            code: z.enum(DIAGNOSTIC_CODES),
            /** Only for these agents (names); with `groups`, either. @default - every agent, and the system */
            agents: z.array(z.string().min(1)).min(1).optional(),
            /** Only for the agents of these groups (the config's groups or docker groups). */
            groups: z.array(z.string().min(1)).min(1).optional(),
            /** Why it is accepted: said where the problem is counted. */
            reason: z.string().trim().min(1, 'say why the problem is accepted').max(300),
          }),
        )
        .max(1000)
        .default([]),
    })
    .prefault({}),
  /** Functions the agents read variables through, as `os.environ.get(NAME, DEFAULT)` does. */
  envHelpers: z.array(z.string().regex(/^[A-Za-z_][\w.]*$/, 'is not a Python name')).default(['get_env']),
  /** The images' repository prefix: `<registry>/<family>:<tag>`. */
  registry: z
    .string()
    .regex(REPOSITORY, 'is not an image repository (lowercase [host[:port]/]path, no tag)')
    .default('agent-infra'),
  tag: z
    .string()
    .regex(IMAGE_TAG, 'is not an image tag (letters, digits, _ . -, at most 128)')
    .refine((t) => t !== 'latest', 'latest moves: give the images a version tag')
    .default('0.1.0'),
  kubernetes: z
    .strictObject({
      runtimeClassName: fits(dnsSubdomainProblem).optional(),
      serviceMonitors: z.boolean().default(false),
      podDisruptionBudgets: z.boolean().default(false),
      autoscaling: z.boolean().default(false),
      waitForDependencies: z.boolean().default(true),
      /** Namespace of the Prometheus that scrapes the agents: the only one whose Prometheus pods the NetworkPolicies admit to metrics ports. */
      prometheusNamespace: DnsLabel.default('monitoring'),
    })
    .prefault({}),
});

export type DeploymentSpec = z.infer<typeof DeploymentSpecSchema>;
export type MachineSpec = z.infer<typeof MachineSpecSchema>;
export type Override = z.infer<typeof OverrideSchema>;
export type ImageFamily = z.infer<typeof ImageFamilySchema>;

/** An image family as the spec writes it or its schema completes it. */
export interface FamilyInstalls {
  readonly requirements?: readonly string[];
  readonly runtimePackages?: readonly string[];
  readonly systemSitePackages?: boolean;
}

/** The Debian `python3-*` packages a family's virtual environment sees (only with `systemSitePackages: true`). */
export function debianPythonPackages(f: FamilyInstalls | undefined): string[] {
  return f?.systemSitePackages ? (f.runtimePackages ?? []).filter((p) => /^python3-./.test(p)) : [];
}

/** Whether a family says what its images install: requirement files, or Debian python3 packages it sees. */
export function declaresInstalls(f: FamilyInstalls | undefined): boolean {
  return (f?.requirements?.length ?? 0) > 0 || debianPythonPackages(f).length > 0;
}

/** Image families used when the spec names none: Debian-based Python images. */
export const DEFAULT_IMAGES: Record<string, z.input<typeof ImageFamilySchema>> = {
  cpu: { gpu: false, builderBase: 'python:3.11-slim-bookworm', runtimeBase: 'python:3.11-slim-bookworm' },
  // CUDA comes with the framework's wheels (PyTorch's carry the CUDA runtime), the driver from the host's
  // NVIDIA container toolkit: a CUDA base image has no Python and would ship those libraries twice.
  gpu: { gpu: true, builderBase: 'python:3.11-slim-bookworm', runtimeBase: 'python:3.11-slim-bookworm' },
};

/** The spec used when no `agent-infra.yaml` exists: the two-PC system at its conventional paths. */
export const CONVENTIONAL_SPEC: z.input<typeof DeploymentSpecSchema> = {
  machines: {
    mainpc: {
      config: 'main_pc_code/config/startup_config.yaml',
      addressEnv: 'MAIN_PC_IP',
      legacyAddresses: ['192.168.100.16'],
      gpus: [{ model: 'NVIDIA GeForce RTX 4090', vramGiB: 24, device: 0 }],
    },
    pc2: {
      config: 'pc2_code/config/startup_config.yaml',
      addressEnv: 'PC2_IP',
      legacyAddresses: ['192.168.100.17'],
      gpus: [{ model: 'NVIDIA GeForce RTX 3060', vramGiB: 12, device: 0 }],
    },
  },
};
