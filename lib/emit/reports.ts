/** Reports people look at: the dependency graph (DOT and SVG), the port map, the startup plan, GPU use, image sizes. */
import type { SourceStage } from '../source/stage.ts';
import { agentsReport } from './agents-report.ts';
import { visible } from '../diagnostics.ts';
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { SystemPlan } from '../plan/types.ts';
import { agentIndex } from '../plan/agent-index.ts';
import { byString } from '../plan/names.ts';
import { SINGLE_HOST } from '../plan/plan.ts';
import { headerLine, xmlHeader } from '../contract/yaml.ts';

/** The JSON of `agent-infra images --json`, as far as the images report reads it. */
export interface ImagesReportInput {
  readonly families: readonly {
    family: string;
    sizeBytes: number;
    wastedBytes: number;
    naive?: { sizeBytes: number };
  }[];
  readonly sharing?: { uniqueBytes: number; sumBytes: number; ratio: number };
}

const q = (s: string) => `"${visible(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
const mdHeader = xmlHeader;

/** The dependency graph in Graphviz DOT: machines as clusters, left to right by start level. */
export function graphDot(plan: SystemPlan, input: string): string {
  const inCycle = new Set(plan.cycles.flat());
  const cycleEdges = new Set(plan.cycles.flatMap((c) => c.map((id, i) => `${c[(i + 1) % c.length]}->${id}`)));
  const lines = [
    headerLine(input, '//'),
    'digraph agents {',
    '  graph [rankdir=LR, fontname="Helvetica", fontsize=12, nodesep=0.12, ranksep=0.5, newrank=true, bgcolor="white"];',
    '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=9, fillcolor="#ffffff", color="#555555"];',
    '  edge [color="#888888", arrowsize=0.6];',
  ];
  for (const m of plan.machines) {
    const gpus = m.gpus.map((g) => `${g.model} ${g.vramGiB} GiB`).join(', ');
    lines.push(
      `  subgraph ${q(`cluster_${m.name}`)} {`,
      `    label=${q(`${m.name}${gpus ? ` (${gpus})` : ''}`)}; style="rounded"; color="#999999";`,
    );
    for (const a of plan.agents.filter((x) => x.machine === m.name)) {
      const label = a.gpu ? `${a.name}\\nGPU ${a.gpu.device}: ${a.gpu.vramGiB} GiB` : a.name;
      const attrs = [`label=${q(label).replace(/\\\\n/g, '\\n')}`];
      if (a.gpu) attrs.push('fillcolor="#dff3df"');
      if (inCycle.has(a.id)) attrs.push('color="red"', 'penwidth=2');
      lines.push(`    ${q(a.id)} [${attrs.join(', ')}];`);
    }
    for (const l of plan.leftOut.filter((x) => x.machine === m.name)) {
      const why = l.reason === 'blocked' ? 'blocked' : `cannot start: ${l.problem.code}`;
      lines.push(
        `    ${q(`left-out:${l.key}`)} [label=${q(`${l.name}\\n(${why})`).replace(/\\\\n/g, '\\n')}, style="rounded,filled,dashed", ${LEFT_OUT_STYLE[l.reason]}];`,
      );
    }
    lines.push('  }');
  }
  // One rank per start level keeps the picture in startup order.
  for (const [i, level] of plan.startLevels.entries())
    lines.push(`  { rank=same; ${level.map(q).join('; ')}; } // level ${i}`);
  // A blocked agent hangs from the left-out agent it needs (of its own machine first, as the plan resolves it).
  for (const l of plan.leftOut.filter((x) => x.reason === 'blocked')) {
    const by = plan.leftOut.filter((x) => x.name === l.chain[0]);
    const dep = by.find((x) => x.machine === l.machine) ?? by[0];
    if (dep) lines.push(`  ${q(`left-out:${dep.key}`)} -> ${q(`left-out:${l.key}`)} [style=dotted, color="#b00020"];`);
  }
  for (const a of plan.agents) {
    for (const d of a.dependencies) {
      const attrs: string[] = [];
      if (d.crossMachine) attrs.push('style=dashed', 'color="#1f6feb"', 'penwidth=1.6');
      if (cycleEdges.has(`${d.id}->${a.id}`)) attrs.push('color="red"', 'penwidth=2.2');
      lines.push(`  ${q(d.id)} -> ${q(a.id)}${attrs.length ? ` [${attrs.join(', ')}]` : ''};`);
    }
  }
  lines.push(...legend(plan, inCycle.size > 0), '}');
  return `${lines.join('\n')}\n`;
}

