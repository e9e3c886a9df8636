/**
 * CPU cost of one health probe: the image's agent-infra-health run as the compose health checks and the
 * Kubernetes exec probes run it (`python3 -S`), against a pyzmq REP socket that answers as a BaseAgent's
 * health socket does, and an HTTP server. Prints CPU milliseconds per call (user + system of the probe
 * processes, from the kernel's accounting of a harness that runs them) and what 80 agents probed every
 * 5 s cost a machine. Needs Debian's python3-zmq (scripts/test-deps.sh).
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../test/helpers.ts';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 200);
/** Debian's Python 3.11, the interpreter of the images here. */
const PYTHON = '/usr/bin/python3';
const PROBE = join(ROOT, 'templates', 'scripts', 'agent-infra-health');
const rep = spawn(
  '/usr/bin/python3',
  [join(ROOT, 'test', 'fixtures', 'probe', 'zmq_rep.py'), '{"status": "ok", "ready": true}', '0'],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const port = await new Promise<number>((resolve) =>
  rep.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))),
);

// The harness runs the probe RUNS times and reads the children's CPU time from getrusage.
const harness = `
import resource, subprocess, sys, time
cmd = sys.argv[2:]
t0 = time.monotonic()
for _ in range(int(sys.argv[1])):
    subprocess.run(cmd, check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print((r.ru_utime + r.ru_stime) * 1000 / int(sys.argv[1]), (time.monotonic() - t0) * 1000 / int(sys.argv[1]))
`;
function measure(args: string[]): { cpuMs: number; wallMs: number } {
  const r = spawnSync(PYTHON, ['-c', harness, String(RUNS), ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  const [cpu, wall] = r.stdout.trim().split(' ').map(Number);
  return { cpuMs: cpu!, wallMs: wall! };
}
try {
  const zmq = measure([PYTHON, '-S', PROBE, `zmq://127.0.0.1:${port}`]);
  const bare = measure([PYTHON, '-S', '-c', 'pass']);
  const tcp = measure([PYTHON, '-S', PROBE, `tcp://127.0.0.1:${port}`]);
  console.log(`probe runs:                      ${RUNS} each`);
  console.log(
    `zmq probe (ZMTP REQ, JSON):      ${zmq.cpuMs.toFixed(1)} ms CPU, ${zmq.wallMs.toFixed(1)} ms wall per call`,
  );
  console.log(`tcp probe:                       ${tcp.cpuMs.toFixed(1)} ms CPU per call`);
  console.log(
    `bare interpreter (python3 -S):   ${bare.cpuMs.toFixed(1)} ms CPU per call (ratio zmq/bare ${(zmq.cpuMs / bare.cpuMs).toFixed(2)})`,
  );
  const perSecond = (80 / 5) * zmq.cpuMs;
  console.log(
    `80 agents probed every 5 s:      ${perSecond.toFixed(0)} ms CPU per second = ${(perSecond / 10).toFixed(2)}% of one core, ${(perSecond / 160).toFixed(2)}% of a 16-core MainPC`,
  );
} finally {
  rep.kill('SIGTERM');
}
