/**
 * The table of ZMQ socket types that pair (lib/source/zmq.ts), held against libzmq itself: for every
 * ordered pair of types, pyzmq binds one on loopback, connects the other, and a socket monitor says
 * whether the ZMTP handshake succeeded or the peer dropped the connection.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ZMQ_SOCKET_TYPES, zmqPair } from '../../lib/source/zmq.ts';

/** Debian's interpreter, where python3-zmq is installed (scripts/test-deps.sh). */
const DEBIAN_PYTHON = '/usr/bin/python3';
const HAS_PYZMQ = spawnSync(DEBIAN_PYTHON, ['-c', 'import zmq'], { encoding: 'utf8' }).status === 0;
if (!HAS_PYZMQ) {
  if (process.env['CI']) throw new Error('/usr/bin/python3 has no zmq: run scripts/test-deps.sh');
  console.warn('skipping the ZMQ pairing test: /usr/bin/python3 has no zmq (run scripts/test-deps.sh)');
}

const TYPES = ZMQ_SOCKET_TYPES;

const PAIRS = `
import json, sys, zmq
from zmq.utils.monitor import recv_monitor_message
ctx = zmq.Context()
out = {}
for a in sys.argv[1:]:
    for b in sys.argv[1:]:
        bound = ctx.socket(getattr(zmq, b)); bound.linger = 0
        port = bound.bind_to_random_port("tcp://127.0.0.1")
        peer = ctx.socket(getattr(zmq, a)); peer.linger = 0
        mon = peer.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)
        peer.connect(f"tcp://127.0.0.1:{port}")
        verdict = "no event in 10 s"
        if mon.poll(10000):
            verdict = "pairs" if recv_monitor_message(mon)["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED else "dropped"
        peer.disable_monitor(); mon.close(); peer.close(); bound.close()
        out[f"{a} {b}"] = verdict
print(json.dumps(out))
`;

describe.skipIf(!HAS_PYZMQ)('which ZMQ socket types pair', () => {
  it('is what libzmq does for every ordered pair of the 11 types', () => {
    const r = spawnSync(DEBIAN_PYTHON, ['-c', PAIRS, ...TYPES], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const seen = JSON.parse(r.stdout) as Record<string, string>;
    const expected = Object.fromEntries(
      TYPES.flatMap((a) => TYPES.map((b) => [`${a} ${b}`, zmqPair(a, b) ? 'pairs' : 'dropped'])),
    );
    expect(seen).toEqual(expected);
    // 21 of the 121 ordered pairs talk: PAIR-PAIR, the publish and request families, PUSH-PULL.
    expect(Object.values(seen).filter((v) => v === 'pairs')).toHaveLength(21);
  });
});
