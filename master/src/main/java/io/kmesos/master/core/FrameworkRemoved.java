package io.kmesos.master.core;

import java.util.Objects;

/**
 * A framework is gone for good (for the shell's log): its tasks were killed (the agents holding
 * them got shutdown_framework), its offers rescinded, and its ID can never subscribe again.
 */
public record FrameworkRemoved(String frameworkId, Why why) {
  public enum Why {
    /** It called Teardown. */
    TORN_DOWN,
    /** Its subscription ended and it did not subscribe again within its failover timeout. */
    FAILOVER_TIMEOUT_EXPIRED
  }

  public FrameworkRemoved {
    Objects.requireNonNull(frameworkId, "frameworkId");
    Objects.requireNonNull(why, "why");
  }
}
