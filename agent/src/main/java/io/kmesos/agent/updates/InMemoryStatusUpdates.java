package io.kmesos.agent.updates;

import com.google.protobuf.ByteString;
import io.kmesos.api.agent.v1.StatusUpdate;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.TaskStates;
import io.kmesos.api.v1.TaskStatus;
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
 * {@link StatusUpdates} in memory: what is pending is lost if the agent restarts (as for Mesos
 * frameworks without checkpointing). A head is re-sent after {@code minBackoff}, doubling up to
 * {@code maxBackoff} (Mesos: 10 s to 10 min), on the current session; a new session sends every
 * head at once and starts its back-off again.
 */
public final class InMemoryStatusUpdates implements StatusUpdates {
  private static final Logger LOG = LoggerFactory.getLogger(InMemoryStatusUpdates.class);

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

  public InMemoryStatusUpdates(RetryTimer timer, Duration minBackoff, Duration maxBackoff) {
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
    UUID uuid = UUID.randomUUID();
    ByteBuffer bytes = ByteBuffer.allocate(16);
    bytes.putLong(uuid.getMostSignificantBits()).putLong(uuid.getLeastSignificantBits());
    TaskStatus update =
        status.toBuilder()
            .setFrameworkId(framework.getId())
            .setUuid(ByteString.copyFrom(bytes.array()))
            .build();
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
    streams.values().forEach(InMemoryStatusUpdates::cancelRetry);
  }

  @Override
  public synchronized void dropFramework(String frameworkId) {
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
