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
 * @param recoveredFrameworkGrace after a master failover, the least time a framework recovered from
 *     the registry has to subscribe again before its failover timeout may remove it: no framework
 *     can subscribe while no master leads (zero: none; default 10 minutes, as Mesos's {@code
 *     --agent_reregister_timeout} gives agents)
 */
public record MasterConfig(
    MasterInfo masterInfo,
    Duration heartbeatInterval,
    Duration agentPingInterval,
    Duration offerTimeout,
    Allocator.Config allocator,
    Duration recoveredFrameworkGrace) {

  /** The default {@link #recoveredFrameworkGrace}. */
  public static final Duration RECOVERED_FRAMEWORK_GRACE = Duration.ofMinutes(10);

  public MasterConfig {
    Objects.requireNonNull(masterInfo, "masterInfo");
    positive("heartbeatInterval", heartbeatInterval);
    positive("agentPingInterval", agentPingInterval);
    if (offerTimeout != null) {
      positive("offerTimeout", offerTimeout);
    }
    Objects.requireNonNull(allocator, "allocator");
    Objects.requireNonNull(recoveredFrameworkGrace, "recoveredFrameworkGrace");
    if (recoveredFrameworkGrace.isNegative()) {
      throw new IllegalArgumentException(
          "recoveredFrameworkGrace must not be negative, got " + recoveredFrameworkGrace);
    }
  }

  /** The settings with the default {@link #recoveredFrameworkGrace}. */
  public MasterConfig(
      MasterInfo masterInfo,
      Duration heartbeatInterval,
      Duration agentPingInterval,
      Duration offerTimeout,
      Allocator.Config allocator) {
    this(
        masterInfo,
        heartbeatInterval,
        agentPingInterval,
        offerTimeout,
        allocator,
        RECOVERED_FRAMEWORK_GRACE);
  }

  /**
   * Mesos's defaults: heartbeats every 15 s, no offer timeout; agents pinged every 15 s; recovered
   * frameworks get at least 10 minutes.
   */
  public static MasterConfig defaults(MasterInfo masterInfo) {
    return new MasterConfig(
        masterInfo,
        Duration.ofSeconds(15),
        Duration.ofSeconds(15),
        null,
        Allocator.Config.defaults());
  }

  public MasterConfig withOfferTimeout(Duration timeout) {
    return new MasterConfig(
        masterInfo,
        heartbeatInterval,
        agentPingInterval,
        timeout,
        allocator,
        recoveredFrameworkGrace);
  }

  public MasterConfig withRecoveredFrameworkGrace(Duration grace) {
    return new MasterConfig(
        masterInfo, heartbeatInterval, agentPingInterval, offerTimeout, allocator, grace);
  }

  private static void positive(String setting, Duration d) {
    Objects.requireNonNull(d, setting);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(setting + " must be positive, got " + d);
    }
  }
}
