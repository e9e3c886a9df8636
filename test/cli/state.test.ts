/** State that survives: each agent's data folder on a volume of its own, the machines' model caches, VRAM told to GPU agents; and the refusals. */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { runPipeline } from '../../lib/pipeline.ts';
import { emitAll } from '../../lib/synth.ts';
import { cli, EXAMPLE_SPEC, exampleSpecCopy, ROOT } from '../helpers.ts';
import { parseManifests, validateAll } from '../k8s-helpers.ts';

const r = runPipeline({ spec: EXAMPLE_SPEC, cwd: ROOT });
const plan = r.plan;
const files = emitAll(plan, 'examples/two-pc/agent-infra.yaml');
const objects = parseManifests(files);
const deployment = (id: string) => objects.find((o) => o.kind === 'Deployment' && o.metadata.name === id)!;
const compose = (m: string) =>
  parse(files.get(`compose/docker-compose.${m}.yml`)!) as {
    services: Record<string, any>;
    volumes: Record<string, unknown>;
  };
// The example's three replicated agents keep no state (replicas cannot share one volume); all others keep 1 GiB.
const REPLICATED = ['chitchat-agent', 'streaming-translation-proxy', 'translation-service'];

describe('state in Kubernetes', () => {
  it('gives every agent of one replica a PersistentVolumeClaim of its own, mounted at /app/data, and the Recreate strategy', () => {
    const stateful = plan.agents.filter((a) => !REPLICATED.includes(a.id));
    expect(stateful.length).toBe(79);
    expect(
      plan.agents
        .filter((a) => !a.state)
        .map((a) => a.id)
        .sort(),
    ).toEqual(REPLICATED);
    for (const a of stateful) {
      const pvc = objects.find((o) => o.kind === 'PersistentVolumeClaim' && o.metadata.name === `${a.id}-data`)!;
      expect([a.id, pvc.spec]).toEqual([
        a.id,
        { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      ]);
      const pod = deployment(a.id).spec.template.spec;
      const volume = pod.volumes.find((v: any) => v.persistentVolumeClaim?.claimName === `${a.id}-data`);
      expect(volume).toBeDefined();
      expect(pod.containers[0].volumeMounts).toContainEqual({ mountPath: '/app/data', name: volume.name });
      expect(deployment(a.id).spec.strategy).toEqual({ type: 'Recreate' });
    }
  });

  it('shares one model cache per machine, a PersistentVolumeClaim, never memory-backed, with HF_HOME, TORCH_HOME and XDG_CACHE_HOME in it', () => {
    for (const m of plan.machines) {
      const pvc = objects.find(
        (o) => o.kind === 'PersistentVolumeClaim' && o.metadata.name === `model-cache-${m.name}`,
      )!;
      expect(pvc.spec.resources.requests.storage).toBe('50Gi');
      for (const a of plan.agents.filter((x) => x.machine === m.name)) {
        const pod = deployment(a.id).spec.template.spec;
        const v = pod.volumes.find((x: any) => x.persistentVolumeClaim?.claimName === `model-cache-${m.name}`);
        expect(pod.containers[0].volumeMounts).toContainEqual({ mountPath: '/app/.cache', name: v.name });
        const env = Object.fromEntries(pod.containers[0].env.map((e: any) => [e.name, e.value]));
        expect([env.HF_HOME, env.TORCH_HOME, env.XDG_CACHE_HOME]).toEqual([
          '/app/.cache/huggingface',
          '/app/.cache/torch',
          '/app/.cache',
        ]);
        // No emptyDir under a data or cache path of an agent that keeps state; logs go to stdout (and scratch).
        const ephemeral = pod.volumes
          .filter((x: any) => x.emptyDir)
          .map((x: any) => pod.containers[0].volumeMounts.find((vm: any) => vm.name === x.name).mountPath);
        expect([a.id, ephemeral.sort()]).toEqual([
          a.id,
          a.state ? ['/app/logs', '/tmp'] : ['/app/data', '/app/logs', '/tmp'],
        ]);
      }
    }
  });

  it('tells every GPU agent its VRAM budget and its card, and keeps the manifests valid', async () => {
    for (const a of plan.agents) {
      const env = Object.fromEntries(
        deployment(a.id).spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]),
      );
      if (a.gpu)
        expect([a.id, env.AGENT_VRAM_GIB, env.CUDA_VISIBLE_DEVICES]).toEqual([a.id, String(a.gpu.vramGiB), '0']);
      else expect([a.id, env.AGENT_VRAM_GIB]).toEqual([a.id, undefined]);
    }
    // Worked out from the example's spec: ModelOpsCoordinator vramGiB 5, ChainOfThoughtAgent 2.5.
    const vram = (id: string) =>
      deployment(id).spec.template.spec.containers[0].env.find((e: any) => e.name === 'AGENT_VRAM_GIB').value;
    expect([vram('model-ops-coordinator'), vram('chain-of-thought-agent')]).toEqual(['5', '2.5']);
    expect(await validateAll(objects)).toEqual([]);
  });

  it("binds a host folder through a local PersistentVolume on the machine's node (PodSecurity restricted allows no hostPath), and shares GPUs by MPS when asked", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'state-host-'));
    const spec = exampleSpecCopy(dir, (t) =>
      t
        .replace(
          '    cpus: 16\n',
          '    cpus: 16\n    node: mainpc-node\n    cache: {hostPath: /srv/models, sizeGiB: 200}\n    sharing: mps\n',
        )
        .replace(
          '  NLUAgent: {startupSeconds: 3}',
          '  NLUAgent: {startupSeconds: 3, state: {hostPath: /srv/nlu, sizeGiB: 5}}',
        ),
    );
    const p = runPipeline({ spec, cwd: dir });
    expect(p.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const out = emitAll(p.plan, 'agent-infra.yaml');
    const objs = parseManifests(out);
    const pv = objs.find(
      (o) => o.kind === 'PersistentVolume' && o.metadata.name === 'voice-assistant-model-cache-mainpc',
    )!;
    expect(pv.metadata.namespace).toBeUndefined();
    expect(pv.spec).toMatchObject({
      local: { path: '/srv/models' },
      capacity: { storage: '200Gi' },
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: 'agent-infra-local',
    });
    expect(pv.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions).toEqual([
      { key: 'kubernetes.io/hostname', operator: 'In', values: ['mainpc-node'] },
    ]);
    expect(
      objs.find((o) => o.kind === 'PersistentVolumeClaim' && o.metadata.name === 'model-cache-mainpc')!.spec.volumeName,
    ).toBe('voice-assistant-model-cache-mainpc');
    expect(
      objs.find((o) => o.kind === 'PersistentVolume' && o.metadata.name === 'voice-assistant-nlu-agent-data')!.spec
        .local,
    ).toEqual({ path: '/srv/nlu' });
    const nlu = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'nlu-agent')!;
    expect(nlu.spec.template.spec.nodeSelector).toEqual({ 'kubernetes.io/hostname': 'mainpc-node' });
    expect(nlu.spec.template.spec.volumes.some((v: any) => v.hostPath)).toBe(false);
    const sharing = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'nvidia-device-plugin-config')!;
    expect(parse(sharing.data!['mainpc']!).sharing).toEqual({
      mps: { renameByDefault: false, resources: [{ name: 'nvidia.com/gpu', replicas: 14 }] },
    });
    expect(Object.keys(parse(sharing.data!['pc2']!).sharing)).toEqual(['timeSlicing']);
    // Compose binds the host folders.
    const c = parse(out.get('compose/docker-compose.mainpc.yml')!);
    expect(c.services['nlu-agent'].volumes).toContainEqual({ type: 'bind', source: '/srv/nlu', target: '/app/data' });
    expect(c.services['nlu-agent'].volumes).toContainEqual({
      type: 'bind',
      source: '/srv/models',
      target: '/app/.cache',
    });
    expect(c.volumes['model-cache']).toBeUndefined();
    expect(await validateAll(objs)).toEqual([]);
  });
});

