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
 * @param agentRecoveryFactor after a master failover, offers wait until this fraction (0..1) of the
 *     agents the registry admitted re-registered (Mesos's allocator: 0.8) ...
 * @param allocationHoldOff ... or at most this long after the registry was recovered (Mesos: 10
 *     minutes); zero: no wait
 */
public record MasterConfig(
    MasterInfo masterInfo,
    Duration heartbeatInterval,
    Duration agentPingInterval,
    Duration offerTimeout,
    Allocator.Config allocator,
    Duration recoveredFrameworkGrace,
    double agentRecoveryFactor,
    Duration allocationHoldOff) {

  /** The default {@link #recoveredFrameworkGrace}. */
  public static final Duration RECOVERED_FRAMEWORK_GRACE = Duration.ofMinutes(10);

  /** The default {@link #agentRecoveryFactor}, Mesos's AGENT_RECOVERY_FACTOR. */
  public static final double AGENT_RECOVERY_FACTOR = 0.8;

  /** The default {@link #allocationHoldOff}, Mesos's ALLOCATION_HOLD_OFF_RECOVERY_TIMEOUT. */
  public static final Duration ALLOCATION_HOLD_OFF = Duration.ofMinutes(10);

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
    if (!(agentRecoveryFactor >= 0 && agentRecoveryFactor <= 1)) {
      throw new IllegalArgumentException(
          "agentRecoveryFactor must be between 0 and 1, got " + agentRecoveryFactor);
    }
    Objects.requireNonNull(allocationHoldOff, "allocationHoldOff");
    if (allocationHoldOff.isNegative()) {
      throw new IllegalArgumentException(
          "allocationHoldOff must not be negative, got " + allocationHoldOff);
    }
  }

  /** The settings with the default hold-off after a failover. */
  public MasterConfig(
      MasterInfo masterInfo,
      Duration heartbeatInterval,
      Duration agentPingInterval,
      Duration offerTimeout,
      Allocator.Config allocator,
      Duration recoveredFrameworkGrace) {
    this(
        masterInfo,
        heartbeatInterval,
        agentPingInterval,
        offerTimeout,
        allocator,
        recoveredFrameworkGrace,
        AGENT_RECOVERY_FACTOR,
        ALLOCATION_HOLD_OFF);
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
        recoveredFrameworkGrace,
        agentRecoveryFactor,
        allocationHoldOff);
  }

  public MasterConfig withRecoveredFrameworkGrace(Duration grace) {
    return new MasterConfig(
        masterInfo,
        heartbeatInterval,
        agentPingInterval,
        offerTimeout,
        allocator,
        grace,
        agentRecoveryFactor,
        allocationHoldOff);
  }

  /** After a failover, offers wait for {@code factor} of the agents, or {@code holdOff}. */
  public MasterConfig withAllocationHoldOff(double factor, Duration holdOff) {
    return new MasterConfig(
        masterInfo,
        heartbeatInterval,
        agentPingInterval,
        offerTimeout,
        allocator,
        recoveredFrameworkGrace,
        factor,
        holdOff);
  }

  private static void positive(String setting, Duration d) {
    Objects.requireNonNull(d, setting);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(setting + " must be positive, got " + d);
    }
  }
}
