package io.kmesos.master.server;

import java.time.Duration;
import java.util.Objects;

/**
 * The settings of the master's gRPC port and of its event loop, validated when made (a one-line
 * IllegalArgumentException naming the setting).
 *
 * @param listenHost where the port listens ("0.0.0.0" in a pod, "127.0.0.1" in tests)
 * @param port the port (5050 by default; 0 picks a free one)
 * @param allocationInterval how often the loop ticks the core: offers, offer and failover timeouts,
 *     heartbeats (Mesos's {@code --allocation_interval}); it also ticks soon after any input that
 *     may free or add resources
 * @param offerTimeout an offer not answered within this is rescinded (Mesos's {@code
 *     --offer_timeout}); null: never
 * @param heartbeatInterval a subscription that got no event for this long gets a heartbeat
 * @param agentPingInterval how often the master pings each agent session
 * @param agentPingTimeout how long one ping waits for its pong (Mesos's {@code
 *     --agent_ping_timeout}); at least the ping interval
 * @param maxAgentPingTimeouts after this many ping timeouts in a row (Mesos's {@code
 *     --max_agent_ping_timeouts}), that is {@link #agentUnreachableTimeout()} without a word from
 *     the agent, its session (if any) ends and the agent is marked unreachable in the registry
 * @param agentReregisterTimeout after a failover, an agent the registry admits that has not
 *     re-registered within this is marked unreachable (Mesos's {@code --agent_reregister_timeout})
 * @param agentRecoveryFactor after a failover, no offers until this fraction (0..1) of the admitted
 *     agents re-registered ...
 * @param allocationHoldOff ... or this long passed (zero: offers at once)
 * @param streamQueueLimit the most messages waiting for one slow stream (a framework's
 *     subscription, an agent's session); past it that stream alone ends with RESOURCE_EXHAUSTED
 */
