/** The system plan: the one model every emitter reads. Plain data, no cdk8s, compose or handlebars types. */
import type { Diagnostic, SourceRef } from '../diagnostics.ts';
import type { PortLock } from '../lock.ts';
import type { PortRole } from './ports.ts';
import type { FrameworkName } from '../config/spec.ts';

export type { PortRole } from './ports.ts';

/** Why an agent cannot start: the first problem it dies of, where its code says so. */
export interface StartProblem {
  readonly code: string;
  readonly message: string;
  readonly file: string;
  readonly line: number;
  /** Where in the agent's start it happens (lower: earlier); the first one is what the agent dies of. */
  readonly step?: number;
}

export interface LeftOutAgent {
  readonly machine: string;
  readonly name: string;
  /** `machine/name`. */
  readonly key: string;
  /** It cannot start itself, or it needs an agent that is left out. */
  readonly reason: 'cannot-start' | 'blocked';
  /** Cannot start: the problem. Blocked: the problem of the agent at the end of the chain. */
  readonly problem: StartProblem;
  /** Blocked: the agents from this one's dependency to the one that cannot start (names). */
  readonly chain: readonly string[];
  /** The agent's own script_path, as its config writes it (none when the config gives no usable one). */
  readonly script?: string;
}

/** One listener of an agent, with its port on its machine (two-PC) and on the single host. */
export interface PlannedPort {
  /** Container port name: `service`, `health`, `zmq`, `grpc`, `metrics`... */
  readonly name: string;
  readonly role: PortRole;
  readonly declared: number;
  /** Port on the agent's own machine (also the container port on Kubernetes). */
  readonly port: number;
  /** Port when every machine runs on one host; undefined when the single host cannot be planned. */
  readonly singleHostPort?: number;
  /** Another listener of the machine binds the same number (a BaseAgent's HTTP at health + 1): fine in the agent's own container or pod, but not published on the machine. */
  readonly shadowed?: boolean;
  /** The listener this one is bound relative to (a BaseAgent's HTTP at health + 1): the agent cannot be told to move it. */
  readonly follows?: 'health';
  readonly at: SourceRef;
}

/** A resolved dependency of an agent. */
export interface PlannedDependency {
  readonly name: string;
  readonly id: string;
  readonly machine: string;
  readonly crossMachine: boolean;
  readonly envPrefix: string;
  readonly port: number;
  readonly healthPort: number;
  /** How the dependency's readiness is probed: what its dependents wait for. */
  readonly readiness: PlannedProbe;
  readonly singleHostPort?: number;
  readonly singleHostHealthPort?: number;
}

/**
 * One environment variable. Hosts and ports that depend on where the system runs are given as
 * references that each emitter renders for its target; everything else is a literal.
 */
export type PlannedEnv =
  | { readonly name: string; readonly kind: 'literal'; readonly value: string }
  | { readonly name: string; readonly kind: 'machine-address'; readonly machine: string }
  | { readonly name: string; readonly kind: 'agent-host'; readonly agent: string }
  | { readonly name: string; readonly kind: 'port'; readonly port: number; readonly singleHostPort?: number }
  | { readonly name: string; readonly kind: 'secret'; readonly secret: string }
  /** Where the agent binds: every interface, except on a single host, where only loopback. */
  | { readonly name: string; readonly kind: 'bind-address' }
  /** The host of an infrastructure service (Redis, NATS) as the agent reaches it. */
  | { readonly name: string; readonly kind: 'service-host'; readonly service: string }
  /** `<scheme>://<host>:<port><path>` of an infrastructure service. */
  | {
      readonly name: string;
      readonly kind: 'service-url';
      readonly service: string;
      readonly scheme: string;
      readonly path: string;
    }
  /** The agent's own readiness probe as a target of agent-infra-health, on loopback. */
  | { readonly name: string; readonly kind: 'health-target'; readonly probe: PlannedProbe };

export interface PlannedGpu {
  readonly machine: string;
  readonly device: number;
  readonly model: string;
  readonly vramGiB: number;
}

export interface PlannedResources {
  readonly cpuMillis: number;
  readonly cpuRequestMillis: number;
  readonly memoryMiB: number;
  readonly memoryRequestMiB: number;
}

