/** Agents of a plan by id: one index per plan, shared by every emitter that follows dependencies. */
import type { PlannedAgent, SystemPlan } from './types.ts';

const indexes = new WeakMap<SystemPlan, ReadonlyMap<string, PlannedAgent>>();

/** The plan's agents by id (built once per plan; the plan itself stays plain data). */
export function agentIndex(plan: SystemPlan): ReadonlyMap<string, PlannedAgent> {
  let index = indexes.get(plan);
  if (!index) indexes.set(plan, (index = new Map(plan.agents.map((a) => [a.id, a]))));
  return index;
}
