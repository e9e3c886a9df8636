/**
 * The probe program every artefact uses (templates/scripts/agent-infra-health), against real sockets:
 * a pyzmq REP socket as a BaseAgent binds one, HTTP servers, a server that never answers, one that
 * drips bytes, one that speaks garbage, a closed port. It never runs past its timeout.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.ts';

const PROBE = join(ROOT, 'templates', 'scripts', 'agent-infra-health');
const WAIT = join(ROOT, 'templates', 'scripts', 'agent-infra-wait');
/** Debian's interpreter, where python3-zmq is installed (the ZMQ server side of these tests). */
const DEBIAN_PYTHON = '/usr/bin/python3';
const HAS_PYZMQ = spawnSync(DEBIAN_PYTHON, ['-c', 'import zmq'], { encoding: 'utf8' }).status === 0;
if (!HAS_PYZMQ) {
  // CI installs it (scripts/test-deps.sh): there a missing pyzmq is a failure, not a skip.
  if (process.env['CI']) throw new Error('/usr/bin/python3 has no zmq: run scripts/test-deps.sh');
  console.warn(
    'skipping the probe tests against a ZMQ REP socket: /usr/bin/python3 has no zmq (run scripts/test-deps.sh)',
  );
}

interface Result {
  code: number;
  stderr: string;
  seconds: number;
}

function probe(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(
      'python3',
      ['-S', PROBE, ...args],
      { env: { PATH: process.env['PATH'], ...env }, timeout: 20_000 },
      (err, _out, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stderr, seconds: (performance.now() - t0) / 1000 });
      },
    );
  });
}

const servers: Server[] = [];
const sockets: Socket[] = [];
const children: ChildProcess[] = [];

/** A TCP server on loopback doing `onConnect` with each connection; resolves to its port. */
function tcpServer(onConnect: (s: Socket) => void): Promise<number> {
  const server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
    onConnect(s);
  });
  servers.push(server);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );
}

/** A pyzmq REP socket answering `reply` after `delay` seconds; resolves to its port. */
function zmqRep(reply: string, delay = 0): Promise<number> {
  const p = spawn(DEBIAN_PYTHON, [join(ROOT, 'test', 'fixtures', 'probe', 'zmq_rep.py'), reply, String(delay)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(p);
  return new Promise((resolve, reject) => {
    p.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    p.once('exit', (c) => reject(new Error(`zmq_rep.py exited ${c}`)));
  });
}

/** A port nothing listens on: one a server had, closed again. */
async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await new Promise<number>((r) =>
    server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)),
  );
  await new Promise((r) => server.close(r));
  return port;
}

afterAll(() => {
  for (const s of sockets) s.destroy();
  for (const s of servers) s.close();
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
});

const BASEAGENT_OK = '{"status": "ok", "ready": true, "initialized": true, "agent_name": "X"}';

