/**
 * Every YAML snippet of the README for agent-infra's own spec, read as agent-infra reads its spec (YAML
 * 1.2) and checked by the spec's schema: the fenced example whole, and each inline `key: value` whose
 * key is a spec or override key, inside a minimal spec. (`source: .` read as YAML 1.1 was a number.)
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSystem } from '../../lib/config/load.ts';
import { DeploymentSpecSchema, OverrideSchema } from '../../lib/config/spec.ts';
import { parseYamlSource } from '../../lib/io/yaml-source.ts';
import { ROOT } from '../helpers.ts';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const MINIMAL = { machines: { mainpc: { config: 'main.yaml', addressEnv: 'MAIN_PC_IP' } } };

const read = (text: string) => {
  const src = parseYamlSource('README.md', text, '1.2');
  expect(src.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return src.data as Record<string, unknown>;
};

const problems = (r: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) =>
  r.success ? [] : r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);

describe('the README’s YAML', () => {
  const fenced = [...README.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const inline = [...new Set([...README.matchAll(/`([a-zA-Z]+): ([^`]+)`/g)].map((m) => `${m[1]}: ${m[2]}`))];
  const topKeys = Object.keys(DeploymentSpecSchema.shape);
  const overrideKeys = Object.keys(OverrideSchema.shape);
  // Placeholders (`<script_path>`, `...`, a flow map of bare names) show a shape, not a value.
  const placeholder = (s: string) => /<|\.\.\.|\{[a-zA-Z]+(, [a-zA-Z]+)+\}/.test(s);

  it('has the fenced spec, and it is a valid spec', () => {
    expect(fenced.length).toBeGreaterThan(0);
    for (const text of fenced) expect(problems(DeploymentSpecSchema.safeParse(read(text)))).toEqual([]);
  });

  it('every inline spec setting is valid where it goes: at the top, or in an override', () => {
    const top = inline.filter((s) => topKeys.includes(s.split(':')[0]!) && !placeholder(s));
    const overrides = inline.filter((s) => overrideKeys.includes(s.split(':')[0]!) && !placeholder(s));
    // By hand, from the README: source: ., strict: true, trust: code, trust: config at the top.
    expect(top.sort()).toEqual(['source: .', 'strict: true', 'trust: code', 'trust: config']);
    for (const s of top) {
      const r = DeploymentSpecSchema.safeParse({ ...MINIMAL, ...read(s) });
      expect(problems(r), s).toEqual([]);
    }
    // And the spec loader reads them so: `source: .` is the spec's own folder, `yes` a word (a name here).
    const dir = mkdtempSync(join(tmpdir(), 'readme-yaml-'));
    writeFileSync(
      join(dir, 'main.yaml'),
      'agent_groups:\n  core:\n    A: {script_path: a.py, port: 7000, health_check_port: 8000}\n',
    );
    const loaded = loadSystem({
      spec: join(dir, 'agent-infra.yaml'),
      specText:
        'name: yes\nsource: .\nstrict: true\nmachines:\n  mainpc: {config: main.yaml, addressEnv: MAIN_PC_IP}\n',
      cwd: dir,
    });
    expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect([loaded.spec.name, loaded.sourceRoot, loaded.spec.strict]).toEqual(['yes', dir, true]);
    expect(overrides.length).toBeGreaterThan(3);
    for (const s of overrides) expect(problems(OverrideSchema.safeParse(read(s))), s).toEqual([]);
  });
});
