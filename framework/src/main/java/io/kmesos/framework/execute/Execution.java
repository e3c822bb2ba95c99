package io.kmesos.framework.execute;

import com.google.protobuf.util.Timestamps;
import io.kmesos.api.cli.Failures;
import io.kmesos.api.scheduler.v1.ReconcileRequest;
import io.kmesos.api.v1.Filters;
import io.kmesos.api.v1.MasterInfo;
import io.kmesos.api.v1.Offer;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStates;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.api.v1.TaskStatus.Reason;
import io.kmesos.framework.FrameworkClient;
import io.kmesos.framework.ResourceText;
import io.kmesos.framework.Scheduler;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * kmesos-execute's scheduler: launches its one task on the first offer that holds its resources
 * (declining every other), prints each status update of it as a line, and ends at its terminal
 * update. Every callback runs on the client's event thread; {@link #finished} and {@link #exitCode}
 * are read by the command's main thread.
 */
final class Execution implements Scheduler {
  static final DateTimeFormatter TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS").withZone(ZoneOffset.UTC);

  private final TaskInfo task;
  private final String role;
  private final Duration killAfter;
  private final PrintWriter out;
  private final PrintWriter err;
  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "kill-after");
            t.setDaemon(true);
            return t;
          });

  final CountDownLatch finished = new CountDownLatch(1);
  private volatile int exitCode = 1;

  /** The task's terminal update arrived: its exit code is final. */
  private volatile boolean ended;

  private volatile boolean launched;
  private volatile boolean running;
  private volatile String agentId = "";

  /** How often the running task is reconciled (explicitly); null: never (beyond subscribing). */
  private final Duration reconcileEvery;

  Execution(TaskInfo task, String role, Duration killAfter, PrintWriter out, PrintWriter err) {
    this(task, role, killAfter, null, out, err);
  }

  Execution(
      TaskInfo task,
      String role,
      Duration killAfter,
      Duration reconcileEvery,
      PrintWriter out,
      PrintWriter err) {
    this.task = task;
    this.role = role;
    this.killAfter = killAfter;
    this.reconcileEvery = reconcileEvery;
    this.out = out;
    this.err = err;
  }

  int exitCode() {
    return exitCode;
  }

  boolean launched() {
    return launched;
  }

  String agentId() {
    return agentId;
  }

  @Override
  public void subscribed(
      FrameworkClient client, String frameworkId, MasterInfo master, boolean resubscribed) {
    err.println(
        "kmesos-execute: "
            + (resubscribed ? "subscribed again" : "subscribed")
            + " as framework "
            + frameworkId
            + " to the master at "
            + client.masterAddress());
    err.flush();
  }

  @Override
  public void offers(FrameworkClient client, List<Offer> offers) {
    List<String> decline = new ArrayList<>();
    for (Offer offer : offers) {
      if (!launched
          && offer.getAllocationRole().equals(role)
          && ResourceText.contains(offer.getResourcesList(), task.getResourcesList())) {
        launched = true;
        agentId = offer.getAgentId();
        TaskInfo onAgent = task.toBuilder().setAgentId(offer.getAgentId()).build();
        err.println(
            "kmesos-execute: launching task "
                + task.getTaskId()
                + " on agent "
                + offer.getAgentId()
                + " ("
                + offer.getHostname()
                + ") with "
                + ResourceText.format(task.getResourcesList()));
        err.flush();
        client
            .launch(List.of(offer.getId()), List.of(onAgent), Filters.getDefaultInstance())
            .exceptionally(
                e -> {
                  err.println("kmesos-execute: the launch failed: " + Failures.oneLine(e));
                  err.flush();
                  launched = false; // the offer's resources come back; ask for offers again
                  client.revive(List.of());
                  return null;
                });
        // One task only: no more offers needed (a failed launch revives).
        client.suppress(List.of());
      } else {
        decline.add(offer.getId());
      }
    }
    if (!decline.isEmpty()) {
      client.decline(decline, Filters.getDefaultInstance());
    }
  }

  @Override
  public void update(FrameworkClient client, TaskStatus status) {
    if (!status.getTaskId().equals(task.getTaskId())) {
      return;
    }
    out.println(line(status));
    out.flush();
    if (status.getState() == TaskState.TASK_RUNNING && !running) {
      running = true;
      if (reconcileEvery != null) {
        // The master answers with the task's latest state (REASON_RECONCILIATION), printed as
        // any update: a way to watch a long task through its agent's restarts.
        timer.scheduleWithFixedDelay(
            () ->
                client
                    .reconcile(
                        List.of(
                            ReconcileRequest.Task.newBuilder()
                                .setTaskId(task.getTaskId())
                                .setAgentId(agentId)
                                .build()))
                    .exceptionally(
                        e -> {
                          err.println(
                              "kmesos-execute: reconciliation failed: " + Failures.oneLine(e));
                          err.flush();
                          return null;
                        }),
            reconcileEvery.toMillis(),
            reconcileEvery.toMillis(),
            TimeUnit.MILLISECONDS);
      }
      if (killAfter != null) {
        timer.schedule(
            () -> {
              err.println(
                  "kmesos-execute: killing task " + task.getTaskId() + " after " + killAfter);
              err.flush();
              client.kill(task.getTaskId(), agentId, null);
            },
            killAfter.toMillis(),
            TimeUnit.MILLISECONDS);
      }
    }
    if (TaskStates.isTerminal(status.getState())) {
      exitCode = ExitCodes.of(status);
      ended = true;
      timer.shutdownNow();
      finished.countDown();
    }
  }

  @Override
  public void error(FrameworkClient client, String message) {
    if (ended) {
      // The task is over and kmesos-execute tears its framework down: the master then ends the
      // subscription with an error event, which says nothing about the task's outcome.
      return;
    }
    err.println("kmesos-execute: " + message);
    err.flush();
    exitCode = 1;
    finished.countDown();
  }

  @Override
  public void disconnected(FrameworkClient client, String reason) {
    err.println("kmesos-execute: disconnected from the master (" + reason + "); reconnecting");
    err.flush();
  }

  /** One status update: time, task, state, message (and reason, exit code when they say more). */
  static String line(TaskStatus status) {
    Instant at =
        status.hasTimestamp()
            ? Instant.ofEpochMilli(Timestamps.toMillis(status.getTimestamp()))
            : Instant.now();
    StringBuilder b =
        new StringBuilder()
            .append(TIME.format(at))
            .append("  ")
            .append(status.getTaskId())
            .append("  ")
            .append(status.getState().name());
    if (!status.getMessage().isEmpty()) {
      b.append("  ").append(status.getMessage());
    }
    List<String> more = new ArrayList<>();
    if (status.getReason() != Reason.REASON_UNSPECIFIED) {
      more.add(status.getReason().name());
    }
    if (status.hasExitCode()) {
      more.add("exit code " + status.getExitCode());
    }
    if (!more.isEmpty()) {
      b.append("  (").append(String.join(", ", more)).append(")");
    }
    return b.toString();
  }
}
