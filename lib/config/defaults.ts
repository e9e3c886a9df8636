/**
 * Every numeric default of agent-infra in one place: what an agent gets when neither the spec nor its
 * startup config says otherwise. The spec schema, the plan and the emitters read these; the README's
 * spec reference quotes them (a test holds the two together).
 */
export const DEFAULTS = {
  /** An agent's memory limit, MiB, and what it requests. */
  memoryMiB: 2048,
  memoryRequestMiB: 256,
  /** An agent's CPU limit and request, millicores. */
  cpuMillis: 1000,
  cpuRequestMillis: 100,
  /** The least CPU limit a startup config's `cpu_percent` gives, millicores. */
  minCpuMillis: 100,
  /** Health checks: every 10 s, 5 s to answer, 3 failures, a start period of twice the startup time + 10 s. */
  healthIntervalSeconds: 10,
  healthTimeoutSeconds: 5,
  healthRetries: 3,
  /** How long an agent takes to start (a GPU agent loads a model), seconds. */
  startupSeconds: 5,
  gpuStartupSeconds: 20,
  /** VRAM a GPU agent is budgeted, GiB. */
  vramGiB: 2,
  /** How long an agent's entrypoint (or init container) waits for its dependencies, seconds. */
  waitTimeoutSeconds: 600,
  /** The numeric user and group every container runs as. */
  user: 10001,
  /** A machine's model cache and read-only models folder, GiB. */
  cacheSizeGiB: 50,
  modelsSizeGiB: 100,
  /** A stateful agent's data volume, and Redis's, GiB. */
  stateSizeGiB: 1,
} as const;
