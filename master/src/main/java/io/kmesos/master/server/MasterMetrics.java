package io.kmesos.master.server;

import io.kmesos.api.operator.v1.Agent;
import io.kmesos.api.operator.v1.Framework;
import io.kmesos.api.operator.v1.GetStateResponse;
import io.kmesos.api.v1.Task;
import io.kmesos.api.v1.TaskState;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The master's gauges (Mesos's master/frameworks_*, master/slaves_*, master/tasks_*,
 * master/outstanding_offers) and the time of each allocation cycle. The loop counts after each
 * tick; the gauges read those counts, never the core (which only the loop may touch).
 */
final class MasterMetrics {
  private final AtomicLong frameworksConnected = new AtomicLong();
  private final AtomicLong frameworksDisconnected = new AtomicLong();
  private final AtomicLong agentsConnected = new AtomicLong();
  private final AtomicLong agentsDisconnected = new AtomicLong();
  private final AtomicLong agentSessions = new AtomicLong();
  private final AtomicLong offers = new AtomicLong();
  private final Map<TaskState, AtomicLong> tasks = new EnumMap<>(TaskState.class);
  private final Timer allocation;

  MasterMetrics(MeterRegistry registry) {
    gauge(registry, "kmesos.master.frameworks", "state", "connected", frameworksConnected);
    gauge(registry, "kmesos.master.frameworks", "state", "disconnected", frameworksDisconnected);
    gauge(registry, "kmesos.master.agents", "state", "connected", agentsConnected);
    gauge(registry, "kmesos.master.agents", "state", "disconnected", agentsDisconnected);
    Gauge.builder("kmesos.master.agent.sessions", agentSessions, AtomicLong::get)
        .description("Open agent sessions on this master's port")
        .register(registry);
    Gauge.builder("kmesos.master.offers", offers, AtomicLong::get)
        .description("Outstanding offers (Mesos master/outstanding_offers)")
        .register(registry);
    for (TaskState state : TaskState.values()) {
      if (state == TaskState.UNRECOGNIZED || state == TaskState.TASK_STATE_UNSPECIFIED) {
        continue;
      }
      AtomicLong count = new AtomicLong();
      tasks.put(state, count);
      Gauge.builder("kmesos.master.tasks", count, AtomicLong::get)
          .description("Tasks the master holds, by state (Mesos master/tasks_*)")
          .tag("state", state.name())
          .register(registry);
    }
    allocation =
        Timer.builder("kmesos.master.allocation.cycle")
            .description(
                "How long one tick of the master's core took: timeouts, an allocation cycle,"
                    + " heartbeats (Mesos allocator/mesos/allocation_run)")
            .register(registry);
  }

  private static void gauge(
      MeterRegistry registry, String name, String tag, String value, AtomicLong count) {
    Gauge.builder(name, count, AtomicLong::get)
        .description("Known to the master, by state (Mesos master/" + name + ")")
        .tag(tag, value)
        .register(registry);
  }

  void allocated(long nanos) {
    allocation.record(nanos, TimeUnit.NANOSECONDS);
  }

  void observe(GetStateResponse state, int sessions) {
    long connected = state.getFrameworksList().stream().filter(Framework::getConnected).count();
    frameworksConnected.set(connected);
    frameworksDisconnected.set(state.getFrameworksCount() - connected);
    long agents = state.getAgentsList().stream().filter(Agent::getConnected).count();
    agentsConnected.set(agents);
    agentsDisconnected.set(state.getAgentsCount() - agents);
    agentSessions.set(sessions);
    offers.set(state.getOffersCount());
    Map<TaskState, Long> counts = new EnumMap<>(TaskState.class);
    for (Task t : state.getTasksList()) {
      counts.merge(t.getState(), 1L, Long::sum);
    }
    tasks.forEach((s, count) -> count.set(counts.getOrDefault(s, 0L)));
  }
}
