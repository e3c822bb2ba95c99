package io.kmesos.framework;

import io.grpc.ChannelCredentials;
import io.kmesos.api.v1.FrameworkInfo;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * What a {@link FrameworkClient} needs, validated.
 *
 * @param masters where the masters are (host:port), tried in turn
 * @param framework what the framework subscribes as; its {@code id} set to come back as an existing
 *     framework
 * @param credentials TLS towards the master (normally {@code ServerTrust.channelCredentials()}:
 *     verifies spiffe://kmesos/controller, presents no certificate)
 * @param tokenFile the bearer token, read again on every (re)subscription
 * @param suppressedRoles roles to subscribe suppressed (no offers until a Revive)
 * @param heartbeatMisses how many heartbeat intervals without any event mean the connection is dead
 *     (Mesos suggests 5)
 * @param subscribeTimeout how long to wait for a master's first answer to Subscribe
 * @param callTimeout the deadline of each unary call
 * @param explicitAcknowledgements false (the default): the client acknowledges an update after
 *     {@link Scheduler#update} returns; true: the framework calls {@link
 *     FrameworkClient#acknowledge} itself (e.g. after it persisted the state)
 */
public record FrameworkSettings(
    List<String> masters,
    FrameworkInfo framework,
    ChannelCredentials credentials,
    Path tokenFile,
    List<String> suppressedRoles,
    int heartbeatMisses,
    Duration subscribeTimeout,
    Duration callTimeout,
    boolean explicitAcknowledgements) {
  /** The interval assumed when the master does not say one. */
  public static final Duration DEFAULT_HEARTBEAT = Duration.ofSeconds(15);

  public FrameworkSettings {
    Objects.requireNonNull(credentials, "credentials");
    Objects.requireNonNull(tokenFile, "tokenFile");
    Objects.requireNonNull(framework, "framework");
    if (masters == null || masters.isEmpty()) {
      throw new IllegalArgumentException("a framework needs at least one master address");
    }
    masters = List.copyOf(masters);
    masters.forEach(MasterAddresses::check);
    suppressedRoles = suppressedRoles == null ? List.of() : List.copyOf(suppressedRoles);
    if (heartbeatMisses < 1) {
      throw new IllegalArgumentException(
          "heartbeat misses must be at least 1, not " + heartbeatMisses);
    }
    for (Duration d : new Duration[] {subscribeTimeout, callTimeout}) {
      if (d == null || d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException("timeouts must be positive, not " + d);
      }
    }
    if (framework.getName().isBlank()) {
      throw new IllegalArgumentException("a framework needs a name");
    }
  }

  /**
   * The usual settings: 5 heartbeats, 20 s to subscribe, 30 s per call, automatic acknowledgements.
   */
  public static FrameworkSettings of(
      List<String> masters,
      FrameworkInfo framework,
      ChannelCredentials credentials,
      Path tokenFile) {
    return new FrameworkSettings(
        masters,
        framework,
        credentials,
        tokenFile,
        List.of(),
        5,
        Duration.ofSeconds(20),
        Duration.ofSeconds(30),
        false);
  }

  public FrameworkSettings withSuppressedRoles(List<String> roles) {
    return new FrameworkSettings(
        masters,
        framework,
        credentials,
        tokenFile,
        roles,
        heartbeatMisses,
        subscribeTimeout,
        callTimeout,
        explicitAcknowledgements);
  }

  public FrameworkSettings withTimeouts(
      int heartbeatMisses, Duration subscribeTimeout, Duration callTimeout) {
    return new FrameworkSettings(
        masters,
        framework,
        credentials,
        tokenFile,
        suppressedRoles,
        heartbeatMisses,
        subscribeTimeout,
        callTimeout,
        explicitAcknowledgements);
  }

  public FrameworkSettings withExplicitAcknowledgements(boolean explicit) {
    return new FrameworkSettings(
        masters,
        framework,
        credentials,
        tokenFile,
        suppressedRoles,
        heartbeatMisses,
        subscribeTimeout,
        callTimeout,
        explicit);
  }
}
