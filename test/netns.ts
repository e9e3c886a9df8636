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

/**
 * Makes a LAN of `hosts` (name and last octet of 198.18.0.0/24): namespace `<prefix>-<name>` each, and
 * `<prefix>-lan` holding the bridge. With `hostsFile`, `ip netns exec` shows each host an /etc/hosts
 * naming every host by its name (`/etc/netns/<ns>/hosts`, removed with the LAN).
 */
export function makeLan(prefix: string, hosts: readonly { name: string; octet: number }[], hostsFile = false): TestLan {
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
      if (hostsFile) {
        mkdirSync(`/etc/netns/${h.ns}`, { recursive: true });
        writeFileSync(
          `/etc/netns/${h.ns}/hosts`,
          `127.0.0.1 localhost\n${all.map((x) => `${x.address} ${x.name}`).join('\n')}\n`,
        );
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
