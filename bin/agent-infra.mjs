#!/usr/bin/env node
import { load } from './run.mjs';

const { main } = await load('lib/cli/index', 'cli/index.mjs');
process.exitCode = await main(process.argv.slice(2));
