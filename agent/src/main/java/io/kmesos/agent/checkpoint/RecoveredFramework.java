package io.kmesos.agent.checkpoint;

import io.kmesos.api.v1.FrameworkInfo;
import java.util.Map;

/**
 * A framework and its executors.
 *
 * @param executors by executor ID, in ID order
 */
public record RecoveredFramework(
    String id, FrameworkInfo info, Map<String, RecoveredExecutor> executors) {
  public RecoveredFramework {
    executors = RecoveredAgent.frozen(executors);
  }
}
