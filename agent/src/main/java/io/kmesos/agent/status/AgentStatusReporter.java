package io.kmesos.agent.status;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.kmesos.api.cli.Failures;
import io.kmesos.crds.v1alpha1.Agent;
import io.kmesos.crds.v1alpha1.AgentStatus;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Shows what the agent runs on its Agent resource: status.tasksRunning, resourcesUsed,
 * resourcesFree and reportedAt (the printer columns Tasks, CPUs Free, Mem Free). Written at most
 * once per interval and only when something changed, never per task event (a busy agent would
 * otherwise write the API server as fast as tasks come and go).
 *
 * <p>The controller writes the same status (agentId, state, conditions) by server-side apply with
 * its own field manager. This writes by server-side apply to the status subresource with the
 * agent's field manager, sending only its four fields: each manager owns what it sends, so neither
 * write removes the other's. The controller's apply sends the status it read (these fields
 * included, at that resourceVersion), which makes it co-own their current values; so that a key the
 * agent stops sending can never stay behind under the controller's co-ownership, the maps always
 * carry every resource the agent offers (0 when none is used). Forced: the agent's values win over
 * the controller's echo of older ones.
 */
public final class AgentStatusReporter implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AgentStatusReporter.class);
  public static final String FIELD_MANAGER = "kmesos-agent";

  /** What is reported. */
  public record Report(int tasksRunning, Map<String, Double> used, Map<String, Double> free) {
    public Report {
      used = new TreeMap<>(used);
      free = new TreeMap<>(free);
    }
  }

  private final KubernetesClient client;
  private final String name;
  private final Supplier<Report> source;
  private final Clock clock;
  private final ScheduledExecutorService executor =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "agent-status");
            t.setDaemon(true);
            return t;
          });
  private Report written;

  public AgentStatusReporter(
      KubernetesClient client, String name, Supplier<Report> source, Clock clock) {
    this.client = client;
    this.name = name;
    this.source = source;
    this.clock = clock;
  }

  /** Reports now and then every {@code interval} (when changed). */
  public AgentStatusReporter start(Duration interval) {
    if (interval.compareTo(Duration.ofSeconds(1)) < 0) {
      throw new IllegalArgumentException("--status-interval must be at least 1s, not " + interval);
    }
    executor.scheduleWithFixedDelay(
        () -> {
          try {
            reportIfChanged();
          } catch (RuntimeException e) {
            LOG.warn("cannot report the agent's status on Agent/{}: {}", name, Failures.oneLine(e));
          }
        },
        0,
        interval.toMillis(),
        TimeUnit.MILLISECONDS);
    return this;
  }

  /** Writes the report if it differs from the last one written; returns whether it wrote. */
  public synchronized boolean reportIfChanged() {
    Report now = source.get();
    if (now.equals(written)) {
      return false;
    }
    Agent patch = new Agent();
    patch.getMetadata().setName(name);
    AgentStatus status = new AgentStatus();
    status.setTasksRunning(now.tasksRunning());
    status.setResourcesUsed(now.used());
    status.setResourcesFree(now.free());
    status.setReportedAt(Instant.now(clock).truncatedTo(ChronoUnit.SECONDS).toString());
    patch.setStatus(status);
    client
        .resource(patch)
        .subresource("status")
        .patch(
            new PatchContext.Builder()
                .withFieldManager(FIELD_MANAGER)
                .withForce(true)
                .withPatchType(PatchType.SERVER_SIDE_APPLY)
                .build());
    written = now;
    return true;
  }

  @Override
  public void close() {
    executor.shutdownNow();
  }
}
