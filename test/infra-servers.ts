/** Real Redis and NATS servers on loopback (Debian's redis-server and nats-server), for suites that run agents on host networking. */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';

export interface InfraServers {
  readonly redisPort: number;
  readonly natsPort: number;
  /** The variables a BaseAgent reads them from. */
  readonly env: readonly string[];
  /** Ends the two servers, by their pids. */
  stop(): void;
}

/** Resolves once `port` on 127.0.0.1 answers with `greeting` (or accepts, when none), within `ms`. */
async function answers(port: number, greeting: string | undefined, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.setTimeout(1000, () => (s.destroy(), resolve(false)));
      s.on('error', () => resolve(false));
      s.on('connect', () => {
        if (greeting === undefined) {
          s.destroy();
          resolve(true);
        } else s.write(greeting);
      });
      s.on('data', (d) => (s.destroy(), resolve(d.length > 0)));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing answered on 127.0.0.1:${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts Redis (no persistence) and NATS on the given free ports. */
export async function startInfraServers(redisPort: number, natsPort: number): Promise<InfraServers> {
  const children: ChildProcess[] = [
    spawn(
      'redis-server',
      [
        '--port',
        String(redisPort),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--protected-mode',
        'yes',
      ],
      { stdio: 'ignore' },
    ),
    spawn('nats-server', ['-a', '127.0.0.1', '-p', String(natsPort)], { stdio: 'ignore' }),
  ];
  const stop = () => {
    for (const c of children) if (c.exitCode === null && c.pid) process.kill(c.pid, 'SIGTERM');
  };
  try {
    await Promise.all([answers(redisPort, 'PING\r\n', 15_000), answers(natsPort, undefined, 15_000)]);
  } catch (e) {
    stop();
    throw e;
  }
  return {
    redisPort,
    natsPort,
    env: [`REDIS_URL=redis://127.0.0.1:${redisPort}/0`, `NATS_SERVERS=nats://127.0.0.1:${natsPort}`],
    stop,
  };
}
