package io.kmesos.master.core;

import com.google.protobuf.Timestamp;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import java.time.Instant;

/**
 * The status updates the master itself generates (invalid launches, reconciliation answers, tasks
 * of agents it lost): SOURCE_MASTER, no uuid (never acknowledged, never retried), timestamped with
 * the input's {@code now}.
 *
 * <p>Guarantee: a framework without PARTITION_AWARE never gets one of the partition-aware states
 * (TASK_UNREACHABLE, TASK_DROPPED, TASK_GONE, TASK_GONE_BY_OPERATOR, TASK_UNKNOWN): it gets
 * TASK_LOST in their place, as in Mesos.
 */
final class MasterStatuses {
  private MasterStatuses() {}

  static TaskStatus of(
      FrameworkState framework,
      String taskId,
      String agentId,
      TaskState state,
      TaskStatus.Reason reason,
      String message,
      Instant now) {
    return TaskStatus.newBuilder()
        .setTaskId(taskId)
        .setAgentId(agentId)
        .setFrameworkId(framework.id)
        .setState(forFramework(framework, state))
        .setReason(reason)
        .setSource(TaskStatus.Source.SOURCE_MASTER)
        .setMessage(message)
        .setTimestamp(timestamp(now))
        .build();
  }

  /** The state as the framework may see it: TASK_LOST for partition states, unless aware. */
  static TaskState forFramework(FrameworkState framework, TaskState state) {
    if (framework.partitionAware()) {
      return state;
    }
    return switch (state) {
      case TASK_UNREACHABLE, TASK_DROPPED, TASK_GONE, TASK_GONE_BY_OPERATOR, TASK_UNKNOWN ->
          TaskState.TASK_LOST;
      default -> state;
    };
  }

  static Timestamp timestamp(Instant now) {
    return Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano()).build();
  }
}