/** One health probe: its protocol, the port it asks (on the agent's machine and on the single host) and what counts as healthy. */
export interface PlannedProbe {
  readonly protocol: 'zmq' | 'http' | 'tcp' | 'exec';
  /** Absent for exec. */
  readonly port?: number;
  readonly singleHostPort?: number;
  /** http */
  readonly path?: string;
  readonly codes?: readonly number[];
  /** zmq */
  readonly request?: string;
  readonly status?: readonly string[];
  readonly ready?: boolean;
  /** exec */
  readonly command?: readonly string[];
}

export interface PlannedHealth {
  readonly framework: FrameworkName;
  /** Readiness and startup: when the agent serves (dependents wait for it). */
  readonly readiness: PlannedProbe;
  /** Liveness: whether the agent's process still answers at all. */
  readonly liveness: PlannedProbe;
  readonly intervalSeconds: number;
  readonly timeoutSeconds: number;
  readonly retries: number;
  readonly startPeriodSeconds: number;
}

/** Everything any emitter needs to know about one agent. */
export interface PlannedAgent {
  readonly name: string;
  /** DNS label: the k8s object and Service name, the compose service key, the hostname. */
  readonly id: string;
  readonly machine: string;
  readonly group: string;
  readonly dockerGroups: readonly string[];
  readonly scriptPath?: string;
  /** How the agent starts, from the code root (`python3 <script_path> [args]`): the same in every target. */
  readonly command: readonly string[];
  /** The spec mounts the Docker engine's socket into its compose container (`dockerSocket: true`). */
  readonly dockerSocket?: true;
  readonly required: boolean;
  readonly ports: readonly PlannedPort[];
  readonly servicePort: PlannedPort;
  readonly healthPort: PlannedPort;
  readonly metricsPort?: PlannedPort;
  readonly dependencies: readonly PlannedDependency[];
  /** Ids of the agents that depend on this one. */
  readonly dependents: readonly string[];
  readonly startLevel: number;
  readonly startupSeconds: number;
  readonly family: string;
  readonly image: string;
  readonly gpu?: PlannedGpu;
  readonly resources: PlannedResources;
  readonly replicas: number;
  readonly maxReplicas?: number;
  readonly health: PlannedHealth;
  readonly env: readonly PlannedEnv[];
  readonly secrets: readonly string[];
  /** Its data folder (/app/data) kept across restarts, on a volume of its own or a host folder. */
  readonly state?: PlannedState;
  readonly at: SourceRef;
}

export interface PlannedState {
  readonly sizeGiB: number;
  readonly storageClassName?: string;
  readonly hostPath?: string;
}

/** Where a container sees its data. */
export const DATA_PATH = '/app/data';
/** Where a container sees the machine's read-only models folder. */
export const MODELS_PATH = '/app/models';

export interface PlannedGpuDevice {
  readonly device: number;
  readonly model: string;
  readonly vramGiB: number;
  readonly usedGiB: number;
  readonly agents: readonly { readonly id: string; readonly vramGiB: number }[];
}

export interface MachinePlan {
  readonly name: string;
  readonly file: string;
  readonly addressEnv: string;
  /** Every variable the agents read this machine's address from: `addressEnv`, plus `MAINPC_IP` beside `MAIN_PC_IP`. */
  readonly addressVariables: readonly string[];
  readonly gpus: readonly PlannedGpuDevice[];
  readonly agents: readonly string[];
  readonly cpus?: number;
  readonly memoryGiB?: number;
  /** The Kubernetes node its pods are pinned to, when the spec names one. */
  readonly node?: string;
  /** The model cache its agents share. */
  readonly cache: {
    readonly sizeGiB: number;
    readonly storageClassName?: string;
    readonly hostPath?: string;
    readonly path: string;
  };
  /** The read-only models folder on the machine, when the spec names one. */
  readonly models?: { readonly hostPath: string; readonly sizeGiB: number };
  /** How the device plugin shares its GPUs. */
  readonly sharing: 'time-slicing' | 'mps';
  /**
   * The machine's startup config as the agents' config loader reads it, with every planned port
   * written in: its path inside the code root, its text, and the edits (config path -> port).
   */
  readonly startupConfig?: {
    readonly path: string;
    readonly text: string;
    readonly ports: readonly {
      readonly path: string;
      readonly declared: number;
      readonly port: number;
      readonly singleHostPort?: number;
    }[];
  };
}

