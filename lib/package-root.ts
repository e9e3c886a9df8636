/** The folder of agent-infra's package.json: where templates live, whether run from the sources or from build/. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

let root: string | undefined;

export function packageRoot(): string {
  if (root) return root;
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'templates'))) {
    const up = dirname(dir);
    if (up === dir)
      throw new Error(
        `agent-infra's package folder (with package.json and templates/) not found above ${import.meta.dirname}`,
      );
    dir = up;
  }
  return (root = dir);
}
