/**
 * Global setup of the Docker-based suites (images, e2e): names this run, removes what runs that died
 * left behind, and removes this run's objects at the end, also when a test fails or vitest is
 * interrupted (SIGINT, SIGTERM). A SIGKILL leaves them to the next run's setup.
 */
import type { TestProject } from 'vitest/node';
import { docker } from './docker-helpers.ts';
import { startRun, type TestRun } from './docker-run.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    dockerRun: TestRun;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { run, end } = await startRun(docker);
  project.provide('dockerRun', run);
  return end;
}
