/**
 * The example's Prometheus files checked by Prometheus's own tool: `promtool check config` reads both compose
 * layouts' prometheus.yml (and the rule file each names), `promtool check rules` the rules of the compose
 * layouts and of the Kubernetes PrometheusRule, and `promtool test rules` runs the alerts against series
 * written here, with the alerts expected worked out by hand from the rules' intent.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { runPipeline } from '../../lib/pipeline.ts';
import { emitAll } from '../../lib/synth.ts';
import { toYaml } from '../../lib/contract/yaml.ts';
import { EXAMPLE_SPEC, ROOT } from '../helpers.ts';
import { parseManifests } from '../k8s-helpers.ts';

const HAS_PROMTOOL = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
if (!HAS_PROMTOOL)
  console.warn('skipping the promtool tests: no promtool on PATH (Debian package prometheus; .ci/run installs it)');

const promtool = (args: string[], cwd: string) => {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
};

let dir: string;
let files: Map<string, string>;
beforeAll(() => {
  files = emitAll(runPipeline({ spec: EXAMPLE_SPEC, cwd: ROOT }).plan, 'examples/two-pc/agent-infra.yaml', [
    'k8s',
    'compose',
  ]);
  dir = mkdtempSync(join(tmpdir(), 'promtool-'));
  for (const [k, v] of files) {
    mkdirSync(dirname(join(dir, k)), { recursive: true });
    writeFileSync(join(dir, k), v);
  }
});

describe.skipIf(!HAS_PROMTOOL)('Prometheus files of the example, by promtool', () => {
  it('checks both layouts’ prometheus.yml with the rule file each names, and the rules', () => {
    const two = promtool(['check', 'config', 'prometheus.yml'], join(dir, 'compose'));
    expect(two).toEqual({ code: 0, out: expect.stringContaining('SUCCESS: 1 rule files found') });
    const one = promtool(['check', 'config', 'prometheus.yml'], join(dir, 'compose', 'single-host'));
    expect(one).toEqual({ code: 0, out: expect.stringContaining('SUCCESS: 1 rule files found') });
    expect(promtool(['check', 'rules', 'alerts.yml'], join(dir, 'compose'))).toEqual({
      code: 0,
      out: expect.stringContaining('SUCCESS: 3 rules found'),
    });
    // Every agent of the example has a metrics port (a BaseAgent serves /metrics at its health port + 1).
    const jobs = (parse(files.get('compose/prometheus.yml')!) as { scrape_configs: unknown[] }).scrape_configs;
    expect(jobs).toHaveLength(82);
  });

  it('scrapes the single-host layout on loopback at the single-host ports, the two-PC one by machine name', () => {
    const target = (f: string, job: string) =>
      (
        parse(files.get(f)!) as { scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] }
      ).scrape_configs.find((j) => j.job_name === job)!.static_configs[0]!.targets[0];
    // ServiceRegistry: health port 8200 (7200 + 1000), so its HTTP /metrics is at 8201.
    expect(target('compose/prometheus.yml', 'service-registry')).toBe('mainpc:8201');
    expect(target('compose/single-host/prometheus.yml', 'service-registry')).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('checks the Kubernetes PrometheusRule’s groups as a rule file', () => {
    const rule = parseManifests(files).find((o) => o.kind === 'PrometheusRule')!;
    expect(rule.metadata).toMatchObject({ name: 'voice-assistant-alerts', namespace: 'voice-assistant' });
    writeFileSync(join(dir, 'k8s-rules.yml'), toYaml({ groups: rule.spec.groups }));
    expect(promtool(['check', 'rules', 'k8s-rules.yml'], dir)).toEqual({
      code: 0,
      out: expect.stringContaining('SUCCESS: 3 rules found'),
    });
  });

  it('fires each alert when, and only when, its condition has held long enough (promtool test rules)', () => {
    const a = (agent: string, job: string, port: number) =>
      `job="${job}", instance="mainpc:${port}", agent="${agent}", machine="mainpc", system="voice-assistant"`;
    const tests = {
      rule_files: ['compose/alerts.yml'],
      evaluation_interval: '30s',
      tests: [
        {
          interval: '30s',
          input_series: [
            // Scraped at 0 s, then not: down from 30 s on.
            { series: `up{${a('Alpha', 'alpha', 9001)}}`, values: '1 0x10' },
            // Another system's target going down is not this system's alert.
            { series: 'up{job="x", instance="h:1", agent="X", machine="m", system="other-system"}', values: '0x10' },
            // Healthy at 0 s, starting from 30 s on.
            {
              series: `agent_health_status{${a('Beta', 'beta', 9002)}, agent_health_status="healthy"}`,
              values: '1 0x14',
            },
            // Uptime falls back to 0 three times (Gamma) and twice (Delta) within 15 minutes.
            { series: `agent_uptime_seconds{${a('Gamma', 'gamma', 9003)}}`, values: '0 30 0 30 0 30 0 30 60 90' },
            { series: `agent_uptime_seconds{${a('Delta', 'delta', 9004)}}`, values: '0 30 0 30 0 30 60 90 120 150' },
          ],
          alert_rule_test: [
            // Down for 1 m 30 s at 2 m: not yet two minutes.
            { eval_time: '2m', alertname: 'AgentDown', exp_alerts: [] },
            {
              eval_time: '3m',
              alertname: 'AgentDown',
              exp_alerts: [
                {
                  exp_labels: {
                    severity: 'critical',
                    system: 'voice-assistant',
                    job: 'alpha',
                    instance: 'mainpc:9001',
                    agent: 'Alpha',
                    machine: 'mainpc',
                  },
                  exp_annotations: {
                    summary: 'Alpha on mainpc is down',
                    description:
                      "Prometheus could not scrape mainpc:9001 for 2 minutes: the agent is stopped or restarting, or its metrics port is not reachable from Prometheus (the firewall admits Prometheus's address only).",
                  },
                },
              ],
            },
            // Not healthy for 4 m 30 s at 5 m; for 5 m 30 s at 6 m.
            { eval_time: '5m', alertname: 'AgentNotHealthy', exp_alerts: [] },
            {
              eval_time: '6m',
              alertname: 'AgentNotHealthy',
              exp_alerts: [
                {
                  exp_labels: {
                    severity: 'warning',
                    system: 'voice-assistant',
                    job: 'beta',
                    instance: 'mainpc:9002',
                    agent: 'Beta',
                    machine: 'mainpc',
                    agent_health_status: 'healthy',
                  },
                  exp_annotations: {
                    summary: 'Beta on mainpc has not been healthy for 5 minutes',
                    description:
                      'Its exporter reports a health status other than healthy (starting, unhealthy, unknown or stopping) for 5 minutes; its /health says why.',
                  },
                },
              ],
            },
            // Gamma's third fall is at 3 m; Delta falls twice only.
            { eval_time: '2m30s', alertname: 'AgentRestarting', exp_alerts: [] },
            {
              eval_time: '4m',
              alertname: 'AgentRestarting',
              exp_alerts: [
                {
                  exp_labels: {
                    severity: 'warning',
                    system: 'voice-assistant',
                    job: 'gamma',
                    instance: 'mainpc:9003',
                    agent: 'Gamma',
                    machine: 'mainpc',
                  },
                  exp_annotations: {
                    summary: 'Gamma on mainpc restarted 3 times in 15 minutes',
                    description:
                      'Its uptime fell back to zero 3 times or more in 15 minutes: it crashes, or a dependency it waits for never comes up; its logs say which.',
                  },
                },
              ],
            },
          ],
        },
      ],
    };
    writeFileSync(join(dir, 'alerts.test.yml'), toYaml(tests));
    const r = promtool(['test', 'rules', 'alerts.test.yml'], dir);
    expect(r).toEqual({ code: 0, out: expect.stringContaining('SUCCESS') });
  });
});
