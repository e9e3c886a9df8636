// The unit project alone, for mutation testing (npm run mutation): in-process tests, where a mutant of
// the code under test is what the test runs.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { include: ['test/unit/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000 },
});
