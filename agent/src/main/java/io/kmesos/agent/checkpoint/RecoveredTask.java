package io.kmesos.agent.checkpoint;

import com.google.protobuf.ByteString;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStates;
import io.kmesos.api.v1.TaskStatus;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * A task as checkpointed: its info and its update stream.
 *
 * @param updates every update recorded, in order (an update recorded twice with the same UUID, as
 *     when it was checkpointed again after a crash, appears once)
 * @param acknowledged the UUIDs of the updates the framework acknowledged
 */
public record RecoveredTask(
    String id, TaskInfo info, List<TaskStatus> updates, Set<ByteString> acknowledged) {
  public RecoveredTask {
    updates = List.copyOf(updates);
    acknowledged = Set.copyOf(acknowledged);
  }

  /** Built from the records in file order: duplicates of a UUID dropped. */
  static RecoveredTask of(
      String id, TaskInfo info, List<TaskStatus> updates, Set<ByteString> acks) {
    Set<ByteString> seen = new HashSet<>();
    List<TaskStatus> unique = new ArrayList<>();
    for (TaskStatus u : updates) {
      if (seen.add(u.getUuid())) {
        unique.add(u);
      }
    }
    return new RecoveredTask(id, info, unique, acks);
  }

  /** The updates still to deliver, in order: the first is the head, in flight until acked. */
  public List<TaskStatus> unacknowledged() {
    return updates.stream().filter(u -> !acknowledged.contains(u.getUuid())).toList();
  }

  /** The update to (re)send first. */
  public Optional<TaskStatus> head() {
    return unacknowledged().stream().findFirst();
  }

  /** The task's latest state: that of its last update (none before its first). */
  public Optional<TaskState> latestState() {
    return updates.isEmpty()
        ? Optional.empty()
        : Optional.of(updates.get(updates.size() - 1).getState());
  }

  /** Ended, and the framework knows it: nothing left to deliver, nothing to re-adopt. */
  public boolean isTerminalAndAcknowledged() {
    return latestState().map(TaskStates::isTerminal).orElse(false) && unacknowledged().isEmpty();
  }
}
