// The cdk8s app (cdk8s.yaml): main.ts, compiled when the build is current.
import { load, prepareProcess } from './run.mjs';

const done = prepareProcess();
if (done !== undefined) process.exitCode = done;
else await load('main');
