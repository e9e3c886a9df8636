/** Generated systems of any size for the benchmarks. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
      lines.push(
        `    Agent${n}:`,
        `      script_path: agents/agent_${n}.py`,
        `      port: \${PORT_OFFSET}+${port}`,
        `      health_check_port: "\${PORT_OFFSET}+${port + 20000}"`,
        `      dependencies: [${deps.join(', ')}]`,
      );
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
