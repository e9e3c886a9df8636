#!/usr/bin/env node
import { load, prepareProcess } from './run.mjs';

const done = prepareProcess();
if (done !== undefined) process.exitCode = done;
else {
  const { main } = await load('lib/cli/index', 'cli/index.mjs');
  process.exitCode = await main(process.argv.slice(2));
}