describe('the read-only models folder a machine names', () => {
  it('is a read-only bind in compose and a ReadOnlyMany local volume, mounted read-only, in Kubernetes; it needs a node', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'models-'));
    const spec = exampleSpecCopy(dir, (t) =>
      t.replace(
        '    cpus: 16\n',
        '    cpus: 16\n    node: mainpc-node\n    models: {hostPath: /srv/models, sizeGiB: 300}\n',
      ),
    );
    const p = runPipeline({ spec, cwd: dir });
    expect(p.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const out = emitAll(p.plan, 'agent-infra.yaml');
    const c = parse(out.get('compose/docker-compose.mainpc.yml')!);
    expect(c.services['nlu-agent'].volumes).toContainEqual({
      type: 'bind',
      source: '/srv/models',
      target: '/app/models',
      read_only: true,
    });
    // PC2 names none: its models folder stays AGENT_MODELS_DIR.
    expect(parse(out.get('compose/docker-compose.pc2.yml')!).services['central-error-bus'].volumes).toContainEqual({
      type: 'bind',
      source: '${AGENT_MODELS_DIR:-./models}',
      target: '/app/models',
      read_only: true,
    });
    const objs = parseManifests(out);
    const pv = objs.find((o) => o.kind === 'PersistentVolume' && o.metadata.name === 'voice-assistant-models-mainpc')!;
    expect(pv.spec).toMatchObject({
      accessModes: ['ReadOnlyMany'],
      local: { path: '/srv/models' },
      capacity: { storage: '300Gi' },
    });
    const pod = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'nlu-agent')!.spec.template.spec;
    const v = pod.volumes.find((x: any) => x.persistentVolumeClaim?.claimName === 'models-mainpc');
    expect(pod.containers[0].volumeMounts).toContainEqual({ mountPath: '/app/models', name: v.name, readOnly: true });
    expect(await validateAll(objs)).toEqual([]);
    const unpinned = exampleSpecCopy(mkdtempSync(join(tmpdir(), 'models-bad-')), (t) =>
      t.replace('    cpus: 16\n', '    cpus: 16\n    models: {hostPath: /srv/models}\n'),
    );
    expect(
      runPipeline({ spec: unpinned, cwd: dir })
        .diagnostics.filter((d) => d.severity === 'error')
        .map((d) => d.message),
    ).toEqual([
      'machines.mainpc.models.hostPath /srv/models needs the machine pinned to a node: set machines.mainpc.node',
    ]);
  });
});