const LEFT_OUT_STYLE = {
  'cannot-start': 'fillcolor="#fde2e4", color="#b00020"',
  blocked: 'fillcolor="#eeeeee", color="#777777"',
} as const;

/** A legend of every colour and line style the graph uses (none when it has only plain boxes and arrows). */
function legend(plan: SystemPlan, cycles: boolean): string[] {
  const nodes: [string, string][] = [];
  const edges: [string, string][] = [];
  if (plan.agents.some((a) => a.gpu)) nodes.push(['GPU agent', 'fillcolor="#dff3df"']);
  if (plan.leftOut.some((l) => l.reason === 'cannot-start'))
    nodes.push(['left out: cannot start', `style="rounded,filled,dashed", ${LEFT_OUT_STYLE['cannot-start']}`]);
  if (plan.leftOut.some((l) => l.reason === 'blocked'))
    nodes.push(['left out: blocked', `style="rounded,filled,dashed", ${LEFT_OUT_STYLE.blocked}`]);
  if (cycles) nodes.push(['in a dependency cycle', 'color="red", penwidth=2']);
  if (plan.agents.some((a) => a.dependencies.some((d) => !d.crossMachine))) edges.push(['needs (starts after)', '']);
  if (plan.agents.some((a) => a.dependencies.some((d) => d.crossMachine)))
    edges.push(['needs, on another machine', 'style=dashed, color="#1f6feb", penwidth=1.6']);
  if (plan.leftOut.some((l) => l.reason === 'blocked')) edges.push(['blocks', 'style=dotted, color="#b00020"']);
  if (nodes.length === 0 && !edges.some(([, attrs]) => attrs)) return [];
  const out = ['  subgraph "cluster_legend" {', '    label="legend"; style="rounded"; color="#cccccc"; fontsize=10;'];
  for (const [i, [label, attrs]] of nodes.entries())
    out.push(`    ${q(`legend:n${i}`)} [label=${q(label)}${attrs ? `, ${attrs}` : ''}];`);
  for (const [i, [label, attrs]] of edges.entries())
    out.push(
      `    ${q(`legend:e${i}a`)} [label="", shape=point, width=0.05]; ${q(`legend:e${i}b`)} [label="", shape=point, width=0.05];`,
      `    ${q(`legend:e${i}a`)} -> ${q(`legend:e${i}b`)} [label=${q(label)}, fontsize=8${attrs ? `, ${attrs}` : ''}];`,
    );
  out.push('  }');
  return out;
}

/** Above this many agents the in-process layout takes longer than the rest of a synth run: graph.dot is left for `dot -Tsvg`. */
export const SVG_MAX_AGENTS = 400;

const vizUrl = pathToFileURL(createRequire(import.meta.url).resolve('@viz-js/viz')).href;

/**
 * Graphviz layout on a worker thread: it is the slowest step of a synth run, and the emitters of the
 * other outputs run meanwhile on the main thread.
 */
function layoutInWorker(dot: string): Promise<string> {
  const code = `const { parentPort, workerData } = require('node:worker_threads');
import(workerData.vizUrl).then(async (m) => parentPort.postMessage((await m.instance()).renderString(workerData.dot, { format: 'svg', engine: 'dot' })));`;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: { dot, vizUrl } });
    w.once('message', (svg: string) => {
      resolve(svg);
      void w.terminate();
    });
    w.once('error', reject);
    // Resolved already when it answered; otherwise it died without a word.
    w.once('exit', (code) => reject(new Error(`the graph layout worker exited with code ${code} without an answer`)));
  });
}

