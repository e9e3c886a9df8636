#!/usr/bin/env node
import { load } from './run.mjs';

const { main } = await load('lib/cli/index');
process.exitCode = await main(process.argv.slice(2));
