/**
 * Test hosts in network namespaces of their own (`ip netns`, Debian's iproute2): each with one interface
 * (`eth0`) on a LAN the test makes (a bridge in a namespace of its own), an address from 198.18.0.0/15
 * (set aside for network tests), and no default route: nothing a test host sends can leave the LAN.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';

export interface TestHost {
  readonly name: string;
  /** The namespace's name (`ip netns exec <ns>`). */
  readonly ns: string;
  readonly address: string;
}

export interface TestLan {
  readonly hosts: readonly TestHost[];
  /** Routes of each host (`ip route`), as read right after the LAN was made. */
  readonly routes: Readonly<Record<string, string[]>>;
  /** Removes every namespace (their interfaces with them) and the hosts files. */
  readonly remove: () => void;
}

const run = (args: string[]) => {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
};

/** Whether this process can make namespaces (root, iproute2): the suites that need them skip otherwise. */
export const CAN_NETNS = (() => {
  if (process.getuid?.() !== 0) return false;
  const probe = `ai-probe-${process.pid}`;
  const made = spawnSync('ip', ['netns', 'add', probe]).status === 0;
  if (made) spawnSync('ip', ['netns', 'del', probe]);
  return made;
})();

/** Whether a process of this pid is running. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The namespaces of a LAN are named `ai-<tag><pid of the test process>-<host>`. */
const LAN_NAME = /^ai-[a-z]+(\d+)-[\w.-]+$/;

/**
 * Removes what LANs of test processes that are gone left behind (a run killed before its teardown): the
 * processes still in their namespaces (all started by such a test), the namespaces, their /etc/netns entries.
 */
export function removeStaleLans(): string[] {
  const names = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => LAN_NAME.test(n) && !alive(Number(LAN_NAME.exec(n)![1])));
  for (const ns of names) {
    for (const pid of spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean))
      spawnSync('kill', ['-KILL', pid]);
    spawnSync('ip', ['netns', 'del', ns]);
    if (existsSync(`/etc/netns/${ns}`)) rmSync(`/etc/netns/${ns}`, { recursive: true });
  }
  return names;
}

/**
 * Makes a LAN of `hosts` (name and last octet of 198.18.0.0/24): namespace `ai-<tag><pid>-<name>` each,
 * and `ai-<tag><pid>-lan` holding the bridge. With `dns` (an address on the LAN), `ip netns exec` shows
 * each host an /etc/hosts naming every host and an /etc/resolv.conf naming only that server
 * (`/etc/netns/<ns>/`, removed with the LAN), so nothing in a test host asks the machine's own resolver.
 */
export function makeLan(tag: string, hosts: readonly { name: string; octet: number }[], dns?: string): TestLan {
  if (!/^[a-z]+$/.test(tag)) throw new Error(`${tag}: a LAN's tag is lowercase letters`);
  removeStaleLans();
  const prefix = `ai-${tag}${process.pid}`;
  const lan = `${prefix}-lan`;
  const made: string[] = [];
  const all: TestHost[] = hosts.map((h) => ({
    name: h.name,
    ns: `${prefix}-${h.name}`,
    address: `198.18.0.${h.octet}`,
  }));
  const remove = () => {
    for (const ns of made) spawnSync('ip', ['netns', 'del', ns]);
    for (const h of all) if (existsSync(`/etc/netns/${h.ns}`)) rmSync(`/etc/netns/${h.ns}`, { recursive: true });
  };
  try {
    run(['ip', 'netns', 'add', lan]);
    made.push(lan);
    run(['ip', '-n', lan, 'link', 'add', 'br0', 'type', 'bridge']);
    run(['ip', '-n', lan, 'link', 'set', 'br0', 'up']);
    all.forEach((h, i) => {
      run(['ip', 'netns', 'add', h.ns]);
      made.push(h.ns);
      run(['ip', '-n', h.ns, 'link', 'set', 'lo', 'up']);
      run(['ip', 'link', 'add', 'eth0', 'netns', h.ns, 'type', 'veth', 'peer', 'name', `p${i}`, 'netns', lan]);
      run(['ip', '-n', lan, 'link', 'set', `p${i}`, 'master', 'br0', 'up']);
      run(['ip', '-n', h.ns, 'addr', 'add', `${h.address}/24`, 'dev', 'eth0']);
      run(['ip', '-n', h.ns, 'link', 'set', 'eth0', 'up']);
      if (dns) {
        mkdirSync(`/etc/netns/${h.ns}`, { recursive: true });
        writeFileSync(
          `/etc/netns/${h.ns}/hosts`,
          `127.0.0.1 localhost\n${all.map((x) => `${x.address} ${x.name}`).join('\n')}\n`,
        );
        writeFileSync(`/etc/netns/${h.ns}/resolv.conf`, `nameserver ${dns}\n`);
      }
    });
    const routes = Object.fromEntries(
      all.map((h) => [h.name, run(['ip', '-n', h.ns, 'route', 'show']).trim().split('\n').filter(Boolean)]),
    );
    return { hosts: all, routes, remove };
  } catch (e) {
    remove();
    throw e;
  }
}

