package io.kmesos.local;

import com.google.protobuf.ByteString;
import com.google.protobuf.util.Durations;
import io.grpc.ChannelCredentials;
import io.kmesos.api.resources.ResourceProtos;
import io.kmesos.api.resources.Resources;
import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.Filters;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Offer;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStates;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.framework.FrameworkClient;
import io.kmesos.framework.FrameworkSettings;
import io.kmesos.framework.Scheduler;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;

/**
 * A framework for tests, in the test's JVM, talking to the real master: it launches one task of
 * {@code task} per offer (a Mesos-style greedy framework that lets DRF decide who gets the next
 * slot) while it has tasks to launch, and gives the rest of each offer back at once (refuse 0), so
 * the next cycle offers it to whichever role is then furthest below its weighted share. With
 * nothing (left) to launch it declines offers for a while, so that it does not take every offer of
 * the other roles' turn; {@link #launch} adds tasks and revives its offers.
 *
 * <p>It acknowledges updates itself (explicit acknowledgements) so that a test can check the
 * at-least-once contract from the framework's side: every update with a uuid (the agent's) is
 * acknowledged each time it is delivered, one without (the master's: reconciliation answers,
 * invalid launches) never; it counts deliveries per (task, uuid), and a delivery of an update whose
 * acknowledgement the master has already answered is a redelivery after the acknowledgement.
 */
final class GreedyFramework implements Scheduler, AutoCloseable {
  /** How long offers are declined for when nothing is to be launched on them. */
  private static final long IDLE_REFUSE_SECONDS = 5;

  final String name;
  final String role;
  final Resources task;

  /** The latest update of every task, whoever sent it (reconciliation answers included). */
  final Map<String, TaskStatus> latest = new ConcurrentHashMap<>();

  /** The latest update with a uuid (from the task's agent) of every task. */
  final Map<String, TaskStatus> fromAgent = new ConcurrentHashMap<>();

  /** Every update without a uuid, in order of arrival (the master's: reconciliation answers...). */
  final List<TaskStatus> fromMaster = new CopyOnWriteArrayList<>();

  /** The command of every task launched, by task ID. */
  final Map<String, String> commands = new ConcurrentHashMap<>();

  /** What broke the update contract (an update without uuid not from the master, ...). */
  final List<String> problems = new CopyOnWriteArrayList<>();

  /** One update (task, uuid) as this framework received and acknowledged it. */
  static final class Delivery {
    final TaskStatus status;
    final AtomicInteger delivered = new AtomicInteger();
    final AtomicInteger acknowledgementsSent = new AtomicInteger();
    final AtomicInteger acknowledgementsFailed = new AtomicInteger();
    final AtomicInteger deliveredAfterAcknowledged = new AtomicInteger();
    volatile boolean acknowledged;

    Delivery(TaskStatus status) {
      this.status = status;
    }

    @Override
    public String toString() {
      return status.getTaskId()
          + " "
          + status.getState()
          + " uuid "
          + HexFormat.of().formatHex(status.getUuid().toByteArray())
          + ": delivered "
          + delivered
          + ", acknowledgements sent "
          + acknowledgementsSent
          + " (failed "
          + acknowledgementsFailed
          + "), answered "
          + acknowledged
          + ", delivered after answered "
          + deliveredAfterAcknowledged;
    }
  }

  private record Key(String taskId, ByteString uuid) {}

  private final Map<Key, Delivery> deliveries = new ConcurrentHashMap<>();
  private final AtomicReference<Instant> lastAcknowledged = new AtomicReference<>(Instant.MIN);

  // Guarded by this.
  private final Deque<String> pending = new ArrayDeque<>();
  private int launched;

  final FrameworkClient client;

  /** Which offers it launches on (every one unless a test says otherwise). */
  volatile Predicate<Offer> where = offer -> true;

  /** Launches {@code limit} tasks of {@code command}, then idles. */
  GreedyFramework(
      List<String> masters,
      ChannelCredentials credentials,
      Path token,
      FrameworkInfo.Builder info,
      String role,
      String task,
      String command,
      int limit) {
    this.name = info.getName();
    this.role = role;
    this.task = Resources.parse(task);
    for (int i = 0; i < limit; i++) {
      pending.add(command);
    }
    this.client =
        FrameworkClient.start(
            FrameworkSettings.of(masters, info.addRoles(role).build(), credentials, token)
                .withExplicitAcknowledgements(true),
            this);
  }

