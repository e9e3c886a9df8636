/** The README's table of numeric defaults says what DEFAULTS holds: every key, every value. */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULTS } from '../../lib/config/defaults.ts';
import { DeploymentSpecSchema } from '../../lib/config/spec.ts';
import { ROOT } from '../helpers.ts';

describe('DEFAULTS', () => {
  it('is what the README quotes', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const rows = Object.fromEntries(
      [...readme.matchAll(/^\| `(\w+)` \| (\d+) \| /gm)]
        .filter(([, k]) => k! in DEFAULTS)
        .map(([, k, v]) => [k, Number(v)]),
    );
    expect(rows).toEqual({ ...DEFAULTS });
  });

  it('is what an empty spec gets', () => {
    const spec = DeploymentSpecSchema.parse({ machines: { m: { config: 'm.yaml', addressEnv: 'M_IP' } } });
    expect(spec.defaults).toMatchObject({
      startupSeconds: DEFAULTS.startupSeconds,
      gpuStartupSeconds: DEFAULTS.gpuStartupSeconds,
      vramGiB: DEFAULTS.vramGiB,
      cpuRequestMillis: DEFAULTS.cpuRequestMillis,
      memoryRequestMiB: DEFAULTS.memoryRequestMiB,
      user: DEFAULTS.user,
      state: { sizeGiB: DEFAULTS.stateSizeGiB },
    });
    expect(spec.machines['m']!.cache.sizeGiB).toBe(DEFAULTS.cacheSizeGiB);
  });
});
