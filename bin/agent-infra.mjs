#!/usr/bin/env node
// Runs the TypeScript sources directly, so `npx agent-infra` works after `npm install` with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../lib/cli/index.ts');
process.exitCode = await main(process.argv.slice(2));
