/**
 * Global setup of the Docker-based suites (images, e2e): names this run, removes what runs that died
 * left behind, and removes this run's objects at the end, also when a test fails or vitest is
 * interrupted (SIGINT, SIGTERM). A SIGKILL leaves them to the next run's setup.
 */
import type { TestProject } from 'vitest/node';
import { docker } from './docker-helpers.ts';
import { isOfRun, isStale, newRun, removeLabelled, removeRunSync, type TestRun } from './docker-run.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    dockerRun: TestRun;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const run = newRun();
  project.provide('dockerRun', run);
  const engineUp = await docker.ping().then(() => true, () => false);
  if (engineUp) {
    const stale = await removeLabelled(docker, isStale);
    if (stale.length) console.warn(`removed what earlier test runs left on the engine: ${stale.join(', ')}`);
  }
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: removing the containers, volumes and images of test run ${run.id}`);
    removeRunSync(run);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return async () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (engineUp) await removeLabelled(docker, isOfRun(run));
  };
}
