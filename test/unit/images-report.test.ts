/**
 * The images report: each family says what it installs, and a family that installs no Python package
 * gets no size ratio against its naive build (a small image of nothing proves nothing), but a sentence
 * saying why. Expected rows by hand.
 */
import { describe, expect, it } from 'vitest';
import { reportMarkdown, type FamilyResult } from '../../lib/images/images.ts';

const MiB = 2 ** 20;
const family = (name: string, installs: FamilyResult['installs'], ratio: boolean): FamilyResult => ({
  family: name,
  image: `x/${name}:1`,
  imageId: 'sha256:0',
  sizeBytes: 100 * MiB,
  layers: 10,
  wastedBytes: 0,
  wastedRatio: 0,
  buildSeconds: 12,
  steps: [],
  user: '10001:10001',
  naive: { image: `x/${name}:1-naive`, sizeBytes: 400 * MiB, buildSeconds: 20, wastedBytes: 0 },
  installs,
  ...(ratio ? { ratioToNaive: 0.25 } : {}),
  analysis: { layers: [], bytes: 0, wastedBytes: 0, wasted: [] },
});

describe('the images report', () => {
  it('says what each family installs, and gives no ratio for one that installs nothing', () => {
    const md = reportMarkdown(
      {
        system: 's',
        families: [
          family('cpu', { requirementFiles: 2, debianPython: ['python3-zmq'] }, true),
          family('gpu', { requirementFiles: 0, debianPython: [] }, false),
        ],
        sharing: { sumBytes: 200 * MiB, uniqueBytes: 150 * MiB, ratio: 0.75 },
      },
      [],
    );
    const rows = md.split('\n').filter((l) => /^\| (cpu|gpu) /.test(l));
    expect(rows.map((r) => r.split(' | ').slice(0, 5).join(' | '))).toEqual([
      '| cpu | 2 requirement files; Debian python3-zmq | 100.0 MiB | 400.0 MiB | 0.25',
      '| gpu | no Python package | 100.0 MiB | 400.0 MiB | none: it installs no Python package, so its agents cannot import theirs',
    ]);
  });
});
