package io.kmesos.controller;

import io.javaoperatorsdk.operator.Operator;
import io.javaoperatorsdk.operator.RuntimeInfo;
import io.kmesos.api.admin.Health;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What the controller's {@code /healthz} and {@code /readyz} answer, from the operator's runtime
 * state and mastership (docs/operations.md, "Controller probes").
 *
 * <p>Liveness: the process works and restarting it would help. It fails once the operator stopped
 * after it had started (nothing reconciles or watches any more), or when a standby's log loop died
 * or hangs. Still starting is alive: the operator's start is bounded by its own timeouts, and a
 * restart would only start again.
 *
 * <p>Readiness: this controller does what its role asks. The operator started (informers synced)
 * and every event source is healthy (their watches run), and then: the master has recovered the
 * registry and can write it; a standby is ready as it is, because it can take over. Readiness
 * routes no traffic here (no Service selects the controllers: the master publishes itself), it is
 * what a rolling update and the Deployment's availability wait for. Were a standby unready, a
 * rollout would stall on every new standby and the Deployment would report a healthy pair as
 * unavailable.
 */
final class ControllerProbes {
  private final Operator operator;
  private final Master master;

  /**
   * Set once the operator's start returned: before it, "not started" means starting, after it,
   * stopped.
   */
  private volatile boolean started;

  ControllerProbes(Operator operator, Master master) {
    this.operator = operator;
    this.master = master;
  }

  void operatorStarted() {
    started = true;
  }

  Health liveness() {
    if (started && !operator.getRuntimeInfo().isStarted()) {
      return Health.failing("the operator has stopped: nothing reconciles or watches any more");
    }
    String loop = master.loopProblem();
    if (loop != null) {
      return Health.failing(loop);
    }
    return Health.ok(started ? "alive" : "alive, starting");
  }

  Health readiness() {
    RuntimeInfo runtime = operator.getRuntimeInfo();
    if (!runtime.isStarted()) {
      return Health.failing(
          started
              ? "the operator has stopped"
              : "starting: the operator's informers have not synced yet");
    }
    if (!runtime.allEventSourcesAreHealthy()) {
      return Health.failing("unhealthy event sources: " + unhealthy(runtime));
    }
    if (master.leading()) {
      return master.recovered()
          ? Health.ok(
              "master: the registry is recovered (version "
                  + master.registryVersion()
                  + ") and reconciled")
          : Health.failing("master: recovering the registry from the log; not reconciling yet");
    }
    return Health.ok("standby: informers synced, ready to take over");
  }

  private static String unhealthy(RuntimeInfo runtime) {
    List<String> out = new ArrayList<>();
    for (Map.Entry<String, ? extends Map<String, ?>> controller :
        new TreeMap<>(runtime.unhealthyEventSources()).entrySet()) {
      for (Map.Entry<String, ?> source : controller.getValue().entrySet()) {
        out.add(controller.getKey() + "/" + source.getKey());
      }
    }
    return String.join(", ", out);
  }
}
