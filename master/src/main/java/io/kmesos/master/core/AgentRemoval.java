package io.kmesos.master.core;

import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;

/**
 * Why an agent leaves the cluster for good (the shell learns it from the registry), and what its
 * tasks become: they end with this state (TASK_LOST for frameworks without PARTITION_AWARE).
 */
public enum AgentRemoval {
  /** Its Agent resource was deleted: it may come back, as a new agent under a new ID. */
  REMOVED(TaskState.TASK_GONE, TaskStatus.Reason.REASON_AGENT_REMOVED),
  /** An operator declared it gone (registry state GONE): it never comes back. */
  GONE_BY_OPERATOR(
      TaskState.TASK_GONE_BY_OPERATOR, TaskStatus.Reason.REASON_AGENT_REMOVED_BY_OPERATOR);

  final TaskState taskState;
  final TaskStatus.Reason reason;

  AgentRemoval(TaskState taskState, TaskStatus.Reason reason) {
    this.taskState = taskState;
    this.reason = reason;
  }
}
