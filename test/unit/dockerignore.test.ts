import { describe, expect, it } from 'vitest';
import { dockerignoreMatcher } from '../../lib/images/context.ts';

describe('the .dockerignore matcher', () => {
  const m = dockerignoreMatcher(
    '# c\n.git\n**/__pycache__\n**/*.pyc\nmodels\n**/models\n**/.env\ndocker-compose*.yml\n!models/keep.txt\n',
  );
  it.each([
    ['.git', true],
    ['.git/config', true],
    ['a/__pycache__/x.cpython-311.pyc', true],
    ['a/b.pyc', true],
    ['models/big.gguf', true],
    ['models/keep.txt', false],
    ['pc2_code/models/x.bin', true],
    ['main_pc_code/agents/a.py', false],
    ['services/.env', true],
    ['docker-compose.mainpc.yml', true],
    ['common/gitignore.py', false],
    ['requirements/base.txt', false],
  ])('%s ignored: %s', (path, ignored) => {
    expect(m(path)).toBe(ignored);
  });
});
