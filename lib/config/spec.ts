/** The deployment spec `agent-infra.yaml`: machines, GPUs, overrides and image families, with defaults in one place. */
import { z } from 'zod';

const PortNumber = z.number().int().min(1).max(65535);

/** Names of the charts and files beside the machines' own in dist/k8s (a machine's chart is `<machine>.yaml`). */
/** A machine's name: a lowercase word of at most 31 characters (it suffixes agents' DNS names). */
export const MACHINE_NAME = /^[a-z][a-z0-9-]{0,30}$/;

export const RESERVED_MACHINE_NAMES = new Set(['system', 'gpu-sharing', 'kustomization', 'single-host']);

/** Namespaces a deployment must not take over. */
const SYSTEM_NAMESPACES = new Set(['default', 'kube-system', 'kube-public', 'kube-node-lease']);
const DnsLabel = z.string().regex(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a DNS label: lowercase letters, digits and dashes');

export const GpuSchema = z.strictObject({
  /** Product name as GPU Feature Discovery reports it, e.g. `NVIDIA GeForce RTX 4090`. */
  model: z.string().min(1),
  vramGiB: z.number().positive(),
  device: z.number().int().min(0).default(0),
});

export const MachineSpecSchema = z.strictObject({
  /** Path of the machine's `startup_config.yaml`, relative to the spec file. */
  config: z.string().min(1),
  /** Environment variable that holds the machine's address. */
  addressEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name such as MAIN_PC_IP'),
  /** Address literals the machine used to have; reported as `hardcoded-ip` with `addressEnv` as the fix. */
  legacyAddresses: z.array(z.string()).default([]),
  gpus: z
    .array(GpuSchema)
    .default([])
    .superRefine((gpus, ctx) => {
      // Two cards on one device index would both be scheduled onto the same card.
      gpus.forEach((g, i) => {
        const first = gpus.findIndex((o) => o.device === g.device);
        if (first < i) ctx.addIssue({ code: 'custom', message: `device ${g.device} is also GPU ${first}'s; give each GPU its own device index`, path: [i, 'device'] });
      });
    }),
  cpus: z.number().positive().optional(),
  memoryGiB: z.number().positive().optional(),
  ports: z
    .strictObject({
      /** Range that reassigned ports are taken from. */
      range: z
        .strictObject({ start: PortNumber, end: PortNumber })
        .refine((r) => r.start <= r.end, { message: 'the range is inverted: start must not be above end', path: ['end'] })
        .optional(),
      onConflict: z.enum(['error', 'reassign']).default('error'),
    })
    .prefault({}),
});

const ResourcesSchema = z.strictObject({
  cpuMillis: z.number().int().positive().optional(),
  cpuRequestMillis: z.number().int().positive().optional(),
  memoryMiB: z.number().int().positive().optional(),
  memoryRequestMiB: z.number().int().positive().optional(),
});

/** Overrides for one agent or one group; every field optional. */
export const OverrideSchema = z.strictObject({
  gpu: z.boolean().optional(),
  vramGiB: z.number().positive().optional(),
  family: z.string().optional(),
  resources: ResourcesSchema.optional(),
  startupSeconds: z.number().positive().optional(),
  replicas: z.number().int().min(1).optional(),
  /** Horizontal autoscaling between `replicas` and `maxReplicas` (never for GPU agents). */
  maxReplicas: z.number().int().min(1).optional(),
  probe: z.enum(['http', 'tcp']).optional(),
  disabled: z.boolean().optional(),
  secrets: z.array(z.string().regex(/^[A-Z_][A-Z0-9_]*$/)).optional(),
});

export const ImageFamilySchema = z.strictObject({
  gpu: z.boolean().default(false),
  /** Base images, pinned (a tag other than `latest`, or a digest). Build arguments in the Dockerfile. */
  builderBase: z.string().refine((s) => !/:latest$/.test(s) && /[:@]/.test(s), 'must be pinned to a tag or digest, never latest'),
  runtimeBase: z.string().refine((s) => !/:latest$/.test(s) && /[:@]/.test(s), 'must be pinned to a tag or digest, never latest'),
  buildPackages: z.array(z.string()).default([]),
  runtimePackages: z.array(z.string()).default([]),
  /** Requirement files, relative to the root of the source tree. */
  requirements: z.array(z.string()).default([]),
  /** Source folders every image of the family needs besides its agents' own (shared packages such as `common`). */
  sharedDirs: z.array(z.string().regex(/^[A-Za-z0-9_.][A-Za-z0-9_.-]*$/, 'a top-level folder name')).default([]),
  /** Size budget for the built image. */
  maxSizeMiB: z.number().positive().optional(),
});

export const DeploymentSpecSchema = z.strictObject({
  name: DnsLabel.default('agent-system'),
  namespace: DnsLabel.refine((n) => !SYSTEM_NAMESPACES.has(n), {
    message: 'is a namespace Kubernetes or every workload shares; the output labels it PodSecurity restricted and denies all traffic in it by default: name a namespace of the system\'s own',
  }).default('agents'),
  variables: z.record(z.string(), z.union([z.string(), z.number()]).transform(String)).default({ PORT_OFFSET: '0' }),
  machines: z.record(
    z
      .string()
      .regex(MACHINE_NAME, 'machine names are lowercase words of at most 31 characters')
      .refine((n) => !RESERVED_MACHINE_NAMES.has(n), { message: `names one of the system's own outputs (${[...RESERVED_MACHINE_NAMES].join(', ')}); rename the machine` }),
    MachineSpecSchema,
  ),
  defaults: z
    .strictObject({
      startupSeconds: z.number().positive().default(5),
      gpuStartupSeconds: z.number().positive().default(20),
      vramGiB: z.number().positive().default(2),
      probe: z.enum(['http', 'tcp']).default('http'),
      cpuFamily: z.string().default('cpu'),
      gpuFamily: z.string().default('gpu'),
      cpuRequestMillis: z.number().int().positive().default(100),
      memoryRequestMiB: z.number().int().positive().default(256),
      // A uid the kernel takes (uid_t is 32 bits, and 2^32 - 1 means "no user"), never root.
      user: z.number().int().min(1).max(2 ** 32 - 2).default(10001),
    })
    .prefault({}),
  /** Probe timing for every agent; overrides the startup configs' `health_checks`. */
  healthChecks: z
    .strictObject({
      intervalSeconds: z.number().positive().optional(),
      timeoutSeconds: z.number().positive().optional(),
      retries: z.number().int().min(1).optional(),
      startPeriodSeconds: z.number().min(0).optional(),
    })
    .default({}),
  groups: z.record(z.string(), OverrideSchema).default({}),
  agents: z.record(z.string(), OverrideSchema).default({}),
  images: z.record(DnsLabel, ImageFamilySchema).optional(),
  registry: z.string().default('agent-infra'),
  tag: z.string().default('0.1.0'),
  kubernetes: z
    .strictObject({
      runtimeClassName: z.string().optional(),
      serviceMonitors: z.boolean().default(false),
      podDisruptionBudgets: z.boolean().default(false),
      autoscaling: z.boolean().default(false),
      waitForDependencies: z.boolean().default(true),
    })
    .prefault({}),
});

export type DeploymentSpec = z.infer<typeof DeploymentSpecSchema>;
export type MachineSpec = z.infer<typeof MachineSpecSchema>;
export type Override = z.infer<typeof OverrideSchema>;
export type ImageFamily = z.infer<typeof ImageFamilySchema>;

/** Image families used when the spec names none: Debian-based Python images. */
export const DEFAULT_IMAGES: Record<string, z.input<typeof ImageFamilySchema>> = {
  cpu: { gpu: false, builderBase: 'python:3.11-slim-bookworm', runtimeBase: 'python:3.11-slim-bookworm' },
  gpu: { gpu: true, builderBase: 'python:3.11-slim-bookworm', runtimeBase: 'nvidia/cuda:12.4.1-runtime-ubuntu22.04' },
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
