package io.kmesos.framework;

import io.grpc.Metadata;
import io.grpc.Status;

/**
 * The {@code kmesos-leader} trailer: a standby (or a master that lost the Lease) answers every call
 * UNAVAILABLE with the leader's host:port there when it knows it.
 */
public final class LeaderHint {
  public static final Metadata.Key<String> KEY =
      Metadata.Key.of("kmesos-leader", Metadata.ASCII_STRING_MARSHALLER);

  private LeaderHint() {}

  /** The leader a failed call points to, or null: only an UNAVAILABLE answer carries one. */
  public static String of(Throwable failure) {
    Status status = Status.fromThrowable(failure);
    if (status.getCode() != Status.Code.UNAVAILABLE) {
      return null;
    }
    Metadata trailers = Status.trailersFromThrowable(failure);
    if (trailers == null) {
      return null;
    }
    String leader = trailers.get(KEY);
    if (leader == null || leader.isBlank()) {
      return null;
    }
    try {
      return MasterAddresses.check(leader.strip());
    } catch (IllegalArgumentException e) {
      return null; // a malformed hint is no hint; the list is still tried
    }
  }
}
