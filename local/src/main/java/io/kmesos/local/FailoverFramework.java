package io.kmesos.local;

import io.kmesos.api.scheduler.v1.ReconcileRequest;
import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.Filters;
import io.kmesos.api.v1.MasterInfo;
import io.kmesos.api.v1.Offer;
import io.kmesos.api.v1.Resource;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.framework.FrameworkClient;
import io.kmesos.framework.Protos;
import io.kmesos.framework.Scheduler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The framework of the failover benchmarks: it launches {@code total} long-running tasks, at most
 * {@code perAgent} on each agent, then suppresses its offers; it records where and when it was last
 * subscribed, which tasks it has seen RUNNING, and the RUNNING answers to reconciliation since
 * {@link #countReconciliation} was last called.
 */
final class FailoverFramework implements Scheduler {
  private final int total;
  private final int perAgent;
  private final List<Resource> perTask;
  private final Filters noFilter =
      Filters.newBuilder().setRefuse(Protos.duration(Duration.ZERO)).build();
  private final Filters longFilter =
      Filters.newBuilder().setRefuse(Protos.duration(Duration.ofHours(1))).build();
  private final Map<String, Integer> onAgent = new HashMap<>();
  private final Map<String, String> agentOf = new ConcurrentHashMap<>();
  private final Set<String> running = ConcurrentHashMap.newKeySet();
  private final Set<String> reconciled = ConcurrentHashMap.newKeySet();
  private final AtomicInteger otherAnswers = new AtomicInteger();
  private final Map<TaskState, AtomicInteger> otherStates = new ConcurrentHashMap<>();
  private int launched;
  private boolean suppressed;
  private volatile String master;
  private volatile long subscribedAt;
  private volatile boolean counting;
  volatile String error;

  FailoverFramework(int total, int perAgent, List<Resource> perTask) {
    this.total = total;
    this.perAgent = perAgent;
    this.perTask = perTask;
  }

  /** The master of the current subscription (host:port), null before the first. */
  String master() {
    return master;
  }

  /** System.nanoTime() of the last subscription. */
  long subscribedAt() {
    return subscribedAt;
  }

  /** Tasks seen RUNNING (by an update with a uuid). */
  int running() {
    return running.size();
  }

  /** From now on, count RUNNING answers to reconciliation afresh. */
  void countReconciliation() {
    reconciled.clear();
    otherAnswers.set(0);
    otherStates.clear();
    counting = true;
  }

  /**
   * Answers to reconciliation other than RUNNING (e.g. TASK_LOST) since {@link
   * #countReconciliation}.
   */
  int otherAnswers() {
    return otherAnswers.get();
  }

  /** {@link #otherAnswers} by state, e.g. "TASK_LOST:15080" ("-" for none). */
  String otherStates() {
    StringBuilder b = new StringBuilder();
    otherStates.forEach(
        (k, v) -> b.append(b.length() == 0 ? "" : ",").append(k).append(':').append(v));
    return b.length() == 0 ? "-" : b.toString();
  }

  int reconciled() {
    return reconciled.size();
  }

  /** Every launched task the reconciliation has not answered RUNNING yet, with its agent. */
  List<ReconcileRequest.Task> unreconciled() {
    List<ReconcileRequest.Task> tasks = new ArrayList<>();
    agentOf.forEach(
        (task, agent) -> {
          if (!reconciled.contains(task)) {
            tasks.add(ReconcileRequest.Task.newBuilder().setTaskId(task).setAgentId(agent).build());
          }
        });
    return tasks;
  }

  @Override
  public void subscribed(
      FrameworkClient client, String frameworkId, MasterInfo info, boolean resubscribed) {
    subscribedAt = System.nanoTime();
    master = client.masterAddress();
  }

  @Override
  public void offers(FrameworkClient client, List<Offer> offers) {
    for (Offer offer : offers) {
      String agent = offer.getAgentId();
      int n =
          Math.min(
              Math.min(perAgent - onAgent.getOrDefault(agent, 0), fits(offer)), total - launched);
      if (n <= 0) {
        client.decline(List.of(offer.getId()), launched < total ? noFilter : longFilter);
        continue;
      }
      List<TaskInfo> batch = new ArrayList<>(n);
      for (int j = 0; j < n; j++) {
        String id = "task-" + (launched + j);
        batch.add(
            TaskInfo.newBuilder()
                .setTaskId(id)
                .setName("sleep")
                .setAgentId(agent)
                .addAllResources(perTask)
                .setCommand(CommandInfo.newBuilder().setShell(true).setValue("sleep 1000000"))
                .build());
        agentOf.put(id, agent);
      }
      launched += n;
      onAgent.merge(agent, n, Integer::sum);
      client
          .launch(List.of(offer.getId()), batch, noFilter)
          .whenComplete(
              (ok, e) -> {
                if (e != null && error == null) {
                  error = "Accept refused: " + e;
                }
              });
    }
    if (launched >= total && !suppressed) {
      suppressed = true;
      client.suppress(List.of());
    }
  }

  private int fits(Offer offer) {
    int n = Integer.MAX_VALUE;
    for (Resource wanted : perTask) {
      double have = 0;
      for (Resource r : offer.getResourcesList()) {
        if (r.getName().equals(wanted.getName()) && r.hasScalar()) {
          have += r.getScalar();
        }
      }
      n = Math.min(n, (int) Math.floor(have / wanted.getScalar() + 1e-6));
    }
    return n;
  }

  @Override
  public void update(FrameworkClient client, TaskStatus status) {
    if (status.getState() != TaskState.TASK_RUNNING) {
      if (status.getUuid().isEmpty()) {
        // A reconciliation answer for a task the master does not know (yet): asked again later.
        if (counting) {
          otherAnswers.incrementAndGet();
          otherStates
              .computeIfAbsent(status.getState(), k -> new AtomicInteger())
              .incrementAndGet();
        }
        return;
      }
      if (error == null) {
        error = "task " + status.getTaskId() + ": " + status.getState() + " " + status.getMessage();
      }
      return;
    }
    if (!status.getUuid().isEmpty()) {
      running.add(status.getTaskId());
    } else if (counting && status.getReason() == TaskStatus.Reason.REASON_RECONCILIATION) {
      reconciled.add(status.getTaskId());
    }
  }

  @Override
  public void error(FrameworkClient client, String message) {
    error = "the master ended the framework: " + message;
  }
}
