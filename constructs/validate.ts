/**
 * The construct library's boundary: props and a plan given by a user's own code are checked before
 * anything is built, and every problem is an {@link AgentSystemError} naming the field, never a
 * TypeError from deep inside a chart. A plan made by `planSystem` always passes.
 */
import { z } from 'zod';
import { formatDiagnostic, type Diagnostic } from '../lib/diagnostics.ts';
import type { PlannedAgent, SystemPlan } from '../lib/plan/types.ts';

/** A system that cannot be built: its errors, each as `check` prints it. */
export class AgentSystemError extends Error {
  constructor(readonly diagnostics: readonly Diagnostic[]) {
    const errors = diagnostics.filter((d) => d.severity === 'error');
    super(
      `the agent system has ${errors.length} error${errors.length === 1 ? '' : 's'}; run 'agent-infra check' for the whole report:\n${errors.map((d) => `  ${formatDiagnostic(d)}`).join('\n')}`,
    );
    this.name = 'AgentSystemError';
  }
}

const name = z.string().min(1);
const dns = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a DNS label (lowercase letters, digits and -, at most 63)');
const port = z.number().int().min(1).max(65535);
const count = z.number().int().min(0);
const strings = z.array(z.string());

const PortSchema = z.looseObject({ name, role: z.string(), port, declared: z.number().int() });
const ProbeSchema = z.looseObject({ protocol: z.string(), port });
const ResourcesSchema = z.looseObject({
  cpuMillis: count,
  cpuRequestMillis: count,
  memoryMiB: count,
  memoryRequestMiB: count,
});

export const PlannedAgentSchema = z.looseObject({
  name,
  id: dns,
  machine: name,
  command: strings,
  ports: z.array(PortSchema),
  servicePort: PortSchema,
  healthPort: PortSchema,
  dependencies: z.array(z.looseObject({ id: dns, machine: name })),
  dependents: strings,
  family: name,
  image: name,
  resources: ResourcesSchema,
  replicas: z.number().int().min(1),
  health: z.looseObject({ readiness: ProbeSchema, liveness: ProbeSchema }),
  env: z.array(z.looseObject({ kind: z.string(), name })),
  secrets: strings,
});

export const PlannedServiceSchema = z.looseObject({
  kind: z.enum(['redis', 'nats']),
  id: dns,
  machine: name,
  image: name,
  user: count,
  port,
  clients: strings,
  resources: ResourcesSchema,
});

const MachineSchema = z.looseObject({
  name: dns,
  addressEnv: name,
  addressVariables: strings,
  gpus: z.array(
    z.looseObject({
      device: count,
      model: z.string(),
      vramGiB: z.number(),
      agents: z.array(z.looseObject({ id: dns })),
    }),
  ),
  agents: strings,
  cache: z.looseObject({ sizeGiB: z.number(), path: name }),
  sharing: z.enum(['time-slicing', 'mps']),
});

export const SystemPlanSchema = z.looseObject({
  name: dns,
  namespace: dns,
  user: z.number().int().min(1),
  registry: z.string(),
  tag: name,
  machines: z.array(MachineSchema).min(1),
  agents: z.array(PlannedAgentSchema),
  services: z.array(PlannedServiceSchema),
  secrets: strings,
  kubernetes: z.looseObject({
    serviceMonitors: z.boolean(),
    podDisruptionBudgets: z.boolean(),
    autoscaling: z.boolean(),
    waitForDependencies: z.boolean(),
    prometheusNamespace: dns,
  }),
});

/** A problem of a prop: it has a config path (`plan.agents[0].machine`) and no file or line. */
export function propProblem(path: string, message: string): Diagnostic {
  return { code: 'invalid-props', severity: 'error', message, path };
}

/** The problems of a zod parse, at the config path `where.field...`. */
function schemaProblems(schema: z.ZodType, value: unknown, where: string): Diagnostic[] {
  const r = schema.safeParse(value);
  if (r.success) return [];
  const pathOf = (i: z.core.$ZodIssue) =>
    [where, ...i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))].join('').replace(/^\./, '');
  return r.error.issues.slice(0, 20).map((i) => propProblem(pathOf(i), i.message.toLowerCase()));
}

/** Throws an {@link AgentSystemError} when `problems` holds any. */
function throwIf(problems: readonly Diagnostic[]): void {
  if (problems.length > 0) throw new AgentSystemError(problems);
}

/** A plan given to a construct: its shape, and that its agents' machines and dependencies exist. */
export function checkPlan(plan: unknown, where = 'plan'): asserts plan is SystemPlan {
  const shape = schemaProblems(SystemPlanSchema, plan, where);
  throwIf(shape);
  const p = plan as SystemPlan;
  const machines = new Set(p.machines.map((m) => m.name));
  const ids = new Set(p.agents.map((a) => a.id));
  const problems: Diagnostic[] = [];
  p.agents.forEach((a, i) => {
    if (!machines.has(a.machine))
      problems.push(
        propProblem(
          `${where}.agents[${i}].machine`,
          `machine '${a.machine}' of agent '${a.name}' is not a machine of the plan (it has ${[...machines].join(', ')})`,
        ),
      );
    a.dependencies.forEach((d, j) => {
      if (!ids.has(d.id))
        problems.push(
          propProblem(
            `${where}.agents[${i}].dependencies[${j}].id`,
            `dependency '${d.id}' of agent '${a.name}' is no agent of the plan`,
          ),
        );
    });
  });
  if (ids.size !== p.agents.length) problems.push(propProblem(`${where}.agents`, 'two agents have the same id'));
  throwIf(problems);
}

/** A machine named in props: one of the plan's. */
export function checkMachine(plan: SystemPlan, machine: unknown): void {
  if (typeof machine === 'string' && plan.machines.some((m) => m.name === machine)) return;
  throwIf([
    propProblem(
      'machine',
      `the plan has no machine ${typeof machine === 'string' ? `'${machine}'` : String(machine)} (it has ${plan.machines.map((m) => m.name).join(', ')})`,
    ),
  ]);
}

/** One value of props against its schema. */
export function checkProp(schema: z.ZodType, value: unknown, where: string): void {
  throwIf(schemaProblems(schema, value, where));
}

const WorkloadPropsSchema = z.looseObject({
  system: z.string().min(1),
  user: z.number().int().min(1),
  addressesConfigMap: z.string().min(1),
  secretName: z.string().min(1),
  namespace: z.string().min(1),
});

/** The props of one agent's workload: the planned agent, the names it refers to, and one replica for a GPU agent. */
export function checkWorkloadProps(props: unknown): void {
  checkProp(PlannedAgentSchema, (props as { agent?: unknown } | undefined)?.agent, 'agent');
  checkProp(WorkloadPropsSchema, props, 'props');
  const { agent } = props as { agent: PlannedAgent };
  if (agent.gpu && agent.replicas !== 1)
    throwIf([
      propProblem(
        'agent.replicas',
        `agent '${agent.name}' uses a GPU and runs ${agent.replicas} replicas; a GPU agent runs exactly one`,
      ),
    ]);
}
