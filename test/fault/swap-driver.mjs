// Writes two output trees over one another without end, as synth does (lib/write.ts), until it is
// killed: the fault-injection test kills it at random points. Arguments: the output folder and a JSON
// file holding the two trees ({ "a": {path: text}, "b": {...} }). Prints "ready" before the first write.
import { readFileSync } from 'node:fs';
import { load } from '../../bin/run.mjs';

const [out, treesFile] = process.argv.slice(2);
const { writeOutput } = await load('lib/write');
const trees = JSON.parse(readFileSync(treesFile, 'utf8'));
const maps = [trees.a, trees.b].map((t) => new Map(Object.entries(t)));
const replaced = ['k8s', 'compose', 'docker', 'reports'];
process.stdout.write('ready\n');
for (let i = 0; ; i++) writeOutput(out, maps[i % 2], replaced);