describe('state in compose', () => {
  it('gives every stateful agent a named volume of its own (never one shared by all) and each machine one model cache', () => {
    for (const m of plan.machines) {
      const p = compose(m.name);
      expect(p.volumes['agent-data']).toBeUndefined();
      expect(p.volumes['model-cache']).toEqual({});
      for (const a of plan.agents.filter((x) => x.machine === m.name)) {
        const vols = p.services[a.id].volumes;
        if (a.state) {
          expect(vols).toContainEqual({ type: 'volume', source: `${a.id}-data`, target: '/app/data' });
          expect(p.volumes[`${a.id}-data`]).toEqual({});
        }
        expect(vols).toContainEqual({ type: 'volume', source: 'model-cache', target: '/app/.cache' });
        expect(p.services[a.id].tmpfs).not.toContain('/app/.cache');
      }
    }
  });
});

describe('refusals, each with its spec path and nothing written', () => {
  const refused = (edit: (t: string) => string) => {
    const dir = mkdtempSync(join(tmpdir(), 'state-bad-'));
    const spec = exampleSpecCopy(dir, edit);
    const check = cli(['check', '--spec', spec], dir);
    const synth = cli(['synth', '--spec', spec, '--out', join(dir, 'dist')], dir);
    expect(readdirSync(dir).includes('dist')).toBe(false);
    expect([check.code, synth.code].every((c) => c !== 0)).toBe(true);
    expect(check.stderr).not.toMatch(/at .*\.ts:\d+|Error:/);
    return check.stderr;
  };
  const withState = (state: string) => (t: string) =>
    t.replace('  NLUAgent: {startupSeconds: 3}', `  NLUAgent: {startupSeconds: 3, state: ${state}}`);

  it('refuses a state size of 0, negative or absurd', () => {
    expect(refused(withState('{sizeGiB: 0}'))).toMatch(/agents\.NLUAgent\.state\.sizeGiB/);
    expect(refused(withState('{sizeGiB: -5}'))).toMatch(/agents\.NLUAgent\.state\.sizeGiB/);
    expect(refused(withState('{sizeGiB: 1e9}'))).toMatch(/agents\.NLUAgent\.state\.sizeGiB/);
  });

  it('refuses a storage class that is not a DNS name, and a host folder that is not absolute or climbs', () => {
    expect(refused(withState('{storageClassName: Fast_SSD}'))).toMatch(/agents\.NLUAgent\.state\.storageClassName/);
    expect(refused(withState('{hostPath: data/nlu}'))).toMatch(
      /agents\.NLUAgent\.state\.hostPath: must be an absolute folder path/,
    );
    expect(refused(withState('{hostPath: /srv/../etc}'))).toMatch(
      /agents\.NLUAgent\.state\.hostPath: must not contain \.\./,
    );
  });

  it('refuses a cache inside the code or the data folder, two agents in one host folder, a host folder on a machine with no node, state on a replicated agent', () => {
    expect(
      refused((t) => t.replace('    cpus: 16\n', '    cpus: 16\n    cache: {path: /app/main_pc_code/models}\n')),
    ).toContain('machines.mainpc.cache.path /app/main_pc_code/models is inside the code folder /app/main_pc_code');
    const two = (t: string) =>
      t
        .replace('    cpus: 16\n', '    cpus: 16\n    node: n1\n')
        .replace('  NLUAgent: {startupSeconds: 3}', '  NLUAgent: {startupSeconds: 3, state: {hostPath: /srv/x}}')
        .replace('  Responder: {startupSeconds: 3}', '  Responder: {startupSeconds: 3, state: {hostPath: /srv/x}}');
    expect(refused(two)).toMatch(
      /agents (NLUAgent and Responder|Responder and NLUAgent) both keep their state in \/srv\/x on mainpc/,
    );
    expect(refused(withState('{hostPath: /srv/nlu}'))).toContain(
      'machine mainpc names no node: set machines.mainpc.node',
    );
    expect(
      refused((t) =>
        t.replace(
          '  ChitchatAgent: {startupSeconds: 2, replicas: 2, maxReplicas: 4}',
          '  ChitchatAgent: {startupSeconds: 2, replicas: 2, maxReplicas: 4, state: {sizeGiB: 2}}',
        ),
      ),
    ).toContain('agent ChitchatAgent runs 2 replicas, which cannot share one state volume');
    // The same asked through its group.
    expect(refused((t) => t.replace('groups:\n', 'groups:\n  language_processing: {state: {sizeGiB: 2}}\n'))).toContain(
      'agent ChitchatAgent runs 2 replicas, which cannot share one state volume',
    );
  });
});

