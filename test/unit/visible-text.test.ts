/**
 * Text from the input never reads other than it is: characters that reorder or hide text are shown
 * as `\u{XXXX}` in every diagnostic, on screen and in JSON.
 */
import { describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatDiagnostic, oneLine, visible } from '../../lib/diagnostics.ts';
import { diagnosticJson } from '../../lib/cli/output.ts';
import { runPipeline } from '../../lib/pipeline.ts';
import { ROOT } from '../helpers.ts';

describe('visible', () => {
  it.each([
    ['Service\u202eRegistry', 'Service\\u{202E}Registry'],
    ['a\u200db\u200bc\u2066d\u2069e\u200ef\u200fg', 'a\\u{200D}b\\u{200B}c\\u{2066}d\\u{2069}e\\u{200E}f\\u{200F}g'],
    ['\ufeffx\u00ady', '\\u{FEFF}x\\u{00AD}y'],
    ['line\u2028sep\u2029par', 'line\\u{2028}sep\\u{2029}par'],
    ['\u{E0041}tag', '\\u{E0041}tag'],
    ['plain é 中 ✓', 'plain é 中 ✓'],
  ])('%j', (input, expected) => {
    expect(visible(input)).toBe(expected);
  });

  it('puts a diagnostic on one line: controls as ?, format characters escaped', () => {
    expect(oneLine('a\nb\u0085c\u202ed')).toBe('a?b?c\\u{202E}d');
  });
});

describe('a config with hidden characters in names', () => {
  it('names them escaped in the text and the JSON of each diagnostic', () => {
    const dir = mkdtempSync(join(tmpdir(), 'visible-'));
    cpSync(join(ROOT, 'examples', 'two-pc'), dir, { recursive: true });
    const config = join(dir, 'main_pc_code', 'config', 'startup_config.yaml');
    const text = readFileSync(config, 'utf8');
    const at = text.indexOf('dependencies: [');
    writeFileSync(
      config,
      `${text.slice(0, at)}dependencies: [Service\u202eRegistry, Mem\u200dory]${text.slice(text.indexOf(']', at) + 1)}`,
    );
    const line = text.slice(0, at).split('\n').length;
    const r = runPipeline({ spec: join(dir, 'agent-infra.yaml'), machines: [], cwd: dir });
    const unknown = r.diagnostics.filter((d) => d.code === 'unknown-dependency');
    expect(unknown.map(formatDiagnostic)).toEqual([
      `main_pc_code/config/startup_config.yaml:${line} agent_groups.foundation_services.ServiceRegistry.dependencies[0]: unknown agent 'Service\\u{202E}Registry'; did you mean 'ServiceRegistry'? [unknown-dependency]`,
      `main_pc_code/config/startup_config.yaml:${line} agent_groups.foundation_services.ServiceRegistry.dependencies[1]: unknown agent 'Mem\\u{200D}ory'; define it or remove the dependency [unknown-dependency]`,
    ]);
    expect(unknown.map((d) => diagnosticJson(d).message)).toEqual([
      "unknown agent 'Service\\u{202E}Registry'; did you mean 'ServiceRegistry'?",
      "unknown agent 'Mem\\u{200D}ory'; define it or remove the dependency",
    ]);
    expect(JSON.stringify(r.diagnostics.map(diagnosticJson))).not.toMatch(/[\u200d\u202e]/);
  });
});
