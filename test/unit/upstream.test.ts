/** The real system's configs at several points in its history (../shared/upstream, read in place). */
import { describe, expect, it } from 'vitest';
import { runPipeline } from '../../lib/pipeline.ts';
import { HAS_UPSTREAM, upstreamMachines } from '../helpers.ts';
import { runInProcess } from '../in-process.ts';

const load = (snapshot: string) => runPipeline({ machines: upstreamMachines(snapshot) });
const codes = (r: ReturnType<typeof load>, code: string) => r.diagnostics.filter((d) => d.code === code);
const cycleMessages = (r: ReturnType<typeof load>) => codes(r, 'dependency-cycle').map((d) => d.message);

describe.skipIf(!HAS_UPSTREAM)('real configs', () => {
  describe('20250706_6584679d: top-level group lists, pc2_services flow maps', () => {
    const r = load('20250706_6584679d');
    it('loads every agent of both machines', () => {
      expect(r.plan.machines.map((m) => [m.name, m.agents.length])).toEqual([
        ['mainpc', 61],
        ['pc2', 35],
      ]);
    });
    it('finds the PC2 cycle with all its members', () => {
      expect(cycleMessages(r)).toEqual([
        'dependency cycle: HealthMonitor -> PerformanceMonitor -> PerformanceLoggerAgent -> SelfHealingAgent -> HealthMonitor; remove one of these dependencies',
      ]);
    });
    it('finds MainPC port 5575 used twice and PC2 health port 8131 used twice', () => {
      const conflicts = codes(r, 'port-conflict').filter((d) => d.severity === 'error');
      expect(conflicts.map((d) => [d.file!.split('/').pop(), d.line, d.message.split(';')[0]])).toEqual([
        [
          '20250706_6584679d_mainpc.yaml',
          256,
          `port 5575 of MemoryOrchestrator (service) is also used by GGUFModelManager (service) on mainpc (${conflicts[0]!.file}:139)`,
        ],
        [
          '20250706_6584679d_pc2.yaml',
          282,
          `port 8131 of TutoringAgent (health) is also used by TieredResponder (health) on pc2 (${conflicts[1]!.file}:12)`,
        ],
      ]);
    });
    it('keeps required: false', () => {
      const optional = r.plan.agents.filter((a) => !a.required).map((a) => a.name);
      expect(optional.length).toBeGreaterThan(0);
      expect(optional).toContain('AgentUtils');
    });
    it('derives health ports nobody declared without reporting them as conflicts', () => {
      const capture = r.plan.agents.find((a) => a.name === 'ModelManagerAgent')!;
      expect(capture.healthPort.port).toBe(6570);
    });
  });

  describe('20250708_60ea66cb: agent_groups maps, pc2 core_services and error_bus_port', () => {
    const r = load('20250708_60ea66cb');
    it('reports both agents defined in two groups, naming both groups', () => {
      expect(codes(r, 'duplicate-agent').map((d) => d.message)).toEqual([
        "agent 'FaceRecognitionAgent' is defined twice on mainpc: in group 'ai_models_gpu_services' (line 117) and in group 'vision'; keep one definition",
        "agent 'IntentionValidatorAgent' is defined twice on mainpc: in group 'language_processing' (line 175) and in group 'security_auth'; keep one definition",
      ]);
    });
    it('finds two MainPC cycles and one PC2 cycle', () => {
      expect(cycleMessages(r)).toEqual([
        'dependency cycle: GGUFModelManager -> ModelManagerAgent -> GGUFModelManager; remove one of these dependencies',
        'dependency cycle: StreamingInterruptHandler -> StreamingTTSAgent -> StreamingInterruptHandler; remove one of these dependencies',
        'dependency cycle: HealthMonitor -> PerformanceMonitor -> PerformanceLoggerAgent -> SystemHealthManager -> HealthMonitor; remove one of these dependencies',
      ]);
    });
    it('names the dependencies defined nowhere', () => {
      const unknown = codes(r, 'unknown-dependency').map((d) => /unknown agent '(\w+)'/.exec(d.message)![1]);
      expect(new Set(unknown)).toEqual(
        new Set(['PC2Services', 'SelfTrainingOrchestrator', 'CodeGenerator', 'TranslationService']),
      );
    });
    it('finds the eight port clashes, port against health port and VisionProcessingAgent on the error bus port', () => {
      const clashes = codes(r, 'port-conflict');
      expect(clashes).toHaveLength(8);
      expect(clashes.filter((d) => d.severity === 'error')).toHaveLength(6);
      expect(clashes.map((d) => d.message)).toContainEqual(
        expect.stringMatching(/^port 7150 of \w+ \(service\) is also used by 'error_bus_port' on pc2 /),
      );
      expect(clashes.map((d) => d.message)).toContainEqual(
        expect.stringMatching(/^port 6580 of \w+ \(service\) is also used by LearningManager \(health\) on mainpc /),
      );
    });
  });

  describe('20250719_b2b4e0c2: the roadmap era', () => {
    const r = load('20250719_b2b4e0c2');
    it('loads 54 MainPC and 23 PC2 agents from multi-line flow maps with trailing commas', () => {
      expect(r.plan.machines.map((m) => m.agents.length)).toEqual([54, 23]);
    });
    it('finds the three-agent audio cycle', () => {
      expect(cycleMessages(r)).toEqual([
        'dependency cycle: StreamingInterruptHandler -> StreamingTTSAgent -> TTSService -> StreamingInterruptHandler; remove one of these dependencies',
      ]);
    });
    it('reports the hard-coded MainPC address with its line and the variable to use', () => {
      const ips = codes(r, 'hardcoded-ip').filter((d) => d.message.includes('192.168.100.16'));
      expect(ips.map((d) => [d.file!.split('/').pop(), d.line, d.path, d.message])).toEqual([
        [
          '20250719_b2b4e0c2_pc2.yaml',
          267,
          'pc2_services[22].config.mainpc_hub_endpoint',
          'hard-coded address 192.168.100.16; use ${MAIN_PC_IP} instead',
        ],
      ]);
    });
    it('gives ObservabilityHub, defined on both machines with the same ports, one name per machine', () => {
      expect(r.plan.agents.filter((a) => a.name === 'ObservabilityHub').map((a) => a.id)).toEqual([
        'observability-hub-mainpc',
        'observability-hub-pc2',
      ]);
    });
  });

  describe('20250731_afcc8738: docker_groups and mixed port notations', () => {
    const r = load('20250731_afcc8738');
    it('loads a group whose agents are all commented out without an error', () => {
      const empty = codes(r, 'empty-group');
      expect(empty.map((d) => [d.severity, d.path])).toEqual([['info', 'agent_groups.gpu_infrastructure']]);
      expect(r.diagnostics.filter((d) => d.severity === 'error' && d.code !== 'vram-over-budget')).toEqual([
        expect.objectContaining({
          code: 'port-conflict',
          message: expect.stringMatching(
            /^port 7150 of VisionProcessingAgent \(service\) is also used by 'error_bus_port'/,
          ),
        }),
      ]);
    });
    it('reads plain and ${PORT_OFFSET}+N ports alike', () => {
      expect(r.plan.agents.find((a) => a.name === 'MemoryOrchestratorService')!.servicePort.port).toBe(7140);
      expect(r.plan.agents.find((a) => a.name === 'ServiceRegistry')!.servicePort.port).toBeGreaterThan(0);
    });
    it('uses the docker groups: vision_dream_gpu agents are GPU agents', () => {
      expect(r.plan.agents.find((a) => a.name === 'VisionProcessingAgent')!.gpu).toMatchObject({
        machine: 'pc2',
        device: 0,
      });
    });
  });

  describe('20250809_9c83ebbd: does not parse', () => {
    it('fails with parse-error at line 242 and exit 2', async () => {
      const res = await runInProcess([
        'check',
        '--machine',
        `mainpc=${upstreamMachines('20250809_9c83ebbd')[0]!.file}`,
      ]);
      expect(res.code).toBe(2);
      expect(res.stderr).toMatch(
        /20250809_9c83ebbd_mainpc\.yaml:242: nested mappings are not allowed in compact mappings; check the indentation/,
      );
      expect(res.stderr).toContain('[parse-error]');
      expect(res.stderr).not.toMatch(/\n\s+at /);
    });
  });

  describe('20250814_9ff5bdfb: newest, docker groups spilled under agent_groups', () => {
    const r = load('20250814_9ff5bdfb');
    it('reports the spilled docker groups as misplaced-group and reads none of them as agents', () => {
      const misplaced = codes(r, 'misplaced-group');
      expect(misplaced).toHaveLength(13);
      expect(
        misplaced.filter((d) => /^agent_groups\.\w+$/.test(d.path!) && d.path !== 'agent_groups.docker_groups'),
      ).toHaveLength(12);
      const names = new Set(r.plan.agents.map((a) => a.name));
      for (const g of [
        'docker_groups',
        'infra_core',
        'observability',
        'core_hubs',
        'vision_gpu',
        'speech_gpu',
        'self_healing',
        'description',
        'agents',
      ])
        expect(names.has(g)).toBe(false);
      expect(r.plan.machines.map((m) => m.agents.length)).toEqual([49, 23]);
    });
    it('resolves the cross-machine dependency to MainPC', () => {
      const relay = r.plan.agents.find((a) => a.name === 'SpeechRelayService')!;
      expect(relay.machine).toBe('pc2');
      expect(relay.dependencies.filter((d) => d.crossMachine)).toEqual([
        expect.objectContaining({ name: 'StreamingTTSAgent', machine: 'mainpc', id: 'streaming-tts-agent' }),
      ]);
      expect(codes(r, 'unknown-dependency')).toEqual([]);
    });
    it('turns listeners in config maps into ports', () => {
      const hub = r.plan.agents.find((a) => a.id === 'memory-fusion-hub-mainpc')!;
      expect(hub.ports.map((p) => [p.name, p.port])).toEqual([
        ['service', 5713],
        ['health', 6713],
        ['grpc', 5714],
        ['metrics', 8080],
      ]);
      const apc = r.plan.agents.find((a) => a.name === 'AffectiveProcessingCenter')!;
      expect(apc.ports.map((p) => p.port)).toEqual([5560, 6560, 5561]);
    });
    it('finds the eight PC2 ports outside the pc2_network ranges', () => {
      expect(codes(r, 'port-out-of-range').map((d) => /port (\d+)/.exec(d.message)![1])).toEqual([
        '5713',
        '6713',
        '5557',
        '6557',
        '9100',
        '9110',
        '7009',
        '9008',
      ]);
    });
    it('plans both machines on their own hosts; one host cannot run both as they are', () => {
      expect(codes(r, 'port-conflict').every((d) => d.severity === 'warning')).toBe(true);
      expect(r.plan.singleHostReady).toBe(false);
    });
  });
});
