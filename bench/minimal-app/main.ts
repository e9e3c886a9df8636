// The smallest cdk8s app with one Deployment: the baseline for the synth benchmark.
import { App, Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';

const app = new App();
const chart = new Chart(app, 'minimal');
new kplus.Deployment(chart, 'web', { containers: [{ image: 'web:1.0.0', portNumber: 8080 }] });
app.synth();
