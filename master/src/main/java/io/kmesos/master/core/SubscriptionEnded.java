package io.kmesos.master.core;

import java.util.Objects;

/**
 * The core ended a framework's subscription: the shell completes the stream {@code streamId} after
 * writing the events of the same {@link Effects} (the last of which, for that stream, is an {@code
 * error} event saying why).
 */
public record SubscriptionEnded(String frameworkId, String streamId, Why why) {
  /** Why the subscription ended. */
  public enum Why {
    /** The framework subscribed again (scheduler failover); it keeps its tasks. */
    SUPERSEDED,
    /** The framework was torn down (Teardown). */
    TORN_DOWN
  }

  public SubscriptionEnded {
    Objects.requireNonNull(frameworkId, "frameworkId");
    Objects.requireNonNull(streamId, "streamId");
    Objects.requireNonNull(why, "why");
  }
}
