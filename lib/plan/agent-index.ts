/** Agents of a plan by id: one index per plan, shared by every emitter that follows dependencies. */
import type { MachinePlan, PlannedAgent, SystemPlan } from './types.ts';

const indexes = new WeakMap<SystemPlan, ReadonlyMap<string, PlannedAgent>>();

/** The plan's agents by id (built once per plan; the plan itself stays plain data). */
export function agentIndex(plan: SystemPlan): ReadonlyMap<string, PlannedAgent> {
  let index = indexes.get(plan);
  if (!index) indexes.set(plan, (index = new Map(plan.agents.map((a) => [a.id, a]))));
  return index;
}

const machineIndexes = new WeakMap<SystemPlan, ReadonlyMap<string, MachinePlan>>();

/** The plan's machines by name (built once per plan). */
export function machineIndex(plan: SystemPlan): ReadonlyMap<string, MachinePlan> {
  let index = machineIndexes.get(plan);
  if (!index) machineIndexes.set(plan, (index = new Map(plan.machines.map((m) => [m.name, m]))));
  return index;
}

/** Machine `name` of the plan; a name the plan lacks is a defect of the caller (the plan names its machines). */
export function machineOf(plan: SystemPlan, name: string): MachinePlan {
  const m = machineIndex(plan).get(name);
  if (!m) throw new Error(`the plan has no machine '${name}'`);
  return m;
}
