package io.kmesos.agent.updates;

import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/** Runs something after a delay; a seam so that retries can be tested without waiting. */
public interface RetryTimer {
  /** A scheduled run that can be called off. */
  interface Scheduled {
    void cancel();
  }

  Scheduled schedule(Duration delay, Runnable task);

  static RetryTimer of(ScheduledExecutorService executor) {
    return (delay, task) -> {
      var future = executor.schedule(task, delay.toNanos(), TimeUnit.NANOSECONDS);
      return () -> future.cancel(false);
    };
  }
}
