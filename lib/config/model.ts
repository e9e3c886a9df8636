/** The normalized input: every upstream layout becomes these plain, readonly records. */
import type { SourceRef } from '../diagnostics.ts';
import type { HealthCheck } from './spec.ts';

/** A value with the place it was read from. */
export interface Located<T> {
  readonly value: T;
  readonly at: SourceRef;
}

/** An extra listener an agent declares in its `config` map (`zmq_port`, `tcp://*:5561`...). */
export interface ExtraPort {
  readonly name: string;
  readonly port: number;
  readonly at: SourceRef;
  /** The agent's code decides it (read by the source stage): it never moves. */
  readonly byCode?: boolean;
}

/** One agent as its startup config declares it, layout differences removed. */
export interface AgentConfig {
  readonly name: string;
  readonly machine: string;
  readonly group: string;
  readonly at: SourceRef;
  readonly scriptPath?: string;
  /** Where `script_path` is written in the config: the line to fix when no such script exists. */
  readonly scriptAt?: SourceRef;
  /** The service port; `byCode`: the agent's code decides it (the source stage read it there). */
  readonly port: Located<number> & { readonly byCode?: boolean };
  /**
   * The declared health port, or `port + 1000` (the system's convention) when none is declared;
   * `byCode`: the agent's code decides it (a literal, or its port + 1).
   */
  readonly healthCheckPort: Located<number> & { readonly derived: boolean; readonly byCode?: boolean };
  readonly extraPorts: readonly ExtraPort[];
  readonly required: boolean;
  readonly dependencies: readonly Located<string>[];
  /** Names of the docker groups that list this agent. */
  readonly dockerGroups: readonly string[];
  /** VRAM the agent's own config asks for, in MiB (`vram_soft_limit_mb` and the like). */
  readonly vramMiBHint?: number;
  /** Where that figure is, and its key (`vram_soft_limit_mb`). */
  readonly vramAt?: SourceRef & { readonly key: string };
  /** Whether the agent's config names a CUDA device. */
  readonly cudaHint: boolean;
  /** Secret variable names the agent's config refers to (`api_key_env: OPENAI_API_KEY`). */
  readonly secretRefs: readonly string[];
  /** The variables the agent's code reads, when its code was read (the source stage). */
  readonly codeReads?: readonly string[];
  /** The framework its code shows, when its code was read: a BaseAgent subclass, or none. */
  readonly framework?: 'baseagent' | 'none';
  /** How the code says the agent can be probed when it has no health server of its own (source stage). */
  readonly codeHealth?: HealthCheck;
  /** Its config lacks what a start needs (no usable `script_path`): the agent is left out, not the system. */
  readonly unstartable?: ConfigProblem;
}

/** Why an agent's own config entry cannot start it, where the config says so. */
export interface ConfigProblem {
  readonly code: string;
  readonly message: string;
  readonly file: string;
  readonly line: number;
}

/** A declared port range (`pc2_network.agent_ports`). */
export interface PortRange {
  readonly role: 'service' | 'health';
  readonly start: number;
  readonly end: number;
  readonly at: SourceRef;
}

/** Settings that apply to every agent of one machine's config. */
export interface MachineSettings {
  readonly environment: readonly { readonly name: string; readonly value: string }[];
  /** Names of `environment` entries that hold a secret: given to the agents as references, never as values. */
  readonly secretEnvironment?: readonly string[];
  readonly memoryMiB?: number;
  readonly cpuPercent?: number;
  readonly healthChecks: {
    readonly intervalSeconds?: number;
    readonly timeoutSeconds?: number;
    readonly retries?: number;
    readonly startPeriodSeconds?: number;
  };
  readonly portRanges: readonly PortRange[];
  readonly errorBusPort?: Located<number>;
  /** Secret variable names referenced anywhere in the file (`api_key_env`). */
  readonly secretRefs: readonly string[];
  /** GPU model named by `hybrid_inference_policy.local_backend.gpu_device`. */
  readonly gpuDevice?: string;
}

/** One machine's startup config, normalized. */
export interface MachineConfig {
  readonly machine: string;
  readonly file: string;
  readonly layout: 'group-lists' | 'agent-groups';
  readonly agents: readonly AgentConfig[];
  readonly settings: MachineSettings;
  /** The config's own text, and its path inside the code root (where the agents' config loader reads it), when it lies inside. */
  readonly text?: string;
  readonly codePath?: string;
}
