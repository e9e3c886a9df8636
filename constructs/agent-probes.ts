/** An agent container's startup, readiness and liveness probes, from the plan's one health model. */
import { Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { probeCommand } from '../lib/contract/probe.ts';
import type { PlannedAgent, PlannedProbe } from '../lib/plan/types.ts';

/** How often a starting agent is asked, in seconds. */
const STARTUP_PERIOD_SECONDS = 2;

/** One probe: HTTP and TCP the kubelet speaks itself; ZMQ, other codes and commands run the image's probe program. */
function kubeProbe(
  p: PlannedProbe,
  o: { periodSeconds: number; failureThreshold: number; timeoutSeconds: number },
): kplus.Probe {
  const common = {
    periodSeconds: Duration.seconds(o.periodSeconds),
    failureThreshold: o.failureThreshold,
    timeoutSeconds: Duration.seconds(o.timeoutSeconds),
    initialDelaySeconds: Duration.seconds(0),
    successThreshold: 1,
  };
  if (p.protocol === 'http' && p.codes!.every((c) => c >= 200 && c < 400))
    return kplus.Probe.fromHttpGet(p.path!, { port: p.port!, ...common });
  if (p.protocol === 'tcp') return kplus.Probe.fromTcpSocket({ port: p.port!, ...common });
  // The probe program's own timeout is 1 s under the kubelet's, so that it reports why.
  return kplus.Probe.fromCommand(probeCommand(p, p.port, Math.max(1, o.timeoutSeconds - 1)), common);
}

/** The three probes of an agent: startup allows three times its startup time and 30 s more. */
export function agentProbes(agent: PlannedAgent): {
  startup: kplus.Probe;
  readiness: kplus.Probe;
  liveness: kplus.Probe;
} {
  const h = agent.health;
  return {
    startup: kubeProbe(h.readiness, {
      periodSeconds: STARTUP_PERIOD_SECONDS,
      failureThreshold: Math.ceil((agent.startupSeconds * 3 + 30) / STARTUP_PERIOD_SECONDS),
      timeoutSeconds: h.timeoutSeconds,
    }),
    readiness: kubeProbe(h.readiness, {
      periodSeconds: h.intervalSeconds,
      failureThreshold: h.retries,
      timeoutSeconds: h.timeoutSeconds,
    }),
    liveness: kubeProbe(h.liveness, {
      periodSeconds: h.intervalSeconds * 2,
      failureThreshold: h.retries,
      timeoutSeconds: h.timeoutSeconds,
    }),
  };
}