/** Runs a command in a host's namespace (and its /etc/hosts, when the LAN has one); exit code and output. */
export function inHost(host: TestHost, args: string[], input?: string, timeoutMs = 60_000) {
  const r = spawnSync('ip', ['netns', 'exec', host.ns, ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
    ...(input !== undefined ? { input } : {}),
  });
  return { code: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, stdout: r.stdout ?? '' };
}

/** The Debian python3 where there is one (quick to start), else the first on PATH. */
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/**
 * A Python program that tries TCP connections, all at once, each from a source address to a destination
 * (`[[src, host, port], ...]` on stdin), and prints `open` or why not for each, as JSON. A dropped SYN
 * shows as `timeout` after `seconds`.
 */
export const PROBE_CONNECTIONS = `
import json, socket, sys, threading
todo = json.load(sys.stdin)
seconds = float(sys.argv[1])
out = [None] * len(todo)
def one(i, src, host, port):
    s = socket.socket()
    s.settimeout(seconds)
    try:
        if src:
            s.bind((src, 0))
        s.connect((host, port))
        out[i] = "open"
    except socket.timeout:
        out[i] = "timeout"
    except OSError as e:
        out[i] = type(e).__name__
    finally:
        s.close()
threads = [threading.Thread(target=one, args=(i, *t)) for i, t in enumerate(todo)]
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps(out))
`;

/**
 * The LAN's DNS server, which knows no name: it answers every query at once with NXDOMAIN, as a LAN's
 * resolver answers a name nobody registered (Docker's embedded DNS asks it for every name that is not a
 * container of the network, such as a service that has not started yet). Prints `serving` once bound.
 */
export const NXDOMAIN_DNS = `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 53))
print("serving", flush=True)
while True:
    q, peer = s.recvfrom(4096)
    i = 12
    while i < len(q) and q[i] != 0:
        i += q[i] + 1
    i += 5
    if len(q) < 12 or i > len(q):
        continue
    s.sendto(q[:2] + bytes([0x80 | (q[2] & 0x01), 0x83]) + q[4:6] + bytes(6) + q[12:i], peer)
`;

/** Tries the connections from `host`; one result per connection (`open`, `timeout`, `ConnectionRefusedError`...). */
export function connections(
  host: TestHost,
  todo: readonly (readonly [src: string, dest: string, port: number])[],
  seconds = 3,
): string[] {
  const r = inHost(host, [PYTHON, '-c', PROBE_CONNECTIONS, String(seconds)], JSON.stringify(todo));
  if (r.code !== 0) throw new Error(`the connection probe failed in ${host.name}: ${r.out}`);
  return JSON.parse(r.stdout) as string[];
}
