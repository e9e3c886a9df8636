/**
 * A config change rolls exactly what it changes. Every agent mounts its machine's startup config (a
 * file compose and Kubernetes never re-read into a running container), so each compose service and pod
 * template carries a digest of it: changing one port of pc2's config must change the definition of
 * every pc2 agent (they all mount that file) and of no mainpc agent (none mounts it, none depends on the
 * agent whose port moved), and Redis and NATS not at all. Expected sets from the configs, by hand.
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runPipeline } from '../../lib/pipeline.ts';
import { emitAll } from '../../lib/synth.ts';
import { ROOT } from '../helpers.ts';
import { parseManifests } from '../k8s-helpers.ts';

const PC2 = 'pc2_code/config/startup_config.yaml';

function output(dir: string) {
  const r = runPipeline({ spec: join(dir, 'agent-infra.yaml'), cwd: dir });
  expect(r.ok).toBe(true);
  const files = emitAll(r.plan, 'agent-infra.yaml', ['k8s', 'compose']);
  const services = (m: string) =>
    (parse(files.get(`compose/docker-compose.${m}.yml`)!) as { services: Record<string, unknown> }).services;
  const deployments = Object.fromEntries(
    parseManifests(files)
      .filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')
      .map((o) => [o.metadata.name, JSON.stringify(o.spec.template)]),
  );
  return { plan: r.plan, compose: { ...services('mainpc'), ...services('pc2') }, deployments };
}

const changed = (a: Record<string, unknown>, b: Record<string, unknown>) =>
  Object.keys(b)
    .filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]))
    .sort();

describe('a one-port change of one machine’s startup config', () => {
  it('changes every compose service and pod template that mounts that config, and nothing else', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rollout-'));
    cpSync(join(ROOT, 'examples', 'two-pc'), dir, { recursive: true });
    const before = output(dir);
    const text = readFileSync(join(dir, PC2), 'utf8');
    // TutorAgent: on pc2, no agent depends on it, and it is no discovery target.
    expect(text).toContain(
      '- name: TutorAgent\n  script_path: pc2_code/agents/tutor_agent.py\n  port: ${PORT_OFFSET}+7109\n',
    );
    writeFileSync(join(dir, PC2), text.replace('port: ${PORT_OFFSET}+7109\n', 'port: ${PORT_OFFSET}+7190\n'));
    const after = output(dir);
    const pc2 = after.plan.agents
      .filter((a) => a.machine === 'pc2')
      .map((a) => a.id)
      .sort();
    expect(pc2).toContain('tutor-agent');
    expect(changed(before.compose, after.compose)).toEqual(pc2);
    expect(changed(before.deployments, after.deployments)).toEqual(pc2);
    // The digest is what changed for all but the agent whose port moved.
    const label = (c: Record<string, unknown>, id: string) =>
      (c[id] as { labels?: Record<string, string> }).labels?.['agent-infra/startup-config-sha256'];
    expect(label(before.compose, 'context-manager-pc2')).toMatch(/^[0-9a-f]{16}$/);
    expect(label(before.compose, 'context-manager-pc2')).not.toBe(label(after.compose, 'context-manager-pc2'));
  });

  it('annotates each pod template with a digest of the address keys it reads from the addresses ConfigMap', () => {
    const r = runPipeline({ spec: join(ROOT, 'examples', 'two-pc', 'agent-infra.yaml'), cwd: ROOT });
    const objects = parseManifests(emitAll(r.plan, 'agent-infra.yaml', ['k8s']));
    const addresses = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.includes('addresses'))!;
    let withKeys = 0;
    for (const d of objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')) {
      const template = d.spec.template;
      // The keys the pod reads, from its own env references; their values from the ConfigMap itself.
      const keys: string[] = template.spec.containers.flatMap((c: { env?: { valueFrom?: any }[] }) =>
        (c.env ?? [])
          .filter((e) => e.valueFrom?.configMapKeyRef?.name === addresses.metadata.name)
          .map((e) => e.valueFrom.configMapKeyRef.key as string),
      );
      const expected = keys.length
        ? createHash('sha256')
            .update(
              keys
                .map((k) => `${k}=${addresses.data![k]}`)
                .sort()
                .join('\n'),
            )
            .digest('hex')
            .slice(0, 16)
        : undefined;
      expect([d.metadata.name, template.metadata.annotations?.['agent-infra/addresses-sha256']]).toEqual([
        d.metadata.name,
        expected,
      ]);
      if (keys.length) withKeys++;
    }
    expect(withKeys).toBeGreaterThan(0);
  });
});
