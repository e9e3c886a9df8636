// The cdk8s app (cdk8s.yaml): main.ts, compiled when the build is current.
import { load } from './run.mjs';

await load('main');
