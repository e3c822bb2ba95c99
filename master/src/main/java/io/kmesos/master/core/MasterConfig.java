package io.kmesos.master.core;

import io.kmesos.api.v1.MasterInfo;
import io.kmesos.master.allocator.Allocator;
import java.time.Duration;
import java.util.Objects;

/**
 * The core's settings. Durations are compared with the {@code now} of each input; the core never
 * reads a clock.
 *
 * @param masterInfo this master run, as frameworks and agents are told of it
 * @param heartbeatInterval a subscription that got no event for this long gets a heartbeat on the
 *     next {@link MasterCore#tick} (Mesos: 15 s); the shell ticks often enough for it
 * @param agentPingInterval told to agents in (re)registered; the shell pings them
 * @param offerTimeout an offer not answered within this is rescinded on the next tick (Mesos's
 *     {@code --offer_timeout}); null: never
 * @param allocator the allocator's own settings
 */
public record MasterConfig(
    MasterInfo masterInfo,
    Duration heartbeatInterval,
    Duration agentPingInterval,
    Duration offerTimeout,
    Allocator.Config allocator) {

  public MasterConfig {
    Objects.requireNonNull(masterInfo, "masterInfo");
    positive("heartbeatInterval", heartbeatInterval);
    positive("agentPingInterval", agentPingInterval);
    if (offerTimeout != null) {
      positive("offerTimeout", offerTimeout);
    }
    Objects.requireNonNull(allocator, "allocator");
  }

  /** Mesos's defaults: heartbeats every 15 s, no offer timeout; agents pinged every 15 s. */
  public static MasterConfig defaults(MasterInfo masterInfo) {
    return new MasterConfig(
        masterInfo,
        Duration.ofSeconds(15),
        Duration.ofSeconds(15),
        null,
        Allocator.Config.defaults());
  }

  public MasterConfig withOfferTimeout(Duration timeout) {
    return new MasterConfig(masterInfo, heartbeatInterval, agentPingInterval, timeout, allocator);
  }

  private static void positive(String setting, Duration d) {
    Objects.requireNonNull(d, setting);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(setting + " must be positive, got " + d);
    }
  }
}
