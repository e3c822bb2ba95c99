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
 * @param agentPingTimeout an agent that answered no ping for this long is taken as disconnected:
 *     its session ends and the core hears agentDisconnected; more than the ping interval
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
    if (agentPingTimeout.compareTo(agentPingInterval) <= 0) {
      throw new IllegalArgumentException(
          "the agent ping timeout ("
              + agentPingTimeout
              + ") must be longer than the agent ping interval ("
              + agentPingInterval
              + ")");
    }
    if (streamQueueLimit < 1) {
      throw new IllegalArgumentException(
          "the stream queue limit must be positive, not " + streamQueueLimit);
    }
  }

  /**
   * Mesos's defaults: port 5050 on all interfaces, allocation every second, no offer timeout,
   * heartbeats and pings every 15 s, an agent taken as disconnected after 75 s without a pong
   * (Mesos: 5 missed pings of 15 s), 10,000 queued messages per stream.
   */
  public static MasterServerSettings defaults() {
    return new MasterServerSettings(
        "0.0.0.0",
        DEFAULT_PORT,
        Duration.ofSeconds(1),
        null,
        Duration.ofSeconds(15),
        Duration.ofSeconds(15),
        Duration.ofSeconds(75),
        10_000);
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
        streamQueueLimit);
  }

  public MasterServerSettings withAgentPing(Duration interval, Duration timeout) {
    return new MasterServerSettings(
        listenHost,
        port,
        allocationInterval,
        offerTimeout,
        heartbeatInterval,
        interval,
        timeout,
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
        limit);
  }

  private static void positive(String setting, Duration d) {
    Objects.requireNonNull(d, setting);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException("the " + setting + " must be positive, not " + d);
    }
  }
}
