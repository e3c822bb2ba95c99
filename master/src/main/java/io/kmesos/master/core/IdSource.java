package io.kmesos.master.core;

import java.util.Objects;

/**
 * Where the core gets the IDs it assigns. The core asks for them in a deterministic order, so a
 * deterministic source (such as {@link #sequential}) makes the whole core deterministic. A shell
 * may hand out unguessable stream IDs instead (they name subscriptions, as Mesos's
 * Mesos-Stream-Id), at the cost of determinism for those alone.
 */
public interface IdSource {
  /** A new framework's ID: never returned before, by this master or an earlier one. */
  String frameworkId();

  /** A new subscription's stream ID: never returned before. */
  String streamId();

  /** A new offer's ID: never returned before. */
  String offerId();

  /**
   * IDs as Mesos forms them from the master's run ID ({@code MasterInfo.id}, unique per master
   * run): {@code <prefix>-0000}, {@code <prefix>-0001}, ... for frameworks, {@code <prefix>-O0},
   * ... for offers and {@code <prefix>-S0}, ... for streams.
   */
  static IdSource sequential(String prefix) {
    Objects.requireNonNull(prefix, "prefix");
    if (prefix.isEmpty() || prefix.contains("/")) {
      throw new IllegalArgumentException("an ID prefix must be non-empty, without '/'");
    }
    return new IdSource() {
      private long frameworks;
      private long streams;
      private long offers;

      @Override
      public String frameworkId() {
        return String.format("%s-%04d", prefix, frameworks++);
      }

      @Override
      public String streamId() {
        return prefix + "-S" + streams++;
      }

      @Override
      public String offerId() {
        return prefix + "-O" + offers++;
      }
    };
  }
}
