/**
 * Without a source tree, one warning says what the images may lack: the folders with Python code that no
 * image copies, and the families that install no Python package. Expected folders by hand from the tree
 * written below; the example (sharedDirs and requirements declared) gets no such warning.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPipeline } from '../../lib/pipeline.ts';
import { pythonFolders } from '../../lib/source/unread.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'unread-'));
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    writeFileSync(join(dir, f), text);
  }
  return dir;
}

const FILES = {
  'agents/a.py': 'import common.util\n',
  'common/util.py': '',
  'utils/deep/er/x/helpers.py': '',
  'docs/index.md': '# not code\n',
  '.venv/lib/python3.11/site.py': '',
  'venv/pyvenv.cfg': 'home = /usr/bin\n',
  'venv/lib/python3.11/os.py': '',
  'node_modules/x/y.py': '',
  'main.yaml':
    'agent_groups:\n  core:\n    A: {script_path: agents/a.py, port: 7400, health_check_port: 8400}\n    B: {script_path: agents/b.py, port: 7500, health_check_port: 8500}\n',
};

describe('images of code that was not read', () => {
  it('finds the top-level folders that hold Python code, past caches, hidden folders and virtual environments', () => {
    expect(pythonFolders(tree(FILES))).toEqual(['agents', 'common', 'utils']);
  });

  it('names the folders no image copies and the families that install nothing, with the fix', () => {
    const dir = tree(FILES);
    const r = runPipeline({ machines: [{ name: 'mainpc', file: join(dir, 'main.yaml') }], cwd: dir });
    const said = r.diagnostics.filter((d) => d.code === 'code-not-read').map((d) => `${d.severity} ${d.message}`);
    expect(said).toEqual([
      "warning the agents' code is not read (no source tree), so the images may lack what it imports: 1 of the 2 agents' scripts are not below the spec's folder (e.g. agents/b.py); common/ and utils/ hold Python code that no image copies (each copies its agents' script folders and its family's sharedDirs); image family 'cpu' installs no Python package; add 'source: .' to the spec (the root of the system's code) so that check and synth follow each agent's imports, or list the folders the agents import in sharedDirs",
    ]);
  });

  it('says nothing where the spec copies the shared folders and installs requirements (the example)', () => {
    const r = runPipeline({ spec: join(ROOT, 'examples/two-pc/agent-infra.yaml'), cwd: ROOT });
    expect(r.diagnostics.filter((d) => d.code === 'code-not-read')).toEqual([]);
  });
});
