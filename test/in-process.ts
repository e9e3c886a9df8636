/** The command line run inside the test process (through `main`), for unit tests: fast, and visible to a mutation tool. */
import { vi } from 'vitest';
import { main } from '../lib/cli/index.ts';

/** Runs `agent-infra <args>` in this process; its exit code and what it printed on stdout and stderr. */
export async function runInProcess(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(`${a.join(' ')}\n`));
  const error = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(`${a.join(' ')}\n`));
  try {
    const code = await main(args);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}
