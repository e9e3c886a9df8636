/**
 * The generated firewall applied by nft itself, on test hosts of their own: the small system's mainpc
 * ruleset in one namespace, its listeners on the ports the ruleset concerns (and one it does not), and
 * connections from pc2's address and Prometheus's through a LAN the test makes (198.18.0.0/24, no
 * default route anywhere). Needs root and iproute2/nftables; skipped with a message otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, cli } from '../helpers.ts';
import { CAN_NETNS, connections, inHost, makeLan, PYTHON, type TestLan } from '../netns.ts';

const HAS_NFT = spawnSync('nft', ['--version']).status === 0;
const READY = CAN_NETNS && HAS_NFT;
if (!READY)
  console.warn('skipping the firewall test: it needs root, ip netns (iproute2) and nft (Debian package nftables)');

// The small system (test/fixtures/golden-small): pc2's Relay depends on mainpc's SpeechModel (service 7300,
// health 8300), pc2's ErrorBus finds ServiceRegistry (7200) through SERVICE_REGISTRY_HOST, and Prometheus
// scrapes ServiceRegistry's metrics (9200). Translator's 7400 and the health ports 8200, 8400 are published
// on mainpc for its own tools but reached by no other host. 2222 is no port of the system (SSH, say).
const FROM_PC2 = [7200, 7300, 8300];
const FROM_PROMETHEUS = [9200];
const NOBODY = [7400, 8200, 8400];
const UNRELATED = 2222;

const MAINPC = '198.18.0.1';
const PC2 = '198.18.0.2';
const PROMETHEUS = '198.18.0.3';

let lan: TestLan;
let listener: ChildProcess;
let ruleset: string;

describe.skipIf(!READY)('the firewall of mainpc, applied by nft on a test host', () => {
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'firewall-'));
    // A copy: synth writes the lock beside the spec, and the fixture is not this test's to change.
    cpSync(join(ROOT, 'test/fixtures/golden-small'), join(dir, 'system'), { recursive: true });
    const r = cli(
      ['synth', '--spec', join(dir, 'system', 'agent-infra.yaml'), '--out', join(dir, 'out'), '--only', 'compose'],
      dir,
    );
    expect(r.code).toBe(0);
    ruleset = join(dir, 'out', 'compose', 'firewall', 'mainpc.nft');
    lan = makeLan('fw', [
      { name: 'mainpc', octet: 1 },
      { name: 'pc2', octet: 2 },
    ]);
    // pc2's host also holds the Prometheus host's address, to connect from either.
    const pc2 = lan.hosts[1]!;
    expect(inHost(pc2, ['ip', 'addr', 'add', `${PROMETHEUS}/24`, 'dev', 'eth0']).code).toBe(0);
    const ports = [...FROM_PC2, ...FROM_PROMETHEUS, ...NOBODY, UNRELATED];
    listener = spawn('ip', [
      'netns',
      'exec',
      lan.hosts[0]!.ns,
      PYTHON,
      '-c',
      `import socket, sys, time
socks = []
for p in sys.argv[1:]:
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", int(p))); s.listen(64); socks.append(s)
print("listening", flush=True)
time.sleep(3600)`,
      ...ports.map(String),
    ]);
    await new Promise<void>((resolve, reject) => {
      listener.stdout!.once('data', () => resolve());
      listener.once('exit', (code) => reject(new Error(`the listener exited with ${code}`)));
    });
  });

  afterAll(() => {
    if (listener?.pid) listener.kill();
    lan?.remove();
  });

  const apply = () =>
    inHost(lan.hosts[0]!, ['nft', '-D', `PC2_IP=${PC2}`, '-D', `PROMETHEUS_IP=${PROMETHEUS}`, '-f', ruleset]);
  const from = (src: string, ports: readonly number[], seconds = 3) =>
    connections(
      lan.hosts[1]!,
      ports.map((p) => [src, MAINPC, p] as const),
      seconds,
    );

  it('starts on hosts with no default route', () => {
    for (const h of lan.hosts)
      expect([h.name, lan.routes[h.name]]).toEqual([
        h.name,
        ['198.18.0.0/24 dev eth0 proto kernel scope link src ' + h.address],
      ]);
  });

  it('reaches every port from anywhere before the ruleset is applied', () => {
    const all = [...FROM_PC2, ...FROM_PROMETHEUS, ...NOBODY, UNRELATED];
    expect(from(PC2, all)).toEqual(all.map(() => 'open'));
  });

  it('admits each listed port from its one source, refuses the rest of the system’s ports, leaves others alone', () => {
    expect(apply()).toMatchObject({ code: 0 });
    // Applied twice: the table is replaced, not doubled.
    expect(apply()).toMatchObject({ code: 0 });
    const tables = inHost(lan.hosts[0]!, ['nft', 'list', 'tables']).out.trim().split('\n');
    expect(tables).toEqual(['table inet agent_infra_mainpc']);
    expect(from(PC2, [...FROM_PC2, UNRELATED])).toEqual([...FROM_PC2, UNRELATED].map(() => 'open'));
    expect(from(PROMETHEUS, FROM_PROMETHEUS)).toEqual(['open']);
    // Dropped, not refused: the other host learns nothing of what listens there.
    expect(from(PC2, [...FROM_PROMETHEUS, ...NOBODY], 1)).toEqual([...FROM_PROMETHEUS, ...NOBODY].map(() => 'timeout'));
    expect(from(PROMETHEUS, [7300, 7400], 1)).toEqual(['timeout', 'timeout']);
    // Loopback on the host itself is untouched.
    expect(
      connections(
        lan.hosts[0]!,
        NOBODY.map((p) => ['', '127.0.0.1', p] as const),
      ),
    ).toEqual(NOBODY.map(() => 'open'));
  });

  it('comes off with the command its header gives', () => {
    const remove = readFileSync(ruleset, 'utf8').match(/remove it with: (nft delete table inet \w+)/)![1]!;
    expect(inHost(lan.hosts[0]!, remove.split(' ')).code).toBe(0);
    expect(from(PC2, NOBODY)).toEqual(NOBODY.map(() => 'open'));
  });
});
