package io.kmesos.replica.server;

import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.MutualTls;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * How every node of the log reaches a replica: one mutual-TLS gRPC channel per replica address (the
 * replica must prove the replica identity; we present our own certificate), which reconnects within
 * {@link #MAX_RECONNECT_BACKOFF} of a replica coming back.
 */
public final class Transport {
  /**
   * The largest message a node of the log sends or accepts. Writers split their batches well below
   * it ({@code Coordinator.Config#maxBatchBytes}); it leaves room for a large single entry (a
   * registry snapshot) and for fetch answers of many entries.
   */
  public static final int MAX_MESSAGE_BYTES = 64 << 20;

  /**
   * The longest a channel waits between two attempts to reach a replica that is down. gRPC's own
   * back-off grows towards 120 s, which suits a client of many servers; a log has a few known
   * replicas, and a writer's election or a peer's catch-up must see a restarted replica at once, so
   * a channel in TRANSIENT_FAILURE has its back-off reset this often (one connection attempt per
   * second per channel to a replica that is down costs nothing). gRPC offers no public setting for
   * the back-off's maximum, so this is done from outside.
   */
  public static final Duration MAX_RECONNECT_BACKOFF = Duration.ofSeconds(1);

  /**
   * How fast a request's time budget grows with its size: what a slow, busy disk syncs in a second.
   * A write carrying a 12 MiB entry must be received, parsed and fsync'd before its answer; on a
   * loaded machine with a contended disk that alone took longer than the 2 s every small request
   * gets, so every attempt expired and the entry never committed.
   */
  static final long SLOW_DISK_BYTES_PER_SECOND = 4L << 20;

  /**
   * The most a request's budget grows: requests above 16 MiB get no more time than one of 16 MiB.
   */
  static final Duration MAX_SIZE_ALLOWANCE = Duration.ofSeconds(4);

  /**
   * How long a request of {@code bytes} may take from its sending to its answer, {@code base} for
   * the smallest: the client's deadline, and the most a replica lets it wait before it is refused.
   * It is bounded ({@code base + MAX_SIZE_ALLOWANCE}) because a recovering replica's grace period
   * must outlast every request ({@link ReplicaServer.Config#longestRequestAge()}).
   */
  public static Duration budget(Duration base, long bytes) {
    long allowance =
        bytes >= MAX_SIZE_ALLOWANCE.toSeconds() * SLOW_DISK_BYTES_PER_SECOND
            ? MAX_SIZE_ALLOWANCE.toMillis()
            : bytes * 1000 / SLOW_DISK_BYTES_PER_SECOND;
    return base.plusMillis(allowance);
  }

  private static final ScheduledExecutorService RECONNECTS =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "transport-reconnect");
            t.setDaemon(true);
            return t;
          });

  private Transport() {}

  /**
   * Answers only enqueue work for a single-threaded loop: they run on the I/O thread, no hand-off.
   */
  public static ManagedChannel channel(String hostPort, MutualTls tls) {
    ManagedChannel channel =
        NettyChannelBuilder.forTarget(hostPort, tls.channelCredentials(Identity.REPLICA))
            .directExecutor()
            .maxInboundMessageSize(MAX_MESSAGE_BYTES)
            .build();
    boundBackoff(channel, MAX_RECONNECT_BACKOFF);
    // Connect (TCP and the TLS handshake) now, not within the first call's deadline: a new
    // process's first handshake loads and warms the TLS code, seconds on a busy machine.
    channel.getState(true);
    return channel;
  }

  /**
   * Reconnects {@code channel} at once if it is waiting out a back-off (e.g. when an election
   * starts).
   */
  public static void reconnectNow(ManagedChannel channel) {
    if (channel.getState(false) == ConnectivityState.TRANSIENT_FAILURE) {
      channel.resetConnectBackoff();
    }
  }

  /**
   * Checks {@code channel} every {@code max}; one waiting out a back-off reconnects now. Polled,
   * not driven by state changes: gRPC's pick-first stays in TRANSIENT_FAILURE through its later
   * attempts, so no change would announce them. Stops once the channel is shut down.
   */
  static void boundBackoff(ManagedChannel channel, Duration max) {
    AtomicReference<ScheduledFuture<?>> self = new AtomicReference<>();
    self.set(
        RECONNECTS.scheduleWithFixedDelay(
            () -> {
              if (channel.isShutdown()) {
                ScheduledFuture<?> f = self.get();
                if (f != null) {
                  f.cancel(false);
                }
                return;
              }
              reconnectNow(channel);
            },
            max.toMillis(),
            max.toMillis(),
            TimeUnit.MILLISECONDS));
  }
}
