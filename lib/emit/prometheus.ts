/**
 * Prometheus for the system: the scrape configuration of each compose layout and the alert rules, the same
 * rules for compose (a rule file) and Kubernetes (a PrometheusRule). Pure.
 *
 * The rules use only what the agents and Prometheus export: `up` (Prometheus's own), and the agents'
 * exporter's `agent_health_status` (an Enum: one series per state, 1 for the current one) and
 * `agent_uptime_seconds` (a gauge that falls back to 0 when the agent restarts).
 */
import type { SystemPlan } from '../plan/types.ts';
import { LOOPBACK } from './compose/topology.ts';

/** The alert rule file beside each compose layout's prometheus.yml. */
export const ALERTS_FILE = 'alerts.yml';

export type PrometheusLayout = 'two-pc' | 'single-host';

/** Minutes an agent may be unscraped, and not healthy, before its alert fires. */
export const DOWN_MINUTES = 2;
export const NOT_HEALTHY_MINUTES = 5;
/** Restarts within the window that make an agent's alert fire. */
export const RESTARTS = 3;
export const RESTART_WINDOW_MINUTES = 15;

/** A PromQL string literal (double-quoted, Go escapes). */
const q = (s: string) => JSON.stringify(s);

/** One scrape job per agent with a metrics port, labelled with the agent, its machine and the system. */
export function scrapeConfig(plan: SystemPlan, layout: PrometheusLayout): Record<string, unknown> {
  const target = (a: SystemPlan['agents'][number]) =>
    layout === 'single-host'
      ? `${LOOPBACK}:${a.metricsPort!.singleHostPort ?? a.metricsPort!.port}`
      : `${a.machine}:${a.metricsPort!.port}`;
  return {
    global: { scrape_interval: '30s', evaluation_interval: '30s' },
    rule_files: [layout === 'single-host' ? `../${ALERTS_FILE}` : ALERTS_FILE],
    scrape_configs: plan.agents
      .filter((a) => a.metricsPort)
      .map((a) => ({
        job_name: a.id,
        metrics_path: '/metrics',
        static_configs: [{ targets: [target(a)], labels: { agent: a.name, machine: a.machine, system: plan.name } }],
      })),
  };
}

/** Where the rules run: compose targets carry `system`, `agent` and `machine`; Kubernetes ones `namespace` and `service`. */
export type AlertTarget = 'compose' | 'kubernetes';

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/** The system's alert rules, in one group. */
export function alertRules(plan: SystemPlan, target: AlertTarget): { name: string; rules: AlertRule[] }[] {
  const scope = target === 'compose' ? `system=${q(plan.name)}` : `namespace=${q(plan.namespace)}`;
  // On Kubernetes `up` names the Service (the agent's id); the exporter's own `agent` label names the agent.
  const upAgent = target === 'compose' ? '{{ $labels.agent }} on {{ $labels.machine }}' : '{{ $labels.service }}';
  const where = target === 'compose' ? ' on {{ $labels.machine }}' : ' ({{ $labels.pod }})';
  const labels = { severity: 'critical', system: plan.name };
  return [
    {
      name: `${plan.name}-agents`,
      rules: [
        {
          alert: 'AgentDown',
          expr: `up{${scope}} == 0`,
          for: `${DOWN_MINUTES}m`,
          labels,
          annotations: {
            summary: `${upAgent} is down`,
            description: `Prometheus could not scrape {{ $labels.instance }} for ${DOWN_MINUTES} minutes: the agent is stopped or restarting, or its metrics port is not reachable from Prometheus (the firewall admits Prometheus's address only).`,
          },
        },
        {
          alert: 'AgentNotHealthy',
          expr: `agent_health_status{${scope}, agent_health_status="healthy"} == 0`,
          for: `${NOT_HEALTHY_MINUTES}m`,
          labels: { ...labels, severity: 'warning' },
          annotations: {
            summary: `{{ $labels.agent }}${where} has not been healthy for ${NOT_HEALTHY_MINUTES} minutes`,
            description: `Its exporter reports a health status other than healthy (starting, unhealthy, unknown or stopping) for ${NOT_HEALTHY_MINUTES} minutes; its /health says why.`,
          },
        },
        {
          alert: 'AgentRestarting',
          expr: `resets(agent_uptime_seconds{${scope}}[${RESTART_WINDOW_MINUTES}m]) >= ${RESTARTS}`,
          labels: { ...labels, severity: 'warning' },
          annotations: {
            summary: `{{ $labels.agent }}${where} restarted {{ $value }} times in ${RESTART_WINDOW_MINUTES} minutes`,
            description: `Its uptime fell back to zero ${RESTARTS} times or more in ${RESTART_WINDOW_MINUTES} minutes: it crashes, or a dependency it waits for never comes up; its logs say which.`,
          },
        },
      ],
    },
  ];
}
