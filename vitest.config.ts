import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      // In-process tests only: fast, quiet, and visible to mutation testing.
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000 } },
      // Tests that start processes: the command line as a user runs it, python3, kubectl, docker-compose, patch.
      // Two workers: each test waits on a child process most of the time, so two keep both cores busy.
      {
        test: {
          name: 'cli',
          include: ['test/cli/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          maxWorkers: 2,
          globalSetup: ['test/build-global-setup.ts'],
        },
      },
      {
        test: {
          name: 'package',
          include: ['test/package/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'images',
          include: ['test/images/**/*.test.ts'],
          // Building every family takes about 5 minutes on a quiet 2-core machine, 12 beside two CPU
          // burners: the bounds only stop a hang.
          testTimeout: 1_800_000,
          hookTimeout: 1_800_000,
          fileParallelism: false,
          globalSetup: ['test/docker-global-setup.ts'],
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 1_800_000,
          hookTimeout: 1_800_000,
          fileParallelism: false,
          globalSetup: ['test/docker-global-setup.ts'],
        },
      },
      {
        test: {
          // The per-machine compose files on two test hosts, each with its own engine and firewall.
          name: 'two-host',
          include: ['test/two-host/**/*.test.ts'],
          testTimeout: 1_800_000,
          hookTimeout: 1_800_000,
          fileParallelism: false,
          globalSetup: ['test/docker-global-setup.ts'],
        },
      },
      {
        test: {
          // The real agents' code (../shared/upstream/src-9ff5bdfb) run as the generated compose files say.
          name: 'realcode',
          include: ['test/realcode/**/*.test.ts'],
          testTimeout: 1_800_000,
          hookTimeout: 1_800_000,
          fileParallelism: false,
          globalSetup: ['test/docker-global-setup.ts'],
        },
      },
    ],
  },
});
