package io.kmesos.replica.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.grpc.netty.shaded.io.netty.handler.ssl.util.SelfSignedCertificate;
import io.kmesos.api.InfoService;
import io.kmesos.api.cli.Failures;
import io.kmesos.api.v1.GetBuildInfoRequest;
import io.kmesos.api.v1.InfoGrpc;
import io.kmesos.replica.client.Log;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * How channels to replicas behave towards a replica that is down for long, and what a client
 * reports for a TLS mismatch. Real Netty servers and sockets on 127.0.0.1, in this JVM.
 */
class TransportTest {
  /** Accepts connections and closes them at once: a port where no replica answers, counting attempts. */
  static final class Refuser implements AutoCloseable {
    final ServerSocket socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    final AtomicInteger attempts = new AtomicInteger();
    final Thread thread = new Thread(() -> {
      while (!socket.isClosed()) {
        try (Socket s = socket.accept()) {
          attempts.incrementAndGet();
        } catch (IOException closed) {
          return;
        }
      }
    }, "refuser");

    Refuser() throws IOException {
      thread.setDaemon(true);
      thread.start();
    }

    int port() {
      return socket.getLocalPort();
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  @Test
  void aChannelToAReplicaThatWasDownForLongReconnectsOnceItIsBack() throws Exception {
    Refuser down = new Refuser();
    int port = down.port();
    ManagedChannel channel = Transport.channel("127.0.0.1:" + port);
    try {
      channel.getState(true); // connect, as a first call would
      // Down for long: gRPC's own back-off (1 s, growing by 1.6 up to 120 s) allows at most 9
      // attempts in 90 s (the tenth comes after at least 0.8 x 112.8 s); a bounded one keeps trying.
      await().atMost(Duration.ofSeconds(90)).until(() -> down.attempts.get() >= 10);
      down.close();
      Server replica = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", port))
          .addService(new InfoService("replica")).build().start();
      try {
        // Back: the same channel reaches it without anyone resetting it.
        // (gRPC's own next attempt would come at least 88 s later: 0.8 x 1.6^10 s.)
        await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> InfoGrpc.newBlockingStub(channel)
            .withDeadlineAfter(2, TimeUnit.SECONDS).getBuildInfo(GetBuildInfoRequest.getDefaultInstance()).getComponent().equals("replica"));
      } finally {
        replica.shutdownNow();
      }
    } finally {
      channel.shutdownNow();
      down.close();
    }
  }

  @Test
  void aTlsMismatchIsReportedAsSuch() throws Exception {
    SelfSignedCertificate cert = new SelfSignedCertificate("localhost");
    Server tls = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .sslContext(GrpcSslContexts.forServer(cert.certificate(), cert.privateKey()).build())
        .addService(new InfoService("replica")).build().start();
    Server plaintext = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new InfoService("replica")).build().start();
    ManagedChannel tlsClient = NettyChannelBuilder.forTarget("127.0.0.1:" + plaintext.getPort())
        .sslContext(GrpcSslContexts.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE).build()).build();
    ManagedChannel untrusting = NettyChannelBuilder.forTarget("127.0.0.1:" + tls.getPort())
        .sslContext(GrpcSslContexts.forClient().build()).build();
    try (Log log = new Log(List.of("127.0.0.1:" + tls.getPort()))) {
      // What kmesos-log status says of a replica that speaks TLS (our clients speak plaintext today).
      assertThat(log.reader().status().get(0).error())
          .isEqualTo("the connection was closed without an answer (a TLS port, or not a kmesos server?)");
      // A TLS client at a plaintext replica, and one that does not trust the replica's certificate.
      assertThatThrownBy(() -> InfoGrpc.newBlockingStub(tlsClient).withDeadlineAfter(10, TimeUnit.SECONDS)
          .getBuildInfo(GetBuildInfoRequest.getDefaultInstance()))
          .satisfies(e -> assertThat(Failures.reason(e)).isEqualTo("TLS handshake failed: the server does not speak TLS"));
      assertThatThrownBy(() -> InfoGrpc.newBlockingStub(untrusting).withDeadlineAfter(10, TimeUnit.SECONDS)
          .getBuildInfo(GetBuildInfoRequest.getDefaultInstance()))
          .satisfies(e -> assertThat(Failures.reason(e)).startsWith("TLS handshake failed: ")
              .contains("unable to find valid certification path"));
    } finally {
      tlsClient.shutdownNow();
      untrusting.shutdownNow();
      tls.shutdownNow();
      plaintext.shutdownNow();
    }
  }

  @Test
  void aRefusedConnectionIsReportedAsSuch() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 0, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    // A refusal comes at once; the long timeout only keeps a loaded machine's slow first
    // connection attempt from being reported as a timeout instead.
    try (Log log = new Log(List.of("127.0.0.1:" + port), Duration.ofSeconds(30))) {
      assertThat(log.reader().status().get(0).error()).isEqualTo("connection refused");
    }
  }

  @Test
  void aLargeRequestGetsMoreTimeButNoRequestOutlivesTheRecoveryGrace() {
    Duration base = Duration.ofSeconds(2);
    assertThat(Transport.budget(base, 200)).isEqualTo(base);
    assertThat(Transport.budget(base, 12 << 20)).as("a write with the largest entry").isEqualTo(Duration.ofSeconds(5));
    assertThat(Transport.budget(base, 64L << 20)).isEqualTo(Transport.budget(base, Long.MAX_VALUE))
        .isEqualTo(base.plus(Transport.MAX_SIZE_ALLOWANCE));
    // The grace a recovering replica waits outlasts the longest a request may live in a replica.
    ReplicaServer.Config config = ReplicaServer.Config.of(0, List.of("127.0.0.1:1"), java.nio.file.Path.of("unused"));
    long graceMillis = config.core().recoveryGraceTicks() * config.tick().toMillis();
    assertThat(graceMillis).isGreaterThan(config.longestRequestAge().toMillis())
        .isGreaterThan(Transport.budget(Log.REQUEST_DEADLINE, 12 << 20).toMillis());
  }
}