describe('discovery entries the spec writes', () => {
  it('warns on an entry that names no agent, and sets the variables of one that does', () => {
    const dir = mkdtempSync(join(tmpdir(), 'discovery-'));
    const spec = exampleSpecCopy(
      dir,
      (t) => `${t}discovery: {SERVICE_REGISTRY: ServiceRegistry, MEMORY_HUB: MemoryFusionHub, GHOST: NoSuchAgent}\n`,
    );
    const p = runPipeline({ spec, cwd: dir });
    expect(p.diagnostics.filter((d) => d.code === 'unknown-discovery').map((d) => d.message)).toEqual([
      "discovery.GHOST names 'NoSuchAgent', which is no agent of the system: GHOST_HOST and GHOST_PORT are not set; fix the name or remove the entry",
    ]);
    const nlu = p.plan.agents.find((a) => a.name === 'NLUAgent')!;
    // The example's MemoryFusionHub binds 5713; the spec's map replaces the default one (no DIGITAL_TWIN entry now).
    expect(nlu.env.find((e) => e.name === 'MEMORY_HUB_PORT')).toMatchObject({ kind: 'port', port: 5713 });
    expect(nlu.env.find((e) => e.name === 'MEMORY_HUB_HOST')).toEqual({
      name: 'MEMORY_HUB_HOST',
      kind: 'agent-host',
      agent: 'memory-fusion-hub',
    });
    expect(nlu.env.some((e) => e.name === 'GHOST_HOST')).toBe(false);
  });
});
