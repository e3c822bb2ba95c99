package io.kmesos.agent.updates;

import com.google.protobuf.ByteString;
import io.kmesos.agent.faults.CrashPoints;
import io.kmesos.api.agent.v1.StatusUpdate;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.TaskStates;
import io.kmesos.api.v1.TaskStatus;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link StatusUpdates} as a queue per task. A head is re-sent after {@code minBackoff}, doubling
 * up to {@code maxBackoff} (Mesos: 10 s to 10 min), on the current session; a new session sends
 * every head at once and starts its back-off again.
 *
 * <p>Durability is the {@link UpdateJournal}'s: with {@link UpdateJournal#NONE} what is pending is
 * lost if the agent restarts (as for Mesos frameworks without checkpointing); with the agent's
 * checkpoints, every update is journaled before it is queued and every acknowledgement before the
 * next update goes, and a restarted agent puts the unacknowledged updates back with {@link
 * #recover}. A journal that fails leaves the queues unchanged and calls the {@code
 * onJournalFailure} handler (the agent stops: it could no longer promise what it checkpoints).
 */
public final class StatusUpdateQueues implements StatusUpdates {
  private static final Logger LOG = LoggerFactory.getLogger(StatusUpdateQueues.class);

  private final RetryTimer timer;
  private final Duration minBackoff;
  private final Duration maxBackoff;

  private record Key(String frameworkId, String taskId) {}

  private static final class Stream {
    final FrameworkInfo framework;
    final Deque<TaskStatus> queue = new ArrayDeque<>();
    Duration backoff;
    RetryTimer.Scheduled retry;

    /** Counts sends, so that a retry that fired after it was called off does nothing. */
    long sends;

    Stream(FrameworkInfo framework) {
      this.framework = framework;
    }
  }

  private final Map<Key, Stream> streams = new LinkedHashMap<>();
  private Consumer<StatusUpdate> sender;
  private final UpdateJournal journal;
  private final Consumer<IOException> onJournalFailure;

  /** Queues in memory only. */
  public StatusUpdateQueues(RetryTimer timer, Duration minBackoff, Duration maxBackoff) {
    this(
        timer,
        minBackoff,
        maxBackoff,
        UpdateJournal.NONE,
        e -> {
          throw new UncheckedIOException(e);
        });
  }

  public StatusUpdateQueues(
      RetryTimer timer,
      Duration minBackoff,
      Duration maxBackoff,
      UpdateJournal journal,
      Consumer<IOException> onJournalFailure) {
    this.journal = journal;
    this.onJournalFailure = onJournalFailure;
    if (minBackoff.isNegative() || minBackoff.isZero() || maxBackoff.compareTo(minBackoff) < 0) {
      throw new IllegalArgumentException(
          "status update back-off: need 0 < min <= max, not " + minBackoff + " and " + maxBackoff);
    }
    this.timer = timer;
    this.minBackoff = minBackoff;
    this.maxBackoff = maxBackoff;
  }

  @Override
  public synchronized TaskStatus add(FrameworkInfo framework, TaskStatus status) {
    ByteString given = status.getUuid();
    if (given.size() != 16) {
      UUID uuid = UUID.randomUUID();
      ByteBuffer bytes = ByteBuffer.allocate(16);
      bytes.putLong(uuid.getMostSignificantBits()).putLong(uuid.getLeastSignificantBits());
      given = ByteString.copyFrom(bytes.array());
    }
    TaskStatus update = status.toBuilder().setFrameworkId(framework.getId()).setUuid(given).build();
    try {
      journal.updated(framework, update);
    } catch (IOException e) {
      onJournalFailure.accept(e);
      return update; // not queued: the agent stops, and recovery does not find it either
    }
    if (framework.getCheckpoint()) {
      CrashPoints.reach(CrashPoints.UPDATE_CHECKPOINTED);
    }
    Key key = new Key(framework.getId(), status.getTaskId());
    Stream stream = streams.computeIfAbsent(key, k -> new Stream(framework));
    stream.queue.addLast(update);
    if (stream.queue.size() == 1) {
      stream.backoff = minBackoff;
      send(key, stream);
    }
    return update;
  }