/** Renders DOT to SVG in-process (Graphviz compiled to WebAssembly) and puts our header where Graphviz names its version. */
export async function renderSvg(dot: string, input: string, agents: number): Promise<string> {
  if (agents > SVG_MAX_AGENTS) {
    return `<?xml version="1.0" encoding="UTF-8"?>\n${xmlHeader(input)}\n<svg xmlns="http://www.w3.org/2000/svg" width="640" height="60"><text x="10" y="35" font-family="Helvetica" font-size="14">${agents} agents: too many to lay out here; render graph.dot with Graphviz (dot -Tsvg graph.dot).</text></svg>\n`;
  }
  // Fewer crossing-minimization passes: a little less tidy, several times faster on large systems.
  const fast =
    agents > 150
      ? 'mclimit=0.05, nslimit=1, nslimit1=1, searchsize=5, remincross=false, '
      : 'mclimit=0.3, searchsize=10, ';
  const svg = await layoutInWorker(dot.replace('newrank=true,', `newrank=true, ${fast}`));
  return svg.replace(/<!-- Generated by graphviz[\s\S]*?-->\n/, `${xmlHeader(input)}\n`);
}

function portsReport(plan: SystemPlan, input: string): string {
  const out = [mdHeader(input), `# Ports of ${plan.name}`, ''];
  const hosts = [...plan.machines.map((m) => m.name), ...(plan.singleHostReady ? [SINGLE_HOST] : [])];
  for (const host of hosts) {
    const rows = plan.portMap.filter((r) => r.host === host);
    out.push(
      `## ${host === SINGLE_HOST ? 'single host (every machine on one host)' : host}`,
      '',
      '| port | agent | machine | role | name | note |',
      '|---|---|---|---|---|---|',
    );
    for (const r of rows)
      out.push(
        `| ${r.port} | ${r.agent} | ${r.machine} | ${r.role} | ${r.name} | ${r.port !== r.declared ? `reassigned, declared ${r.declared}` : ''} |`,
      );
    out.push('');
  }
  out.push(
    '## Firewall between the machines',
    '',
    'Only these ports are reached from another machine (`prometheus`: the host Prometheus runs on):',
    '',
    '| from | to | port | agent | why |',
    '|---|---|---|---|---|',
  );
  for (const r of plan.firewall) out.push(`| ${r.from} | ${r.to} | ${r.port}/tcp | ${r.agent} | ${r.why} |`);
  if (plan.firewall.length === 0) out.push('| - | - | - | - | no agent reaches another machine |');
  return `${out.join('\n')}\n`;
}

function startupReport(plan: SystemPlan, input: string): string {
  const byId = agentIndex(plan);
  const out = [mdHeader(input), `# Startup plan of ${plan.name}`, ''];
  out.push(
    'Agents of one level start in parallel once every agent of the levels before is healthy.',
    '',
    '| level | agents | slowest (s) | agents |',
    '|---|---|---|---|',
  );
  for (const [i, level] of plan.startLevels.entries()) {
    const slowest = Math.max(...level.map((id) => byId.get(id)!.startupSeconds));
    out.push(`| ${i} | ${level.length} | ${slowest} | ${level.join(', ')} |`);
  }
  const ratio = plan.sequentialSeconds === 0 ? 0 : plan.criticalPath.seconds / plan.sequentialSeconds;
  out.push(
    '',
    '## Critical path',
    '',
    '| agent | machine | startup (s) |',
    '|---|---|---|',
    ...plan.criticalPath.agents.map((id) => `| ${id} | ${byId.get(id)!.machine} | ${byId.get(id)!.startupSeconds} |`),
    '',
    `- critical path: **${plan.criticalPath.seconds} s**, the least time to start everything when each agent waits only for its own dependencies`,
    `- sequential sum: **${plan.sequentialSeconds} s**, every agent after the other, as a one-by-one launcher starts them`,
    `- ratio: **${ratio.toFixed(2)}**: what parallel startup can at best achieve for this system`,
    '',
  );
  if (plan.cycles.length > 0)
    out.push('## Cycles', '', ...plan.cycles.map((c) => `- ${[...c, c[0]].join(' -> ')}`), '');
  return `${out.join('\n')}\n`;
}

