/**
 * The package as a user gets it: `npm pack` of this checkout (built first), installed into an empty
 * folder that cannot see this repository. Tarballs come from the npm cache; npm reads the registry's
 * package documents where the cache has none (a cache filled by `npm ci` holds tarballs only).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const npm = (args: string[], cwd: string) =>
  execFileSync('npm', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });

export interface Installed {
  /** The user's folder: package.json and node_modules. */
  readonly dir: string;
  readonly tarball: string;
  /** The installed package's folder. */
  readonly pkg: string;
  /** The command's entry, run as `node <bin> ...`. */
  readonly bin: string;
}

/** Builds, packs and installs agent-infra into a new empty folder; returns where. */
export function packAndInstall(): Installed {
  npm(['run', 'build', '--silent'], ROOT);
  const packs = mkdtempSync(join(tmpdir(), 'agent-infra-pack-'));
  // The build is current: pack it as it is (prepare would build again).
  const [packed] = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', packs], ROOT)) as {
    filename: string;
  }[];
  const tarball = join(packs, packed!.filename);
  const dir = mkdtempSync(join(tmpdir(), 'agent-infra-user-'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'user-app', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`,
  );
  npm(['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], dir);
  const pkg = join(dir, 'node_modules', 'agent-infra');
  return { dir, tarball, pkg, bin: join(pkg, 'bin', 'agent-infra.mjs') };
}
