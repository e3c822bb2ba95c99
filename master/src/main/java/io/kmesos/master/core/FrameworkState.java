package io.kmesos.master.core;

import io.kmesos.api.registry.v1.Framework;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.master.allocator.Allocator;
import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * What the master holds of one framework: its info (ID and principal set by the master), its
 * current subscription if any, and the times that drive heartbeats and the failover timeout.
 * Mutable, owned by {@link FrameworkRegistry}.
 */
final class FrameworkState {
  final String id;
  FrameworkInfo info;

  /** The current subscription's stream ID; null while disconnected (or recovered). */
  String streamId;

  /** When the current subscription last got an event (for heartbeats). */
  Instant lastEventAt;

  /**
   * While disconnected after a subscription, or recovered from the registry: when its failover
   * timeout expires.
   */
  Instant failoverDeadline;

  /**
   * Known only from the registry or from agents' re-registrations: it has not subscribed to this
   * master yet.
   */
  boolean recovered;

  /** What the registry holds of it (as last written or recovered); null if nothing. */
  Framework record;

  /** When it first subscribed to this master; null while recovered. */
  Instant registeredAt;

  FrameworkState(FrameworkInfo info) {
    this.id = info.getId();
    this.info = info;
  }

  boolean connected() {
    return streamId != null;
  }

  /** Its roles, sorted; {@link Allocator#DEFAULT_ROLE} when its info names none. */
  SortedSet<String> roles() {
    return rolesOf(info);
  }

  static SortedSet<String> rolesOf(FrameworkInfo info) {
    TreeSet<String> roles = new TreeSet<>(info.getRolesList());
    if (roles.isEmpty()) {
      roles.add(Allocator.DEFAULT_ROLE);
    }
    return Collections.unmodifiableSortedSet(roles);
  }

  boolean partitionAware() {
    return info.getCapabilitiesList().contains(FrameworkInfo.Capability.PARTITION_AWARE);
  }

  Duration failoverTimeout() {
    if (!info.hasFailoverTimeout()) {
      return Duration.ZERO;
    }
    Duration d =
        Duration.ofSeconds(
            info.getFailoverTimeout().getSeconds(), info.getFailoverTimeout().getNanos());
    return d.isNegative() ? Duration.ZERO : d;
  }
}
