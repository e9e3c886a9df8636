import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parse } from 'yaml';
import { toYaml } from '../../lib/emit/yaml.ts';

const json = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.string(), fc.constantFrom('yes', 'no', 'on', 'off', 'null', '~', '0755', '1e3', '.5', 'a: b', '- x', '#c', 'x #y', ' lead', 'trail ', 'line\nbreak\n', 'a\n\nb\n', '0.0.0.0', '${X:-y}', '*', '&a', '!t', '@x', '`b`', '"q"', "'s'", '%p', '|', '>', '<<'), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)), fc.boolean(), fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(fc.string(), tie('value'), { maxKeys: 4 })),
})).value;

describe('the YAML writer', () => {
  it('writes what YAML 1.2 and 1.1 parsers read back unchanged', () => {
    fc.assert(
      fc.property(json, (v) => {
        const text = toYaml(v);
        expect(parse(text)).toEqual(v);
        expect(parse(text, { version: '1.1' })).toEqual(v);
      }),
      { numRuns: 2000 },
    );
  });

  it('writes plain scalars where safe and literal blocks for multi-line text', () => {
    expect(toYaml({ name: 'model-ops', port: 7212, on: 'on', cmd: ['agent-infra-wait'], data: { k: 'a: 1\nb: 2\n' }, empty: {}, list: [] })).toBe(
      'name: model-ops\nport: 7212\n"on": "on"\ncmd:\n  - agent-infra-wait\ndata:\n  k: |\n    a: 1\n    b: 2\nempty: {}\nlist: []\n',
    );
    expect(toYaml([{ a: 1, b: [{ c: 2 }] }])).toBe('- a: 1\n  b:\n    - c: 2\n');
  });
});

describe('xmlHeader', () => {
  it('never puts -- inside the XML comment, whatever the spec path holds', async () => {
    const { xmlHeader } = await import('../../lib/emit/yaml.ts');
    const header = xmlHeader('specs/a--b---c.yaml');
    expect(header.startsWith('<!-- ') && header.endsWith(' -->')).toBe(true);
    expect(header.slice(4, -3)).not.toContain('--');
    expect(header).toContain('specs/a- -b- - -c.yaml');
  });
});
