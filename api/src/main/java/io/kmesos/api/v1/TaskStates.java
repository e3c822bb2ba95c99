package io.kmesos.api.v1;

/** What kmesos and its frameworks conclude from a {@link TaskState}. */
public final class TaskStates {
  private TaskStates() {}

  /**
   * Whether the state is terminal, as Mesos's {@code isTerminalState}: the task no longer runs (or
   * is treated as not running) and its resources are released. TASK_UNREACHABLE and TASK_UNKNOWN
   * are not terminal (the task may still run), nor is a state this build does not know. Every state
   * is listed without a default, so a new one does not compile until it is classified here.
   */
  public static boolean isTerminal(TaskState state) {
    return switch (state) {
      case TASK_FINISHED,
          TASK_FAILED,
          TASK_KILLED,
          TASK_ERROR,
          TASK_LOST,
          TASK_DROPPED,
          TASK_GONE,
          TASK_GONE_BY_OPERATOR ->
          true;
      case TASK_STATE_UNSPECIFIED,
          TASK_STAGING,
          TASK_STARTING,
          TASK_RUNNING,
          TASK_KILLING,
          TASK_UNREACHABLE,
          TASK_UNKNOWN,
          UNRECOGNIZED ->
          false;
    };
  }
}