  @Override
  public synchronized boolean acknowledge(String frameworkId, String taskId, ByteString uuid) {
    Key key = new Key(frameworkId, taskId);
    Stream stream = streams.get(key);
    if (stream == null || !stream.queue.peekFirst().getUuid().equals(uuid)) {
      LOG.debug(
          "ignoring an acknowledgement of task {} of framework {} with uuid {}: not the head of its updates",
          taskId,
          frameworkId,
          HexFormat.of().formatHex(uuid.toByteArray()));
      return false;
    }
    TaskStatus head = stream.queue.peekFirst();
    boolean checkpointed = stream.framework.getCheckpoint();
    if (checkpointed) {
      CrashPoints.reach(CrashPoints.ACK_RECEIVED);
    }
    try {
      journal.acknowledged(
          stream.framework,
          head,
          stream.queue.size() == 1 && TaskStates.isTerminal(head.getState()));
    } catch (IOException e) {
      onJournalFailure.accept(e);
      return false; // not acknowledged: the head stays, and is sent again
    }
    if (checkpointed) {
      CrashPoints.reach(CrashPoints.ACK_CHECKPOINTED);
    }
    TaskStatus acked = stream.queue.removeFirst();
    cancelRetry(stream);
    if (stream.queue.isEmpty()) {
      streams.remove(key);
      if (TaskStates.isTerminal(acked.getState())) {
        LOG.debug("task {} of framework {} ended and is acknowledged", taskId, frameworkId);
      }
    } else {
      stream.backoff = minBackoff;
      send(key, stream);
    }
    return true;
  }

  @Override
  public synchronized void connected(Consumer<StatusUpdate> sender) {
    this.sender = sender;
    streams.forEach(
        (key, stream) -> {
          cancelRetry(stream);
          stream.backoff = minBackoff;
          send(key, stream);
        });
  }

  @Override
  public synchronized void disconnected() {
    sender = null;
    streams.values().forEach(StatusUpdateQueues::cancelRetry);
  }

  /**
   * Puts back a task's unacknowledged updates, in order, as a restarted agent found them
   * checkpointed (already journaled: not journaled again). The first is the head, sent at the next
   * {@link #connected}. Before any session: recovery runs before the agent connects.
   */
  public synchronized void recover(FrameworkInfo framework, List<TaskStatus> unacknowledged) {
    if (unacknowledged.isEmpty()) {
      return;
    }
    TaskStatus first = unacknowledged.get(0);
    Key key = new Key(framework.getId(), first.getTaskId());
    Stream stream = streams.computeIfAbsent(key, k -> new Stream(framework));
    stream.queue.addAll(unacknowledged);
    stream.backoff = minBackoff;
    if (stream.queue.size() == unacknowledged.size()) {
      send(key, stream);
    }
  }

  @Override
  public synchronized void dropFramework(String frameworkId) {
    try {
      journal.dropped(frameworkId);
    } catch (IOException e) {
      LOG.warn("could not record that framework {} was shut down: {}", frameworkId, e.toString());
    }
    streams
        .entrySet()
        .removeIf(
            e -> {
              if (e.getKey().frameworkId().equals(frameworkId)) {
                cancelRetry(e.getValue());
                return true;
              }
              return false;
            });
  }

  /**
   * Whether updates of this task, or of any task of the framework if {@code taskId} is null, wait
   * for their acknowledgement (garbage collection keeps their sandboxes).
   */
  public synchronized boolean hasPending(String frameworkId, String taskId) {
    return taskId != null
        ? streams.containsKey(new Key(frameworkId, taskId))
        : streams.keySet().stream().anyMatch(k -> k.frameworkId().equals(frameworkId));
  }

  @Override
  public synchronized List<Pending> pending() {
    List<Pending> pending = new ArrayList<>();
    streams
        .values()
        .forEach(
            s ->
                pending.add(
                    new Pending(s.framework, s.queue.peekFirst(), s.queue.peekLast().getState())));
    return pending;
  }

  /** Sends the head, if a session is up, and schedules its retry. */
  private void send(Key key, Stream stream) {
    if (sender == null) {
      return; // the next connected() sends it
    }
    TaskStatus head = stream.queue.peekFirst();
    StatusUpdate.Builder update =
        StatusUpdate.newBuilder().setFrameworkId(key.frameworkId()).setStatus(head);
    if (stream.queue.size() > 1) {
      update.setLatestState(stream.queue.peekLast().getState());
    }
    sender.accept(update.build());
    long send = ++stream.sends;
    Duration delay = stream.backoff;
    stream.backoff = min(stream.backoff.multipliedBy(2), maxBackoff);
    stream.retry =
        timer.schedule(
            delay,
            () -> {
              synchronized (this) {
                if (streams.get(key) == stream && stream.sends == send) {
                  LOG.debug(
                      "re-sending {} of task {} (not acknowledged after {})",
                      head.getState(),
                      key.taskId(),
                      delay);
                  send(key, stream);
                }
              }
            });
  }

  private static void cancelRetry(Stream stream) {
    stream.sends++;
    if (stream.retry != null) {
      stream.retry.cancel();
      stream.retry = null;
    }
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }
}
