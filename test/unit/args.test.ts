/** The command line's `--machine NAME=FILE` grammar, and the same rules for machines given through the API. */
import { describe, expect, it } from 'vitest';
import { machineArgs, UsageError } from '../../lib/cli/args.ts';
import { loadSystem } from '../../lib/config/load.ts';

const NAME_FILE =
  'NAME is a lowercase word of at most 31 characters, for example --machine pc2=pc2_code/config/startup_config.yaml';

describe('--machine NAME=FILE', () => {
  it('splits at the first =, keeping the rest of the file name', () => {
    expect(machineArgs(['mainpc=a/startup_config.yaml', 'pc2=b=c.yaml'])).toEqual([
      { name: 'mainpc', file: 'a/startup_config.yaml' },
      { name: 'pc2', file: 'b=c.yaml' },
    ]);
  });

  it.each([
    ['nonsense', `--machine takes NAME=FILE, got 'nonsense'; ${NAME_FILE}`],
    ['=file.yaml', `--machine takes NAME=FILE, got '=file.yaml'; ${NAME_FILE}`],
    ['pc2=', `--machine takes NAME=FILE, got 'pc2='; ${NAME_FILE}`],
    ['PC2=file.yaml', `--machine takes NAME=FILE, got 'PC2=file.yaml'; ${NAME_FILE}`],
    [`${'a'.repeat(32)}=f`, `--machine takes NAME=FILE, got '${'a'.repeat(32)}=f'; ${NAME_FILE}`],
    [
      'nats=f.yaml',
      "--machine nats: the name is one of the system's own outputs (system, gpu-sharing, kustomization, single-host, redis, nats); name the machine otherwise",
    ],
  ])('refuses %s as bad usage', (pair, message) => {
    expect(() => machineArgs([pair])).toThrow(new UsageError(message));
  });

  it('refuses a machine given twice', () => {
    expect(() => machineArgs(['pc2=a.yaml', 'pc2=b.yaml'])).toThrow(
      new UsageError('--machine pc2 is given twice; give each machine once'),
    );
  });

  it('a name of 31 characters is a name', () => {
    expect(machineArgs([`${'a'.repeat(31)}=f`])).toEqual([{ name: 'a'.repeat(31), file: 'f' }]);
  });
});

describe('machines given through the API', () => {
  it.each([
    [
      [{ name: 'Main', file: 'x.yaml' }],
      "machine 'Main': machine names are lowercase words of at most 31 characters, such as pc2",
    ],
    [
      [{ name: 'redis', file: 'x.yaml' }],
      "machine 'redis': the name is one of the system's own outputs (system, gpu-sharing, kustomization, single-host, redis, nats); name the machine otherwise",
    ],
    [
      [
        { name: 'pc2', file: 'a.yaml' },
        { name: 'pc2', file: 'b.yaml' },
      ],
      "machine 'pc2': it is given twice; give each machine once",
    ],
  ])('refuses %j as an unusable input', (machines, message) => {
    const r = loadSystem({ machines, cwd: '/nonexistent-folder' });
    expect(r.unusable).toBe(true);
    expect(r.diagnostics.map((d) => [d.code, d.severity, d.message])).toEqual([['invalid-spec', 'error', message]]);
  });
});
