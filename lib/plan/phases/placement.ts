/** Placement: GPU agents onto their machine's cards, VRAM budgets checked; the machines' plans. */
import { diag, type Diagnostic } from '../../diagnostics.ts';
import type { MachineConfig } from '../../config/model.ts';
import type { DeploymentSpec } from '../../config/spec.ts';
import { addressVariables, byString } from '../names.ts';
import type { MachinePlan, PlannedGpu, PlannedGpuDevice } from '../types.ts';
import type { Draft } from './drafts.ts';

/** Largest VRAM first, each agent to its machine's GPU with the most VRAM left (then the lowest device). */
export function placeGpus(
  spec: DeploymentSpec,
  configs: readonly MachineConfig[],
  live: readonly Draft[],
): { gpuOf: Map<string, PlannedGpu>; machines: MachinePlan[]; diagnostics: Diagnostic[] } {
  const ds: Diagnostic[] = [];
  const gpuOf = new Map<string, PlannedGpu>();
  const machines: MachinePlan[] = [];
  const configOf = new Map(configs.map((c) => [c.machine, c]));
  const byId = new Map(live.map((d) => [d.id, d]));
  for (const m of Object.keys(spec.machines).sort(byString)) {
    const ms = spec.machines[m]!;
    const devices = [...ms.gpus]
      .sort((a, b) => a.device - b.device)
      .map((g) => ({ ...g, used: 0, agents: [] as { id: string; vramGiB: number }[] }));
    const gpuAgents = live
      .filter((d) => d.cfg.machine === m && d.gpu)
      .sort((a, b) => b.vramGiB - a.vramGiB || byString(a.id, b.id));
    for (const d of gpuAgents) {
      const target = [...devices].sort((a, b) => b.vramGiB - b.used - (a.vramGiB - a.used) || a.device - b.device)[0];
      if (!target) continue;
      target.used = Math.round((target.used + d.vramGiB) * 10) / 10;
      target.agents.push({ id: d.id, vramGiB: d.vramGiB });
      gpuOf.set(d.id, { machine: m, device: target.device, model: target.model, vramGiB: d.vramGiB });
    }
    const gpus: PlannedGpuDevice[] = devices.map((g) => ({
      device: g.device,
      model: g.model,
      vramGiB: g.vramGiB,
      usedGiB: g.used,
      agents: [...g.agents].sort((a, b) => byString(a.id, b.id)),
    }));
    for (const g of gpus) {
      if (g.usedGiB <= g.vramGiB) continue;
      const largestFirst = [...g.agents].sort((a, b) => b.vramGiB - a.vramGiB || byString(a.id, b.id));
      const list = largestFirst.map((a) => `${a.id} ${a.vramGiB}`).join(', ');
      ds.push(
        diag(
          'vram-over-budget',
          'error',
          `agents on ${m} GPU ${g.device} (${g.model}, ${g.vramGiB} GiB) need ${g.usedGiB} GiB: ${list}; lower their vramGiB in the spec, move agents to another machine or add a GPU`,
          byId.get(largestFirst[0]!.id)!.cfg.at,
        ),
      );
    }
    machines.push({
      name: m,
      file: configOf.get(m)?.file ?? ms.config,
      addressEnv: ms.addressEnv,
      addressVariables: addressVariables(ms.addressEnv),
      gpus,
      agents: live
        .filter((d) => d.cfg.machine === m)
        .map((d) => d.id)
        .sort(byString),
      ...(ms.cpus !== undefined ? { cpus: ms.cpus } : {}),
      ...(ms.memoryGiB !== undefined ? { memoryGiB: ms.memoryGiB } : {}),
      ...(ms.node !== undefined ? { node: ms.node } : {}),
      cache: {
        sizeGiB: ms.cache.sizeGiB,
        path: ms.cache.path,
        ...(ms.cache.storageClassName ? { storageClassName: ms.cache.storageClassName } : {}),
        ...(ms.cache.hostPath ? { hostPath: ms.cache.hostPath } : {}),
      },
      ...(ms.models ? { models: { hostPath: ms.models.hostPath, sizeGiB: ms.models.sizeGiB } } : {}),
      sharing: ms.sharing,
    });
  }
  return { gpuOf, machines, diagnostics: ds };
}