function gpuReport(plan: SystemPlan, input: string): string {
  const out = [mdHeader(input), `# GPUs of ${plan.name}`, ''];
  for (const m of plan.machines) {
    if (m.gpus.length === 0) {
      out.push(`## ${m.name}`, '', 'No GPU.', '');
      continue;
    }
    for (const g of m.gpus) {
      const left = Math.round((g.vramGiB - g.usedGiB) * 10) / 10;
      out.push(
        `## ${m.name}, GPU ${g.device}: ${g.model}, ${g.vramGiB} GiB`,
        '',
        `${g.agents.length} agents share it by time-slicing; ${g.usedGiB} GiB planned, **${left} GiB left**${left < 0 ? ' (over budget)' : ''}.`,
        '',
        '| agent | VRAM (GiB) |',
        '|---|---|',
      );
      for (const a of [...g.agents].sort((x, y) => y.vramGiB - x.vramGiB || byString(x.id, y.id)))
        out.push(`| ${a.id} | ${a.vramGiB} |`);
      out.push('');
    }
  }
  return `${out.join('\n')}\n`;
}

function imagesReport(plan: SystemPlan, r: ImagesReportInput, input: string): string {
  const mib = (b: number) => b / 2 ** 20;
  const max = Math.max(...r.families.map((f) => Math.max(f.sizeBytes, f.naive?.sizeBytes ?? 0)), 1);
  const bar = (b: number) => '█'.repeat(Math.max(1, Math.round((b / max) * 40)));
  const out = [
    mdHeader(input),
    `# Images of ${plan.name}`,
    '',
    'From the last `agent-infra images` run (dist/images/report.json).',
    '',
    '```',
  ];
  for (const f of r.families) {
    if (f.naive)
      out.push(`${f.family.padEnd(12)} naive     ${bar(f.naive.sizeBytes)} ${mib(f.naive.sizeBytes).toFixed(1)} MiB`);
    out.push(
      `${f.family.padEnd(12)} optimized ${bar(f.sizeBytes)} ${mib(f.sizeBytes).toFixed(1)} MiB`,
      `${f.family.padEnd(12)} wasted    ${mib(f.wastedBytes).toFixed(1)} MiB`,
      '',
    );
  }
  out.push('```');
  if (r.sharing)
    out.push(
      '',
      `Shared layers: ${mib(r.sharing.uniqueBytes).toFixed(1)} MiB of distinct layers for ${mib(r.sharing.sumBytes).toFixed(1)} MiB summed over the images (${r.sharing.ratio.toFixed(2)}).`,
    );
  return `${out.join('\n')}\n`;
}

/** `reports/*`: graph.dot, graph.svg, ports.md, startup.md, gpu.md and, given an image report, images.md; given the agents' code, agents.md. */
export async function emitReports(
  plan: SystemPlan,
  input: string,
  images?: ImagesReportInput,
  source?: SourceStage,
): Promise<Map<string, string>> {
  const dot = graphDot(plan, input);
  const files = new Map<string, string>([
    ['reports/graph.dot', dot],
    ['reports/graph.svg', await renderSvg(dot, input, plan.agents.length)],
    ['reports/ports.md', portsReport(plan, input)],
    ['reports/startup.md', startupReport(plan, input)],
    ['reports/gpu.md', gpuReport(plan, input)],
  ]);
  if (images) files.set('reports/images.md', imagesReport(plan, images, input));
  if (source) files.set('reports/agents.md', agentsReport(plan, source, input));
  return files;
}