  /** Launches {@code count} more tasks of {@code command}, on the next offers. */
  void launch(int count, String command) {
    synchronized (this) {
      for (int i = 0; i < count; i++) {
        pending.add(command);
      }
    }
    client.revive(List.of()); // clears the refusals of the idle time
  }

  @Override
  public void offers(FrameworkClient client, List<Offer> offers) {
    synchronized (this) {
      for (Offer offer : offers) {
        Resources offered = ResourceProtos.read(offer.getResourcesList());
        String command = pending.peekFirst();
        if (command == null || !offered.contains(task) || !where.test(offer)) {
          // Nothing to launch, or not room for one task (a full agent's memory and disk are still
          // offered). A refusal holds only while no more is free on the agent: a slot that frees
          // up comes back at once.
          client.decline(
              List.of(offer.getId()),
              Filters.newBuilder().setRefuse(Durations.fromSeconds(IDLE_REFUSE_SECONDS)).build());
          continue;
        }
        pending.removeFirst();
        String id = name + "-" + launched++;
        commands.put(id, command);
        TaskInfo t =
            TaskInfo.newBuilder()
                .setTaskId(id)
                .setName(id)
                .setAgentId(offer.getAgentId())
                .addAllResources(ResourceProtos.write(task))
                .setCommand(CommandInfo.newBuilder().setValue(command))
                .build();
        // What the task leaves unused goes back at once (refuse 0): DRF picks the next taker.
        client.launch(
            List.of(offer.getId()),
            List.of(t),
            Filters.newBuilder().setRefuse(Durations.ZERO).build());
      }
    }
  }

  @Override
  public void update(FrameworkClient client, TaskStatus status) {
    latest.put(status.getTaskId(), status); // one task's updates arrive in order
    if (status.getUuid().isEmpty()) {
      // The master's own (a reconciliation answer, an invalid launch): never retried, and not to
      // be acknowledged (the master refuses an acknowledgement without uuid).
      if (status.getSource() != TaskStatus.Source.SOURCE_MASTER) {
        problems.add("an update without uuid not from the master: " + status);
      }
      fromMaster.add(status);
      return;
    }
    if (status.getSource() == TaskStatus.Source.SOURCE_MASTER) {
      problems.add("an update of the master with a uuid: " + status);
    }
    fromAgent.put(status.getTaskId(), status);
    Delivery d =
        deliveries.computeIfAbsent(
            new Key(status.getTaskId(), status.getUuid()), k -> new Delivery(status));
    d.delivered.incrementAndGet();
    if (d.acknowledged) {
      d.deliveredAfterAcknowledged.incrementAndGet();
    }
    d.acknowledgementsSent.incrementAndGet();
    client
        .acknowledge(status)
        .whenComplete(
            (ok, e) -> {
              if (e == null) {
                d.acknowledged = true;
                lastAcknowledged.accumulateAndGet(Instant.now(), (a, b) -> a.isAfter(b) ? a : b);
              } else {
                // The agent retries it: it comes back, to be acknowledged again.
                d.acknowledgementsFailed.incrementAndGet();
              }
            });
  }

  long inState(TaskState state) {
    return latest.values().stream().filter(s -> s.getState() == state).count();
  }

  /** IDs of the tasks launched whose latest update from the agent is {@code state}. */
  List<String> tasksInState(TaskState state) {
    return commands.keySet().stream()
        .filter(id -> fromAgent.containsKey(id) && fromAgent.get(id).getState() == state)
        .sorted()
        .toList();
  }

  /** Tasks launched and not known to have ended: what holds resources of this framework. */
  int holding() {
    int n = 0;
    for (String id : commands.keySet()) {
      TaskStatus s = latest.get(id);
      if (s == null || !TaskStates.isTerminal(s.getState())) {
        n++;
      }
    }
    return n;
  }

  synchronized int launched() {
    return launched;
  }

  synchronized int pending() {
    return pending.size();
  }

  /** Every update with a uuid this framework received, as it received and acknowledged it. */
  List<Delivery> deliveries() {
    return new ArrayList<>(deliveries.values());
  }

  /** When the master last answered an acknowledgement of this framework (MIN if never). */
  Instant lastAcknowledged() {
    return lastAcknowledged.get();
  }

  @Override
  public void close() {
    client.close();
  }
}
