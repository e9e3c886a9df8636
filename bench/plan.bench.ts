/**
 * Load + plan time for the example and for generated systems of 1,000 and 10,000 agents, measured
 * side by side in one run (median of several runs each). Prints figures; asserts nothing.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runPipeline } from '../lib/pipeline.ts';

/** A system shaped like the real one: groups of agents, `${PORT_OFFSET}+N` ports, a few dependencies each. */
export function writeSyntheticSystem(agents: number): string {
  const dir = mkdtempSync(join(tmpdir(), `agent-infra-${agents}-`));
  const perMachine = [Math.ceil(agents * 0.7), Math.floor(agents * 0.3)];
  const files = ['mainpc.yaml', 'pc2.yaml'];
  let n = 0;
  perMachine.forEach((count, m) => {
    const lines = ['agent_groups:'];
    for (let i = 0; i < count; i++, n++) {
      if (i % 20 === 0) lines.push(`  group_${Math.floor(i / 20)}${i % 100 === 0 ? '_gpu' : ''}:`);
      const port = 10000 + n;
      const deps = [n - 1, n - 7, n - 31].filter((d) => d >= 0 && d < n).map((d) => `Agent${d}`);
      lines.push(`    Agent${n}:`, `      script_path: agents/agent_${n}.py`, `      port: \${PORT_OFFSET}+${port}`, `      health_check_port: "\${PORT_OFFSET}+${port + 20000}"`, `      dependencies: [${deps.join(', ')}]`);
      if (i % 100 === 0) lines.push('      config:', '        vram_soft_limit_mb: 10');
    }
    writeFileSync(join(dir, files[m]!), `${lines.join('\n')}\n`);
  });
  writeFileSync(
    join(dir, 'agent-infra.yaml'),
    [
      'machines:',
      '  mainpc: {config: mainpc.yaml, addressEnv: MAIN_PC_IP, gpus: [{model: NVIDIA GeForce RTX 4090, vramGiB: 10000}]}',
      '  pc2: {config: pc2.yaml, addressEnv: PC2_IP, gpus: [{model: NVIDIA GeForce RTX 3060, vramGiB: 10000}]}',
      '',
    ].join('\n'),
  );
  return join(dir, 'agent-infra.yaml');
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(spec: string, runs: number): { ms: number; agents: number; ok: boolean } {
  const times: number[] = [];
  let agents = 0;
  let ok = false;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = runPipeline({ spec });
    times.push(performance.now() - t0);
    agents = r.plan.agents.length;
    ok = r.ok;
  }
  return { ms: median(times), agents, ok };
}

const example = join(import.meta.dirname, '..', 'examples', 'two-pc', 'agent-infra.yaml');
time(example, 2); // warm up the module cache and the JIT
const rows = [
  ['example', time(example, 7)],
  ['1k', time(writeSyntheticSystem(1000), 7)],
  ['10k', time(writeSyntheticSystem(10000), 5)],
] as const;
console.log('system    agents   load+plan (median)');
for (const [name, r] of rows) console.log(`${name.padEnd(9)} ${String(r.agents).padStart(6)}   ${r.ms.toFixed(1).padStart(8)} ms${r.ok ? '' : '  (has errors)'}`);
const ratio = rows[2][1].ms / rows[1][1].ms;
console.log(`t(10k)/t(1k) = ${ratio.toFixed(2)} (linear would be 10)`);
console.log(`10k under 2 s: ${rows[2][1].ms < 2000 ? 'yes' : 'no'}`);
