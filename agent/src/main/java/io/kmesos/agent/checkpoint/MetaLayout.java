package io.kmesos.agent.checkpoint;

import java.nio.file.Path;

/**
 * Where each checkpoint lives under {@code <work-dir>/meta} (Mesos: src/slave/paths.cpp, without
 * the {@code slaves/<agent id>} level: one agent per work directory):
 *
 * <pre>
 * meta/agent.info
 * meta/boot_id
 * meta/frameworks/&lt;framework id&gt;/framework.info
 *   executors/&lt;executor id&gt;/executor.info
 *   executors/&lt;executor id&gt;/latest
 *   executors/&lt;executor id&gt;/runs/&lt;run id&gt;/forked.pid
 *   executors/&lt;executor id&gt;/runs/&lt;run id&gt;/completed
 *   executors/&lt;executor id&gt;/runs/&lt;run id&gt;/tasks/&lt;task id&gt;/task.info
 *   executors/&lt;executor id&gt;/runs/&lt;run id&gt;/tasks/&lt;task id&gt;/task.updates
 * </pre>
 */
public final class MetaLayout {
  static final String FRAMEWORKS = "frameworks";
  static final String EXECUTORS = "executors";
  static final String RUNS = "runs";
  static final String TASKS = "tasks";

  private final Path meta;

  public MetaLayout(Path workDir) {
    this.meta = workDir.toAbsolutePath().normalize().resolve("meta");
  }

  /**
   * Whether {@code id} can name a checkpoint directory. IDs become directory names: the agent's
   * task ID rule (letters, digits and {@code _.:@+-}, 1 to 255, not only dots). No {@code ~}: names
   * with one are the store's scratch. A loop rather than a regular expression: recovery checks
   * every directory name it lists and every path it builds (10^5 of them for 10^4 tasks), and the
   * regular expression's matcher was a tenth of the reading in a profile.
   */
  public static boolean isValidId(String id) {
    if (id == null || id.isEmpty() || id.length() > 255) {
      return false;
    }
    for (int i = 0; i < id.length(); i++) {
      char c = id.charAt(i);
      boolean ok =
          (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || c == '_'
              || c == '.'
              || c == ':'
              || c == '@'
              || c == '+'
              || c == '-';
      if (!ok) {
        return false;
      }
    }
    return !onlyDots(id);
  }

  /**
   * "." and ".." (and longer): no name of a directory of its own. A loop: recovery checks 10^4s.
   */
  private static boolean onlyDots(String id) {
    for (int i = 0; i < id.length(); i++) {
      if (id.charAt(i) != '.') {
        return false;
      }
    }
    return true;
  }

  static String checkId(String what, String id) {
    if (!isValidId(id)) {
      throw new IllegalArgumentException(
          "cannot checkpoint "
              + what
              + " '"
              + id
              + "': an ID must be 1 to 255 of letters, digits and _.:@+- (not only dots)");
    }
    return id;
  }

  public Path meta() {
    return meta;
  }

  public Path agentInfo() {
    return meta.resolve(FileKind.AGENT_INFO.fileName());
  }

  public Path bootId() {
    return meta.resolve(FileKind.BOOT_ID.fileName());
  }

  public Path frameworks() {
    return meta.resolve(FRAMEWORKS);
  }

  public Path framework(String frameworkId) {
    return frameworks().resolve(checkId("framework", frameworkId));
  }

  public Path frameworkInfo(String frameworkId) {
    return framework(frameworkId).resolve(FileKind.FRAMEWORK_INFO.fileName());
  }

  public Path executor(String frameworkId, String executorId) {
    return framework(frameworkId).resolve(EXECUTORS).resolve(checkId("executor", executorId));
  }

  public Path executorInfo(String frameworkId, String executorId) {
    return executor(frameworkId, executorId).resolve(FileKind.EXECUTOR_INFO.fileName());
  }

  public Path latestRun(String frameworkId, String executorId) {
    return executor(frameworkId, executorId).resolve(FileKind.LATEST_RUN.fileName());
  }

  public Path run(String frameworkId, String executorId, String runId) {
    return executor(frameworkId, executorId).resolve(RUNS).resolve(checkId("run", runId));
  }

  public Path runProcess(String frameworkId, String executorId, String runId) {
    return run(frameworkId, executorId, runId).resolve(FileKind.RUN_PROCESS.fileName());
  }

  public Path runCompleted(String frameworkId, String executorId, String runId) {
    return run(frameworkId, executorId, runId).resolve(FileKind.RUN_COMPLETED.fileName());
  }

  public Path task(String frameworkId, String executorId, String runId, String taskId) {
    return run(frameworkId, executorId, runId).resolve(TASKS).resolve(checkId("task", taskId));
  }

  public Path taskInfo(String frameworkId, String executorId, String runId, String taskId) {
    return task(frameworkId, executorId, runId, taskId).resolve(FileKind.TASK_INFO.fileName());
  }

  public Path taskUpdates(String frameworkId, String executorId, String runId, String taskId) {
    return task(frameworkId, executorId, runId, taskId).resolve(FileKind.TASK_UPDATES.fileName());
  }
}