export interface PlannedImage {
  readonly family: string;
  readonly image: string;
  readonly gpu: boolean;
  readonly builderBase: string;
  readonly runtimeBase: string;
  readonly buildPackages: readonly string[];
  readonly runtimePackages: readonly string[];
  readonly requirements: readonly string[];
  /** Every requirement file the builder copies: the listed ones and the files they include (`-r`, `-c`), when they were read. */
  readonly requirementCopies?: readonly string[];
  /** Defaults of the pip build arguments: where pip finds packages. */
  readonly pip?: {
    readonly indexUrl?: string;
    readonly extraIndexUrls?: readonly string[];
    readonly findLinks?: readonly string[];
  };
  /** Top-level source folders the family's agents need (from their script paths). */
  readonly sourceDirs: readonly string[];
  /** When the agents' code was read: exactly the local files they import (the union of their closures), which the image copies instead of `sourceDirs`. */
  readonly sourceFiles?: readonly string[];
  readonly agents: readonly string[];
  /** The HEALTHCHECK of the image itself (compose and Kubernetes set each agent's own). */
  readonly health: {
    readonly intervalSeconds: number;
    readonly timeoutSeconds: number;
    readonly startPeriodSeconds: number;
    readonly retries: number;
  };
  readonly maxSizeMiB?: number;
  /** The venv sees the runtime base's Python packages. */
  readonly systemSitePackages: boolean;
}

/** Infrastructure the agents need (Redis, NATS): one per system, on one machine. */
export interface PlannedService {
  readonly kind: 'redis' | 'nats';
  /** Service name (compose service, Kubernetes Service and StatefulSet). */
  readonly id: string;
  readonly machine: string;
  readonly image: string;
  /** The numeric user it runs as (Redis: the official image's `redis`, 999, which owns its /data). */
  readonly user: number;
  /** The client port, on its machine and on the single host. */
  readonly port: number;
  /** NATS: the monitoring port with `/healthz`. */
  readonly monitorPort?: number;
  /** Redis: the persistent volume for its append-only file. */
  readonly storageGiB?: number;
  readonly storageClassName?: string;
  /** Ids of the agents that use it. */
  readonly clients: readonly string[];
  /** Its CPU and memory, limits and requests, the same in compose and Kubernetes. */
  readonly resources: PlannedResources;
}

/** One row of the port map. */
export interface PortMapRow {
  readonly host: string;
  readonly port: number;
  readonly agent: string;
  readonly machine: string;
  readonly name: string;
  readonly role: PortRole;
  readonly declared: number;
}

/** Machine `from` reaches `port` of agent `agent` on machine `to`, because `why`. */
export interface FirewallRule {
  readonly from: string;
  readonly to: string;
  readonly port: number;
  readonly agent: string;
  readonly why: string;
}

export interface SystemPlan {
  readonly name: string;
  readonly namespace: string;
  readonly user: number;
  readonly registry: string;
  readonly tag: string;
  /** The PORT_OFFSET the ports were computed with. */
  readonly portOffset: string;
  readonly machines: readonly MachinePlan[];
  /** Sorted by machine, then id. */
  readonly agents: readonly PlannedAgent[];
  /** Ids per start level; level 0 has no dependencies. */
  readonly startLevels: readonly (readonly string[])[];
  readonly criticalPath: { readonly seconds: number; readonly agents: readonly string[] };
  readonly sequentialSeconds: number;
  readonly errorBus?: { readonly agent?: string; readonly machine: string; readonly port: number };
  readonly images: readonly PlannedImage[];
  readonly services: readonly PlannedService[];
  readonly portMap: readonly PortMapRow[];
  /** The ports other machines reach (sorted by from, to, port): what the firewall between them lets through. */
  readonly firewall: readonly FirewallRule[];
  /** Whether a single host can run every machine (no unresolved cross-machine port clash). */
  readonly singleHostReady: boolean;
  readonly secrets: readonly string[];
  readonly kubernetes: {
    readonly runtimeClassName?: string;
    readonly serviceMonitors: boolean;
    readonly podDisruptionBudgets: boolean;
    readonly autoscaling: boolean;
    readonly waitForDependencies: boolean;
    readonly prometheusNamespace: string;
  };
  readonly cycles: readonly (readonly string[])[];
  /** The agents not deployed: they cannot start, or need one that cannot (sorted by machine, name). */
  readonly leftOut: readonly LeftOutAgent[];
  readonly lock: PortLock;
  readonly diagnostics: readonly Diagnostic[];
}
