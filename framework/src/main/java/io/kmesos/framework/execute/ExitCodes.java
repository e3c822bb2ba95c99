package io.kmesos.framework.execute;

import io.kmesos.api.v1.TaskStatus;

/** The exit status of kmesos-execute, from the task's terminal update. */
public final class ExitCodes {
  private ExitCodes() {}

  /** 0 for TASK_FINISHED, the command's own status for TASK_FAILED when known, 1 otherwise. */
  public static int of(TaskStatus terminal) {
    return switch (terminal.getState()) {
      case TASK_FINISHED -> 0;
      case TASK_FAILED ->
          terminal.hasExitCode() && terminal.getExitCode() > 0 && terminal.getExitCode() <= 255
              ? terminal.getExitCode()
              : 1;
      default -> 1;
    };
  }

  /** Interrupted (Ctrl-C) before the task was launched, as shells report SIGINT. */
  public static final int INTERRUPTED = 130;
}
