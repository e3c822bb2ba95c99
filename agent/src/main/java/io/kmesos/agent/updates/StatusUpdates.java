package io.kmesos.agent.updates;

import com.google.protobuf.ByteString;
import io.kmesos.api.agent.v1.StatusUpdate;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import java.util.List;
import java.util.function.Consumer;

/**
 * The agent's status update manager (Mesos's TaskStatusUpdateManager): delivers every update of a
 * task at least once and in order. Each update gets a UUID; each task has a FIFO of which only the
 * head is in flight, sent again with back-off until the framework acknowledges its UUID; then the
 * next one goes. Once a terminal update is acknowledged the task is forgotten.
 *
 * <p>An interface because a later step makes it durable for frameworks with {@code checkpoint}
 * (each update written to the work directory before it is sent, replayed after an agent restart);
 * {@link StatusUpdateQueues} keeps everything in memory.
 */
public interface StatusUpdates {
  /**
   * Queues an update of a task and returns it as it will be sent: with a fresh UUID (16 bytes, RFC
   * 4122), unless it carries one of 16 bytes already (a custom executor's update keeps the uuid the
   * executor gave it, as in Mesos, so that the acknowledgement names it). If it is the task's only
   * update, it is sent at once when a session is up.
   */
  TaskStatus add(FrameworkInfo framework, TaskStatus status);

  /**
   * The framework acknowledged the update with this UUID. If it is the head of the task's queue, it
   * leaves the queue and the next is sent; any other UUID (a duplicate, a stale one, an unknown
   * task) is ignored.
   *
   * @return whether it acknowledged the head
   */
  boolean acknowledge(String frameworkId, String taskId, ByteString uuid);

  /**
   * A session with the master is up: every task's head is sent at once through {@code sender}, and
   * later updates and retries go there until {@link #disconnected}. Calls to {@code sender} are
   * serialized.
   */
  void connected(Consumer<StatusUpdate> sender);

  /** The session ended: nothing is sent until the next {@link #connected}. */
  void disconnected();

  /** The framework is gone (ShutdownFramework): its pending updates are dropped, never sent. */
  void dropFramework(String frameworkId);

  /** What one task still has to deliver. */
  record Pending(FrameworkInfo framework, TaskStatus head, TaskState latestState) {}

  /** Every task with an unacknowledged update, for re-registration. */
  List<Pending> pending();
}
