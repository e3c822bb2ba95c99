package io.kmesos.agent.checkpoint;

import io.kmesos.api.agent.v1.AgentRecord;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The root of what recovery found: immutable.
 *
 * @param info absent on a fresh work directory (or if agent.info was damaged and skipped)
 * @param bootId the boot ID checkpointed at the last recovery, if any
 * @param frameworks by framework ID, in ID order
 */
public record RecoveredAgent(
    Optional<AgentRecord> info,
    Optional<String> bootId,
    Map<String, RecoveredFramework> frameworks) {
  public RecoveredAgent {
    frameworks = frozen(frameworks);
  }

  /** Nothing checkpointed. */
  public static RecoveredAgent empty() {
    return new RecoveredAgent(Optional.empty(), Optional.empty(), Map.of());
  }

  /**
   * Whether the host rebooted since the checkpointed boot ID was written: then no process of before
   * is alive, whatever pid it had. False when no boot ID was checkpointed.
   */
  public boolean rebootedSince(String currentBootId) {
    return bootId.isPresent() && !bootId.get().equals(currentBootId);
  }

  /** Every task, wherever it lies, for callers that do not care about the levels above. */
  public List<RecoveredTask> allTasks() {
    return frameworks.values().stream()
        .flatMap(f -> f.executors().values().stream())
        .flatMap(e -> e.runs().values().stream())
        .flatMap(r -> r.tasks().values().stream())
        .toList();
  }

  static <V> Map<String, V> frozen(Map<String, V> map) {
    return Collections.unmodifiableMap(new LinkedHashMap<>(new TreeMap<>(map)));
  }
}
