/**
 * `reports/agents.md`: what each agent's code does against its config, a table per machine, the
 * connections between ZMQ socket types that never pair, and per agent the variables it is given but
 * never reads and reads but is never given (with the code's default, which is what it then uses).
 * Written when a source tree was read.
 */
import { oneLine } from '../diagnostics.ts';
import type { SourceStage } from '../source/stage.ts';
import type { SystemPlan } from '../plan/types.ts';
import { byString } from '../plan/names.ts';
import { xmlHeader } from '../contract/yaml.ts';

/** What the image's entrypoint and the compose file set besides the plan's environment. */
const RUNTIME_ENV = [
  'AGENT_SCRIPT',
  'PYTHONPATH',
  'XDG_CACHE_HOME',
  'HOME',
  'PATH',
  'NVIDIA_VISIBLE_DEVICES',
  'WAIT_FOR',
  'WAIT_TIMEOUT_SECONDS',
];

const cell = (s: string) => oneLine(s).replace(/\|/g, '\\|');

export function agentsReport(plan: SystemPlan, source: SourceStage, input: string): string {
  const out = [
    xmlHeader(input),
    `# The agents' code of ${plan.name}`,
    '',
    "Read from the source tree before planning (`source` in the spec, or `--source`). Ports: the config's, then the code's where they differ.",
    '',
  ];
  const details: string[] = [];
  if (plan.leftOut.length) {
    out.push(
      '## Left out',
      '',
      `Not deployed: ${plan.leftOut.length} agent${plan.leftOut.length === 1 ? '' : 's'} that cannot start, or need one that cannot (\`--strict\` makes any of them block everything). Fix the line named, then synthesize again.`,
      '',
      '| agent | machine | why | where to fix |',
      '|---|---|---|---|',
    );
    for (const l of plan.leftOut) {
      const why =
        l.reason === 'blocked'
          ? `blocked: needs ${l.chain.join(' -> ')}, which cannot start (${l.problem.code})`
          : `${l.problem.code}: ${l.problem.message}`;
      out.push(`| ${cell(l.name)} | ${l.machine} | ${cell(why)} | ${cell(`${l.problem.file}:${l.problem.line}`)} |`);
    }
    out.push('');
  }
  for (const m of plan.machines) {
    out.push(
      `## ${m.name}`,
      '',
      '| agent | script | framework | compiles | health port | undeclared connections | env read / injected | missing modules |',
      '|---|---|---|---|---|---|---|---|',
    );
    for (const a of plan.agents.filter((x) => x.machine === m.name)) {
      const f = source.facts.get(`${a.machine}/${a.name}`);
      if (!f) {
        out.push(`| ${a.name} | - | - | - | ${a.healthPort.declared} | - | - | - |`);
        continue;
      }
      const drift = source.healthDrift.get(`${a.machine}/${a.name}`);
      const health = drift ? `${drift.config} -> ${drift.code}` : String(a.healthPort.port);
      const read = [...new Set(f.envReads.map((e) => e.name))].sort(byString);
      const injected = [...new Set([...a.env.map((e) => e.name), ...RUNTIME_ENV])].sort(byString);
      const missing = f.problems.filter((p) => p.code === 'missing-module').length;
      const unreadable = f.problems.find(
        (p) => p.file === f.script && (p.code === 'missing-script' || p.code === 'unreadable-script'),
      );
      const compiles = unreadable
        ? unreadable.code === 'missing-script'
          ? 'no script'
          : 'unreadable'
        : f.compiles
          ? 'yes'
          : 'no';
      out.push(
        `| ${a.name} | ${cell(f.script)} | ${f.framework} | ${compiles} | ${health} | ${(source.undeclared.get(`${a.machine}/${a.name}`) ?? []).join(', ') || '-'} | ${read.length} / ${a.env.length} | ${missing || '-'} |`,
      );
      const unread = a.env
        .map((e) => e.name)
        .filter((n) => !read.includes(n))
        .sort(byString);
      const unset = read.filter((n) => !injected.includes(n));
      if (unread.length || unset.length) {
        details.push(`### ${a.name} (${m.name})`, '');
        if (unread.length) details.push(`- given, never read: ${unread.map((n) => `\`${n}\``).join(', ')}`);
        if (unset.length) {
          const defaults = unset.map((n) => {
            const d = f.envReads.find((e) => e.name === n && e.default)?.default;
            return `\`${n}\`${d ? ` (the code's default: ${'value' in d ? JSON.stringify(d.value) : `\`${d.text}\``})` : ''}`;
          });
          details.push(`- read, never given: ${defaults.join(', ')}`);
        }
        details.push('');
      }
    }
    out.push('');
  }
  if (source.mismatches.length) {
    out.push(
      '## Connections that pass nothing',
      '',
      'ZMQ drops a connection between socket types that do not pair at its handshake: no message passes either way.',
      '',
      '| agent | machine | connects | to | where |',
      '|---|---|---|---|---|',
    );
    for (const x of source.mismatches)
      out.push(
        `| ${cell(x.from)} | ${x.machine} | ${x.socket} to ${cell(x.endpoint)} | ${cell(x.to)}'s ${x.bound} | ${cell(`${x.file}:${x.line}`)} |`,
      );
    out.push('');
  }
  if (details.length) out.push('## Variables per agent', '', ...details);
  return `${out.join('\n').replace(/\n+$/, '')}\n`;
}
