package io.kmesos.replica.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.kmesos.api.InfoService;
import io.kmesos.api.tls.CertificateAuthority;
import io.kmesos.api.tls.CertificateDirectory;
import io.kmesos.api.tls.ClusterCertificates;
import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.MutualTls;
import io.kmesos.api.v1.GetBuildInfoRequest;
import io.kmesos.api.v1.InfoGrpc;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.local.LocalReplicas;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How channels to replicas behave towards a replica that is down for long, and what a client
 * reports for a TLS mismatch. Real Netty servers and sockets on 127.0.0.1, in this JVM, with
 * certificates of a CA made for this class.
 */
class TransportTest {
  @TempDir static Path certificates;
  static CertificateDirectory ca;
  static MutualTls admin;
  static MutualTls replica;

  @BeforeAll
  static void issue() {
    ca = new CertificateDirectory(certificates);
    LocalReplicas.issueCertificates(ca);
    admin = MutualTls.load(ca.settings(Identity.ADMIN));
    replica = MutualTls.load(ca.settings(Identity.REPLICA));
  }

  @AfterAll
  static void close() {
    admin.close();
    replica.close();
  }

  /** A replica-like TLS server on {@code port} (0: any) presenting {@code tls}'s certificate. */
  static Server tlsServer(int port, MutualTls tls) throws IOException {
    return NettyServerBuilder.forAddress(
            new InetSocketAddress("127.0.0.1", port), tls.serverCredentials())
        .intercept(MutualTls.identityCheck(ReplicaServer.CLIENTS))
        .addService(new InfoService("replica"))
        .build()
        .start();
  }

  /**
   * Accepts connections and closes them at once: a port where no replica answers, counting
   * attempts.
   */
  static final class Refuser implements AutoCloseable {
    final ServerSocket socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    final AtomicInteger attempts = new AtomicInteger();
    final Thread thread =
        new Thread(
            () -> {
              while (!socket.isClosed()) {
                try (Socket s = socket.accept()) {
                  attempts.incrementAndGet();
                } catch (IOException closed) {
                  return;
                }
              }
            },
            "refuser");

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
    ManagedChannel channel = Transport.channel("127.0.0.1:" + port, admin);
    try {
      channel.getState(true); // connect, as a first call would
      // Down for long: gRPC's own back-off (1 s, growing by 1.6 up to 120 s) allows at most 9
      // attempts in 90 s (the tenth comes after at least 0.8 x 112.8 s); a bounded one keeps
      // trying.
      await().atMost(Duration.ofSeconds(90)).until(() -> down.attempts.get() >= 10);
      down.close();
      Server replica = tlsServer(port, TransportTest.replica);
      try {
        // Back: the same channel reaches it without anyone resetting it.
        // (gRPC's own next attempt would come at least 88 s later: 0.8 x 1.6^10 s.)
        await()
            .atMost(Duration.ofSeconds(60))
            .ignoreExceptions()
            .until(
                () ->
                    InfoGrpc.newBlockingStub(channel)
                        .withDeadlineAfter(2, TimeUnit.SECONDS)
                        .getBuildInfo(GetBuildInfoRequest.getDefaultInstance())
                        .getComponent()
                        .equals("replica"));
      } finally {
        replica.shutdownNow();
      }
    } finally {
      channel.shutdownNow();
      down.close();
    }
  }

