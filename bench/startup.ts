/**
 * Startup of the whole example on one Docker engine: time from `docker-compose up` to every agent
 * healthy, against the critical-path bound (startup seconds along the longest dependency chain) and
 * the sequential sum (every agent after the other, as the old launcher did). Prints figures.
 */
import { docker } from '../test/docker-helpers.ts';
import { startRun } from '../test/docker-run.ts';
import { runStack } from '../test/e2e/stack.ts';

// The same run labels and cleanup as the e2e suite's global setup: nothing stays on the engine.
const { run: testRun, end } = await startRun(docker, true);
const run = await runStack({
  healthIntervalSeconds: Number(process.env['HEALTH_INTERVAL'] ?? 30),
  timeoutSeconds: 600,
  log: (l) => console.error(l),
  run: testRun,
}).finally(end);
const { criticalPath, sequentialSeconds, agents } = run.plan;
console.log(
  `agents:                        ${agents.length} (${run.agents.filter((a) => a.health === 'healthy').length} healthy)`,
);
console.log(`up -> all healthy:             ${run.seconds.toFixed(1)} s (every agent's /health reporting status ok)`);
console.log(`critical-path bound:           ${criticalPath.seconds} s (${criticalPath.agents.join(' -> ')})`);
console.log(`sequential sum:                ${sequentialSeconds} s`);
console.log(`ratio to the critical path:    ${(run.seconds / criticalPath.seconds).toFixed(2)} (target at most 1.3)`);
console.log(`ratio to the sequential sum:   ${(run.seconds / sequentialSeconds).toFixed(2)} (target at most 0.25)`);
