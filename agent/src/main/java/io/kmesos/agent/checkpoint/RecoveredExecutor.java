package io.kmesos.agent.checkpoint;

import io.kmesos.api.agent.v1.ExecutorRecord;
import java.util.Map;
import java.util.Optional;

/**
 * An executor and its runs.
 *
 * @param latestRunId the run its {@code latest} pointer names, if it names one that was recovered
 * @param runs by run ID, in ID order
 */
public record RecoveredExecutor(
    String id, ExecutorRecord info, Optional<String> latestRunId, Map<String, RecoveredRun> runs) {
  public RecoveredExecutor {
    runs = RecoveredAgent.frozen(runs);
  }

  /** The current run; the others are earlier runs awaiting garbage collection. */
  public Optional<RecoveredRun> latestRun() {
    return latestRunId.map(runs::get);
  }
}