  @Test
  void aServerThatIsNotAReplicaOfTheClustersCaIsReportedAsSuch() throws Exception {
    Server plaintext =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
            .addService(new InfoService("replica"))
            .build()
            .start();
    CertificateAuthority foreign =
        CertificateAuthority.create("another CA", Instant.now(), Duration.ofDays(1));
    CertificateDirectory foreignDir = new CertificateDirectory(certificates.resolve("foreign"));
    CertificateAuthority.Issued impostor =
        foreign.issue(
            CertificateAuthority.Request.of(
                Identity.REPLICA, List.of(), Instant.now(), Duration.ofDays(1)));
    foreignDir.write(
        Identity.REPLICA,
        foreign.issued().certificatePem(),
        new ClusterCertificates.Material(impostor.certificatePem(), impostor.keyPem()));
    MutualTls foreignTls = MutualTls.load(foreignDir.settings(Identity.REPLICA));
    Server foreignReplica = tlsServer(0, foreignTls);
    // Our own CA's certificate, but a controller's: not what a client of the log means to reach.
    MutualTls controller = MutualTls.load(ca.settings(Identity.CONTROLLER));
    Server notAReplica = tlsServer(0, controller);
    // A replica's certificate naming no host at all: the identity is what clients check, not the
    // address.
    CertificateAuthority ours =
        CertificateAuthority.load(ca.readCa().certificatePem(), ca.readCa().keyPem());
    CertificateAuthority.Issued hostless =
        ours.issue(
            CertificateAuthority.Request.of(
                Identity.REPLICA, List.of(), Instant.now(), Duration.ofDays(1)));
    CertificateDirectory hostlessDir = new CertificateDirectory(certificates.resolve("hostless"));
    hostlessDir.write(
        Identity.REPLICA,
        ca.readCa().certificatePem(),
        new ClusterCertificates.Material(hostless.certificatePem(), hostless.keyPem()));
    MutualTls hostlessTls = MutualTls.load(hostlessDir.settings(Identity.REPLICA));
    Server hostlessReplica = tlsServer(0, hostlessTls);
    try (Log log =
        new Log(
            List.of(
                "127.0.0.1:" + plaintext.getPort(),
                "127.0.0.1:" + foreignReplica.getPort(),
                "127.0.0.1:" + notAReplica.getPort(),
                "127.0.0.1:" + hostlessReplica.getPort()),
            admin)) {
      var status = log.reader().status();
      assertThat(status.get(0).error())
          .isEqualTo("TLS handshake failed: the server does not speak TLS");
      assertThat(status.get(1).error())
          .startsWith("TLS handshake failed: ")
          .contains("unable to find valid certification path");
      assertThat(status.get(2).error())
          .isEqualTo(
              "TLS handshake failed: the server's certificate "
                  + "'CN=kmesos controller,O=kmesos' (URI names spiffe://kmesos/controller) is not a kmesos replica's "
                  + "(spiffe://kmesos/replica)");
      // The handshake and the server's identity check passed: the call reached the (Info-only)
      // server.
      assertThat(status.get(3).error()).isEqualTo("Method not found: kmesos.log.v1.Replica/Call");
    } finally {
      hostlessReplica.shutdownNow();
      hostlessTls.close();
      plaintext.shutdownNow();
      foreignReplica.shutdownNow();
      notAReplica.shutdownNow();
      foreignTls.close();
      controller.close();
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
    try (Log log = new Log(List.of("127.0.0.1:" + port), Duration.ofSeconds(30), admin)) {
      assertThat(log.reader().status().get(0).error()).isEqualTo("connection refused");
    }
  }

  @Test
  void aLargeRequestGetsMoreTimeButNoRequestOutlivesTheRecoveryGrace() {
    Duration base = Duration.ofSeconds(2);
    assertThat(Transport.budget(base, 200)).isEqualTo(base);
    assertThat(Transport.budget(base, 12 << 20))
        .as("a write with the largest entry")
        .isEqualTo(Duration.ofSeconds(5));
    assertThat(Transport.budget(base, 64L << 20))
        .isEqualTo(Transport.budget(base, Long.MAX_VALUE))
        .isEqualTo(base.plus(Transport.MAX_SIZE_ALLOWANCE));
    // The grace a recovering replica waits outlasts the longest a request may live in a replica.
    ReplicaServer.Config config =
        ReplicaServer.Config.of(0, List.of("127.0.0.1:1"), Path.of("unused"));
    long graceMillis = config.core().recoveryGraceTicks() * config.tick().toMillis();
    assertThat(graceMillis)
        .isGreaterThan(config.longestRequestAge().toMillis())
        .isGreaterThan(Transport.budget(Log.REQUEST_DEADLINE, 12 << 20).toMillis());
  }
}