describe.skipIf(!HAS_PYZMQ)('zmq: a REQ to a BaseAgent-style REP socket', () => {
  let ok: number, degraded: number, notReady: number, notJson: number, echo: number, slow: number;
  beforeAll(async () => {
    [ok, degraded, notReady, notJson, echo, slow] = await Promise.all([
      zmqRep(BASEAGENT_OK),
      zmqRep('{"status": "degraded", "ready": false, "initialized": true}'),
      zmqRep('{"status": "ok", "ready": false}'),
      zmqRep('not json'),
      zmqRep('-'),
      zmqRep(BASEAGENT_OK, 5),
    ]);
  });

  it('is healthy when the reply says ok', async () => {
    const r = await probe([`zmq://127.0.0.1:${ok}`]);
    expect([r.code, r.stderr]).toEqual([0, '']);
  });

  it('is not healthy (exit 1) when the agent answers degraded, and says so', async () => {
    const r = await probe([`zmq://127.0.0.1:${degraded}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`zmq://127.0.0.1:${degraded}: status 'degraded' (healthy: ok or healthy)`);
  });

  it('accepts degraded when the status set says so, and demands ready only when asked', async () => {
    expect((await probe([`zmq://127.0.0.1:${degraded}?status=ok|degraded`])).code).toBe(0);
    expect((await probe([`zmq://127.0.0.1:${notReady}`])).code).toBe(0);
    const r = await probe([`zmq://127.0.0.1:${notReady}?ready=1`]);
    expect([r.code, r.stderr.trim()]).toEqual([
      1,
      `agent-infra-health: zmq://127.0.0.1:${notReady}: status 'ok' but ready is False`,
    ]);
  });

  it('sends the default request {"action": "health_check"}, or the one given percent-encoded', async () => {
    // The echo server answers with the request itself: its status is the request's.
    expect((await probe([`zmq://127.0.0.1:${echo}?status=x`])).stderr).toContain(`status None`);
    const request = encodeURIComponent(JSON.stringify({ action: 'ping', status: 'pong' }));
    expect((await probe([`zmq://127.0.0.1:${echo}?request=${request}&status=pong`])).code).toBe(0);
  });

  it('treats a reply that is not JSON as not healthy', async () => {
    const r = await probe([`zmq://127.0.0.1:${notJson}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("a reply that is not JSON: b'not json'");
  });

  it('gives up on a slow agent at its timeout, with exit 2', async () => {
    const r = await probe(['--timeout', '1', `zmq://127.0.0.1:${slow}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no answer within 1 s');
    // Never a hang: 10 times the 1 s timeout (a loaded machine is slow, not wrong).
    expect(r.seconds).toBeLessThan(10 * 1);
  });

  it('probes AGENT_HEALTH when given no target, every target of it', async () => {
    expect((await probe([], { AGENT_HEALTH: `zmq://127.0.0.1:${ok},tcp://127.0.0.1:${ok}` })).code).toBe(0);
    expect((await probe([], { AGENT_HEALTH: `zmq://127.0.0.1:${ok},zmq://127.0.0.1:${degraded}` })).code).toBe(1);
  });
});

describe('http, tcp and what is not an agent', () => {
  let http200: number, http503: number, silent: number, drip: number, garbage: number, closed: number;
  beforeAll(async () => {
    const answer = (code: number) => (s: Socket) =>
      s.once('data', () => s.end(`HTTP/1.1 ${code} X\r\nContent-Length: 0\r\n\r\n`));
    [http200, http503, silent, drip, garbage, closed] = await Promise.all([
      tcpServer(answer(200)),
      tcpServer(answer(503)),
      tcpServer(() => {}),
      // One byte every 300 ms: each read succeeds, the whole never completes.
      tcpServer((s) => {
        const t = setInterval(() => (s.destroyed ? clearInterval(t) : s.write('\xff')), 300);
        s.on('close', () => clearInterval(t));
      }),
      tcpServer((s) => s.end(Buffer.from('garbage bytes, not a protocol\r\n\r\n'))),
      closedPort(),
    ]);
  });

  it('http: healthy on 200, exit 1 on 503 unless the codes allow it', async () => {
    expect((await probe([`http://127.0.0.1:${http200}/health`])).code).toBe(0);
    const r = await probe([`http://127.0.0.1:${http503}/health`]);
    expect([r.code, r.stderr.trim()]).toEqual([
      1,
      `agent-infra-health: http://127.0.0.1:${http503}: HTTP 503 (healthy: 200)`,
    ]);
    expect((await probe([`http://127.0.0.1:${http503}/health?codes=200|503`])).code).toBe(0);
  });

  it('tcp: healthy when the port accepts, exit 2 on a closed port', async () => {
    expect((await probe([`tcp://127.0.0.1:${silent}`])).code).toBe(0);
    expect((await probe([`127.0.0.1:${silent}`])).code).toBe(0);
    const r = await probe([`tcp://127.0.0.1:${closed}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Connection refused/);
  });

  it('exit 2, never a hang, on a closed port, a silent server, a dripping one and garbage, for every protocol', async () => {
    const cases = [closed, silent, drip, garbage].flatMap((port) =>
      ['zmq', 'http'].map((p) => `${p}://127.0.0.1:${port}/health`),
    );
    const results = await Promise.all(cases.map((t) => probe(['--timeout', '1', t])));
    for (const [i, r] of results.entries()) {
      expect([cases[i], r.code]).toEqual([cases[i], 2]);
      expect(r.seconds).toBeLessThan(10 * 1);
      expect(r.stderr).not.toMatch(/Traceback/);
    }
    expect(results[6]!.stderr).toContain('not a ZMTP 3 peer');
    expect(results[7]!.stderr).toContain('not an HTTP reply');
  });

  it('refuses a target it cannot read, with exit 2', async () => {
    for (const t of ['ftp://x:1', 'zmq://nohost', 'zmq://h:99999']) {
      const r = await probe([t]);
      expect([t, r.code, /Traceback/.test(r.stderr)]).toEqual([t, 2, false]);
    }
    expect((await probe([])).stderr).toContain('no target (pass one, or set AGENT_HEALTH)');
  });

  /** agent-infra-wait, loading the probe from the templates folder instead of its installed path. */
  function runWait(env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
    const code = `import runpy; src = open(${JSON.stringify(WAIT)}).read().replace('"/usr/local/bin/agent-infra-health"', ${JSON.stringify(JSON.stringify(PROBE))}); exec(compile(src, 'agent-infra-wait', 'exec'), {'__name__': '__main__'})`;
    return new Promise((resolve) =>
      execFile('python3', ['-c', code], { env: { PATH: process.env['PATH'], ...env } }, (err, _o, stderr) =>
        resolve({ code: err ? Number(err.code) : 0, stderr }),
      ),
    );
  }

  it('agent-infra-wait waits for a target that comes up later', async () => {
    const port = await closedPort();
    const t0 = performance.now();
    const waiting = runWait({
      WAIT_FOR: `tcp://127.0.0.1:${silent},http://127.0.0.1:${port}/health`,
      WAIT_TIMEOUT_SECONDS: '30',
    });
    await new Promise((r) => setTimeout(r, 1500));
    const server = createServer((s) => s.once('data', () => s.end('HTTP/1.0 200 OK\r\n\r\n')));
    servers.push(server);
    server.listen(port, '127.0.0.1');
    expect((await waiting).code).toBe(0);
    expect((performance.now() - t0) / 1000).toBeGreaterThan(1.4);
  });

  it('agent-infra-wait gives up at its timeout, naming the target and why', async () => {
    const t0 = performance.now();
    const r = await runWait({ WAIT_FOR: `zmq://127.0.0.1:${silent}`, WAIT_TIMEOUT_SECONDS: '1' });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`agent-infra-wait: gave up on zmq://127.0.0.1:${silent}: no answer within 1 s`);
    expect((performance.now() - t0) / 1000).toBeLessThan(10 * 1);
  });
});

describe("the probe program's JSON reader (the json package would cost it most of its CPU)", () => {
  it('reads what json.loads reads, and refuses what it refuses', () => {
    const script = `
import json, runpy, sys
p = runpy.run_path(sys.argv[1])["parse_json"]
good = ['{"status": "ok", "ready": true, "n": -1.5e3, "a": [1, "x\\\\u00e9\\\\n", null, {}], "e": []}', '[]', '"s"', '  {"a" : {"b": [false]}}  ', '0', '{"k": "v\\\\"q"}', '{"status": "degraded", "ready": false, "initialized": true, "uptime": 12.5}']
bad = ['{', '{"a" 1}', '[1,]', 'nope', '{"a":1} x', '', '{1: 2}', '{"a":}', '[1 2]']
for g in good:
    assert p(g) == json.loads(g), g
for b in bad:
    try:
        p(b)
    except ValueError:
        continue
    raise SystemExit("accepted " + repr(b))
print(len(good), len(bad))
`;
    const r = spawnSync('python3', ['-c', script, PROBE], { encoding: 'utf8' });
    expect([r.status, r.stdout.trim(), r.stderr]).toEqual([0, '7 9', '']);
  });
});
