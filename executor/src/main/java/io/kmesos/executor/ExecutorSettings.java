package io.kmesos.executor;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What an executor learns from the environment its agent starts it with (docs/executors.md).
 *
 * @param socket the agent's executor socket ({@code KMESOS_AGENT_ENDPOINT}, {@code unix:<path>})
 * @param token sent with every call ({@code KMESOS_EXECUTOR_TOKEN})
 * @param checkpoint whether the framework checkpoints ({@code MESOS_CHECKPOINT}): only then does
 *     the executor wait for a restarted agent; else it exits when its agent goes away
 * @param recoveryTimeout how long it waits for its agent to come back ({@code
 *     MESOS_RECOVERY_TIMEOUT})
 */
public record ExecutorSettings(
    Path socket,
    String token,
    String frameworkId,
    String executorId,
    String agentId,
    Path sandbox,
    boolean checkpoint,
    Duration recoveryTimeout) {
  private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h|d)");

  /** From the variables the agent sets; a missing or malformed one is named in the exception. */
  public static ExecutorSettings fromEnvironment(Map<String, String> env) {
    String endpoint = required(env, "KMESOS_AGENT_ENDPOINT");
    if (!endpoint.startsWith("unix:") || endpoint.length() == "unix:".length()) {
      throw new IllegalArgumentException(
          "KMESOS_AGENT_ENDPOINT must be unix:<path of the agent's socket>, not '"
              + endpoint
              + "'");
    }
    String checkpoint = env.getOrDefault("MESOS_CHECKPOINT", "0");
    if (!checkpoint.equals("0") && !checkpoint.equals("1")) {
      throw new IllegalArgumentException(
          "MESOS_CHECKPOINT must be 0 or 1, not '" + checkpoint + "'");
    }
    return new ExecutorSettings(
        Path.of(endpoint.substring("unix:".length())),
        required(env, "KMESOS_EXECUTOR_TOKEN"),
        required(env, "MESOS_FRAMEWORK_ID"),
        required(env, "MESOS_EXECUTOR_ID"),
        env.getOrDefault("MESOS_AGENT_ID", ""),
        Path.of(required(env, "MESOS_SANDBOX")),
        checkpoint.equals("1"),
        duration("MESOS_RECOVERY_TIMEOUT", env.getOrDefault("MESOS_RECOVERY_TIMEOUT", "15m")));
  }

  private static String required(Map<String, String> env, String name) {
    String v = env.get(name);
    if (v == null || v.isBlank()) {
      throw new IllegalArgumentException(
          name + " is not set: an executor runs in the environment its agent starts it with");
    }
    return v;
  }

  static Duration duration(String name, String value) {
    Matcher m = DURATION.matcher(value.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException(
          name + " must be a duration like 500ms, 15s, 2m, 1h or 7d, not '" + value + "'");
    }
    long n = Long.parseLong(m.group(1));
    return switch (m.group(2)) {
      case "ms" -> Duration.ofMillis(n);
      case "s" -> Duration.ofSeconds(n);
      case "m" -> Duration.ofMinutes(n);
      case "h" -> Duration.ofHours(n);
      default -> Duration.ofDays(n);
    };
  }
}
