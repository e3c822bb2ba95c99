package io.kmesos.agent.checkpoint;

import io.kmesos.api.agent.v1.RunCompletedRecord;
import io.kmesos.api.agent.v1.RunProcessRecord;
import java.util.Map;
import java.util.Optional;

/**
 * One run of an executor.
 *
 * @param process its process, once it was checkpointed (absent if the agent stopped before, or its
 *     forked.pid was damaged and skipped)
 * @param completed present once the run ended and was reported: it only waits for garbage
 *     collection
 * @param tasks by task ID, in ID order
 */
public record RecoveredRun(
    String id,
    Optional<RunProcessRecord> process,
    Optional<RunCompletedRecord> completed,
    Map<String, RecoveredTask> tasks) {
  public RecoveredRun {
    tasks = RecoveredAgent.frozen(tasks);
  }
}