public record MasterServerSettings(
    String listenHost,
    int port,
    Duration allocationInterval,
    Duration offerTimeout,
    Duration heartbeatInterval,
    Duration agentPingInterval,
    Duration agentPingTimeout,
    int maxAgentPingTimeouts,
    Duration agentReregisterTimeout,
    double agentRecoveryFactor,
    Duration allocationHoldOff,
    int streamQueueLimit) {

  public static final int DEFAULT_PORT = 5050;

  public MasterServerSettings {
    if (listenHost == null || listenHost.isBlank()) {
      throw new IllegalArgumentException("the master's listen host must be given");
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("the master's port must be 0..65535, not " + port);
    }
    positive("allocation interval", allocationInterval);
    if (offerTimeout != null) {
      positive("offer timeout", offerTimeout);
    }
    positive("heartbeat interval", heartbeatInterval);
    positive("agent ping interval", agentPingInterval);
    positive("agent ping timeout", agentPingTimeout);
    if (agentPingTimeout.compareTo(agentPingInterval) < 0) {
      throw new IllegalArgumentException(
          "the agent ping timeout ("
              + agentPingTimeout
              + ") must not be shorter than the agent ping interval ("
              + agentPingInterval
              + ")");
    }
    if (maxAgentPingTimeouts < 1) {
      throw new IllegalArgumentException(
          "the most agent ping timeouts must be at least 1, not " + maxAgentPingTimeouts);
    }
    positive("agent re-register timeout", agentReregisterTimeout);
    if (!(agentRecoveryFactor >= 0 && agentRecoveryFactor <= 1)) {
      throw new IllegalArgumentException(
          "the agent recovery factor must be between 0 and 1, not " + agentRecoveryFactor);
    }
    Objects.requireNonNull(allocationHoldOff, "allocation hold-off");
    if (allocationHoldOff.isNegative()) {
      throw new IllegalArgumentException(
          "the allocation hold-off must not be negative, not " + allocationHoldOff);
    }
    if (streamQueueLimit < 1) {
      throw new IllegalArgumentException(
          "the stream queue limit must be positive, not " + streamQueueLimit);
    }
  }

  /**
   * Mesos's defaults: port 5050 on all interfaces, allocation every second, no offer timeout,
   * heartbeats and pings every 15 s, an agent marked unreachable after 5 ping timeouts of 15 s,
   * agents given 10 minutes to re-register after a failover, offers held after a failover until 80
   * % of the agents are back or 10 minutes passed, 10,000 queued messages per stream.
   */
  public static MasterServerSettings defaults() {
    return new MasterServerSettings(
        "0.0.0.0",
        DEFAULT_PORT,
        Duration.ofSeconds(1),
        null,
        Duration.ofSeconds(15),
        Duration.ofSeconds(15),
        Duration.ofSeconds(15),
        5,
        Duration.ofMinutes(10),
        0.8,
        Duration.ofMinutes(10),
        10_000);
  }

  /**
   * How long an agent may say nothing (no pong, no message; with or without a session) before it is
   * marked unreachable: the ping timeout times the most ping timeouts.
   */
  public Duration agentUnreachableTimeout() {
    return agentPingTimeout.multipliedBy(maxAgentPingTimeouts);
  }

  public MasterServerSettings withListen(String host, int port) {
    return new MasterServerSettings(
        host,
        port,
        allocationInterval,
        offerTimeout,
        heartbeatInterval,
        agentPingInterval,
        agentPingTimeout,
        maxAgentPingTimeouts,
        agentReregisterTimeout,
        agentRecoveryFactor,
        allocationHoldOff,
        streamQueueLimit);
  }

  public MasterServerSettings withAllocationInterval(Duration d) {
    return new MasterServerSettings(
        listenHost,
        port,
        d,
        offerTimeout,
        heartbeatInterval,
        agentPingInterval,
        agentPingTimeout,
        maxAgentPingTimeouts,
        agentReregisterTimeout,
        agentRecoveryFactor,
        allocationHoldOff,
        streamQueueLimit);
  }

  public MasterServerSettings withOfferTimeout(Duration d) {
    return new MasterServerSettings(
        listenHost,
        port,
        allocationInterval,
        d,
        heartbeatInterval,
        agentPingInterval,
        agentPingTimeout,
        maxAgentPingTimeouts,
        agentReregisterTimeout,
        agentRecoveryFactor,
        allocationHoldOff,
        streamQueueLimit);
  }

  public MasterServerSettings withHeartbeatInterval(Duration d) {
    return new MasterServerSettings(
        listenHost,
        port,
        allocationInterval,
        offerTimeout,
        d,
        agentPingInterval,
        agentPingTimeout,
        maxAgentPingTimeouts,
        agentReregisterTimeout,
        agentRecoveryFactor,
        allocationHoldOff,
        streamQueueLimit);
  }

  /** Pings every {@code interval}; each waits {@code timeout} for its pong. */
  public MasterServerSettings withAgentPing(Duration interval, Duration timeout) {
    return withAgentPing(interval, timeout, maxAgentPingTimeouts);
  }

  /** ... and the agent is unreachable after {@code maxTimeouts} of them in a row. */
  public MasterServerSettings withAgentPing(Duration interval, Duration timeout, int maxTimeouts) {
    return new MasterServerSettings(
        listenHost,
        port,
        allocationInterval,
        offerTimeout,
        heartbeatInterval,
        interval,
        timeout,
        maxTimeouts,
        agentReregisterTimeout,
        agentRecoveryFactor,
        allocationHoldOff,
        streamQueueLimit);
  }

  /** After a failover: the re-register timeout, and how offers wait for the agents. */
  public MasterServerSettings withFailover(
      Duration reregisterTimeout, double recoveryFactor, Duration holdOff) {
    return new MasterServerSettings(
        listenHost,
        port,
        allocationInterval,
        offerTimeout,
        heartbeatInterval,
        agentPingInterval,
        agentPingTimeout,
        maxAgentPingTimeouts,
        reregisterTimeout,
        recoveryFactor,
        holdOff,
        streamQueueLimit);
  }

  public MasterServerSettings withStreamQueueLimit(int limit) {
    return new MasterServerSettings(
        listenHost,
        port,
        allocationInterval,
        offerTimeout,
        heartbeatInterval,
        agentPingInterval,
        agentPingTimeout,
        maxAgentPingTimeouts,
        agentReregisterTimeout,
        agentRecoveryFactor,
        allocationHoldOff,
        limit);
  }

  private static void positive(String setting, Duration d) {
    Objects.requireNonNull(d, setting);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException("the " + setting + " must be positive, not " + d);
    }
  }
}
