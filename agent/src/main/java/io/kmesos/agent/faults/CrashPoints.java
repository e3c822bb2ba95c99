package io.kmesos.agent.faults;

import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Named points where the agent can be made to die abruptly, for the crash-point tests: with the
 * system property {@code kmesos.agent.crashAt} (or the environment variable {@code
 * KMESOS_AGENT_CRASH_AT}) naming one of them, the agent halts there the first time it reaches it,
 * as a kill -9 would stop it (no shutdown hooks, nothing flushed). Unset, a point costs one
 * comparison.
 *
 * <p>Each point sits between two steps whose order the recovery relies on; the tests restart the
 * agent after the crash and check that no update is lost or changed and no task runs twice.
 */
public final class CrashPoints {
  private static final Logger LOG = LoggerFactory.getLogger(CrashPoints.class);

  /** A task of a checkpointing framework is checkpointed; its process is not started yet. */
  public static final String TASK_CHECKPOINTED = "task-checkpointed";

  /** The task's process started; its pid is not checkpointed yet. */
  public static final String PROCESS_STARTED = "process-started";

  /** A status update is checkpointed; it is not queued or sent yet. */
  public static final String UPDATE_CHECKPOINTED = "update-checkpointed";

  /** An acknowledgement arrived; it is not checkpointed yet. */
  public static final String ACK_RECEIVED = "ack-received";

  /** An acknowledgement is checkpointed; the task's next update is not sent yet. */
  public static final String ACK_CHECKPOINTED = "ack-checkpointed";

  public static final Set<String> ALL =
      Set.of(
          TASK_CHECKPOINTED, PROCESS_STARTED, UPDATE_CHECKPOINTED, ACK_RECEIVED, ACK_CHECKPOINTED);

  /** The exit status of a crash at a point, to tell it from other deaths. */
  public static final int EXIT_STATUS = 86;

  private static final String ARMED = armed();

  private CrashPoints() {}

  private static String armed() {
    String at = System.getProperty("kmesos.agent.crashAt", System.getenv("KMESOS_AGENT_CRASH_AT"));
    if (at == null || at.isBlank()) {
      return null;
    }
    if (!ALL.contains(at)) {
      throw new IllegalArgumentException(
          "unknown crash point '" + at + "'; the points are " + new TreeSet<>(ALL));
    }
    LOG.warn("crash point armed: the agent halts at '{}'", at);
    return at;
  }

  /** Halts the JVM at once if this is the armed point. */
  public static void reach(String point) {
    if (ARMED != null && ARMED.equals(point)) {
      System.err.println("kmesos-agent: crash point '" + point + "' reached: halting");
      Runtime.getRuntime().halt(EXIT_STATUS);
    }
  }

  /** The armed point, for the agent's start-up message. */
  public static String armedPoint() {
    return ARMED;
  }
}
