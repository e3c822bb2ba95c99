package io.kmesos.replica.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.grpc.ChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.util.AdvancedTlsX509KeyManager;
import io.kmesos.api.cli.Failures;
import io.kmesos.api.log.v1.Envelope;
import io.kmesos.api.log.v1.ReplicaGrpc;
import io.kmesos.api.log.v1.ReplicaStatus;
import io.kmesos.api.log.v1.StatusRequest;
import io.kmesos.api.tls.CertificateAuthority;
import io.kmesos.api.tls.ClusterCertificates;
import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.Pem;
import io.kmesos.replica.client.Log;
import java.math.BigInteger;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real replica process accepts only clients with a certificate of the cluster's CA that carries a
 * kmesos identity it serves, and says so to the others; it takes rotated certificates and CAs from
 * its files without a restart.
 */
class ReplicaTlsIT {
  static final Duration PATIENCE = Duration.ofSeconds(120);

  @TempDir Path dir;
  ReplicaProcesses replicas;
  CertificateAuthority ca;

  @BeforeEach
  void start() throws Exception {
    replicas = new ReplicaProcesses(dir, 1);
    ClusterCertificates.Material stored = replicas.certificates.readCa();
    ca = CertificateAuthority.load(stored.certificatePem(), stored.keyPem());
    replicas.start(0, "--tls-reload", "1s");
    try (Log log = replicas.client()) {
      await().atMost(PATIENCE).until(() -> log.reader().status().get(0).error() == null);
    }
  }

  @AfterEach
  void stop() throws Exception {
    if (replicas != null) {
      replicas.close();
    }
  }

  @Test
  void anAdminOfTheClustersCaIsServed() throws Exception {
    assertThat(
            statusWith(
                credentials(
                    issue(ca, List.of(Identity.ADMIN.uri()), Instant.now(), Duration.ofHours(1)))))
        .isEqualTo(ReplicaStatus.EMPTY);
  }

  @Test
  void aPlaintextClientIsRefused() {
    ManagedChannel plaintext =
        NettyChannelBuilder.forTarget(replicas.peers.get(0)).usePlaintext().build();
    try {
      assertRefused(
          plaintext,
          e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
            assertThat(Failures.reason(e))
                .isEqualTo(
                    "the connection was closed without an answer (a TLS port, or not a kmesos server?)");
          });
    } finally {
      plaintext.shutdownNow();
    }
  }

  @Test
  void aClientWithAForeignCasCertificateIsRefused() throws Exception {
    CertificateAuthority foreign =
        CertificateAuthority.create("another CA", Instant.now(), Duration.ofDays(1));
    refusedWith(
        credentials(
            issue(foreign, List.of(Identity.ADMIN.uri()), Instant.now(), Duration.ofHours(1))),
        e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
          assertThat(Failures.reason(e))
              .isEqualTo(
                  "TLS handshake failed: the server refused this client's certificate "
                      + "(error:10000438:SSL routines:OPENSSL_internal:TLSV1_ALERT_INTERNAL_ERROR): is it of the cluster's CA, and valid now?");
        });
  }

  @Test
  void aClientWithAnExpiredCertificateIsRefused() throws Exception {
    Instant yesterday = Instant.now().minus(Duration.ofDays(1));
    refusedWith(
        credentials(issue(ca, List.of(Identity.ADMIN.uri()), yesterday, Duration.ofHours(1))),
        e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
          assertThat(Failures.reason(e))
              .isEqualTo(
                  "TLS handshake failed: the server refused this client's certificate as "
                      + "expired (error:10000415:SSL routines:OPENSSL_internal:SSLV3_ALERT_CERTIFICATE_EXPIRED)");
        });
  }

  @Test
  void aClientCertificateWithoutAKmesosIdentityIsRefused() throws Exception {
    refusedWith(
        credentials(
            issue(ca, List.of("spiffe://example.org/web"), Instant.now(), Duration.ofHours(1))),
        e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
          assertThat(e.getStatus().getDescription())
              .isEqualTo(
                  "the client certificate 'CN=test client,O=kmesos' (URI names "
                      + "spiffe://example.org/web) carries no kmesos identity; kmesos.log.v1.Replica accepts spiffe://kmesos/replica, "
                      + "spiffe://kmesos/controller, spiffe://kmesos/admin");
        });
  }

  @Test
  void aKmesosComponentThatDoesNotUseTheLogIsRefused() throws Exception {
    refusedWith(
        credentials(issue(ca, List.of(Identity.AGENT.uri()), Instant.now(), Duration.ofHours(1))),
        e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
          assertThat(e.getStatus().getDescription())
              .isEqualTo(
                  "a kmesos agent (spiffe://kmesos/agent) may not call "
                      + "kmesos.log.v1.Replica; it accepts spiffe://kmesos/replica, spiffe://kmesos/controller, spiffe://kmesos/admin");
        });
  }

  @Test
  void rotatedCertificatesAndCasAreTakenFromTheFilesWithoutARestart() throws Exception {
    Process replica = replicas.process(0);
    Path replicaDir = replicas.certificates.dir(Identity.REPLICA);
    CertificateAuthority.Issued admin =
        issue(ca, List.of(Identity.ADMIN.uri()), Instant.now(), Duration.ofHours(1));
    BigInteger before = presentedSerial(admin);
    // A client of a new CA is refused while the replica trusts only the cluster's CA.
    CertificateAuthority next =
        CertificateAuthority.create("kmesos CA 2", Instant.now(), Duration.ofDays(30));
    ChannelCredentials ofNextCa =
        credentials(
            issue(next, List.of(Identity.ADMIN.uri()), Instant.now(), Duration.ofHours(1)),
            Pem.of(ca.certificate()));
    refusedWith(
        ofNextCa,
        e -> assertThat(Failures.reason(e)).startsWith("TLS handshake failed: the server refused"));

    // The replica's certificate is renewed and the new CA rolled out (trusted beside the old one);
    // within --tls-reload (1 s here) new handshakes see the new certificate, and a client of the
    // new CA is served.
    CertificateAuthority.Issued renewed =
        ca.issue(
            CertificateAuthority.Request.of(
                Identity.REPLICA, List.of("127.0.0.1"), Instant.now(), Duration.ofDays(2)));
    replicas.certificates.write(
        Identity.REPLICA,
        Pem.of(ca.certificate()) + Pem.of(next.certificate()),
        new ClusterCertificates.Material(renewed.certificatePem(), renewed.keyPem()));
    await()
        .atMost(PATIENCE)
        .ignoreExceptions()
        .until(() -> presentedSerial(admin).equals(renewed.certificate().getSerialNumber()));
    assertThat(renewed.certificate().getSerialNumber()).isNotEqualTo(before);
    await()
        .atMost(PATIENCE)
        .ignoreExceptions()
        .until(() -> statusWith(ofNextCa) == ReplicaStatus.EMPTY);

    assertThat(replicas.process(0)).isSameAs(replica);
    assertThat(replica.isAlive()).isTrue();
  }

  /**
   * A certificate of {@code issuer} for a new key, with {@code uris}, valid from {@code from} for
   * {@code validity}.
   */
  static CertificateAuthority.Issued issue(
      CertificateAuthority issuer, List<String> uris, Instant from, Duration validity) {
    return issuer.issue(
        new CertificateAuthority.Request(
            "test client", uris, List.of(), from, from.plus(validity)));
  }

  /**
   * A client presenting {@code client}, trusting the cluster's CA (so only the server can refuse).
   */
  ChannelCredentials credentials(CertificateAuthority.Issued client) throws Exception {
    return credentials(client, Pem.of(ca.certificate()));
  }

  static ChannelCredentials credentials(CertificateAuthority.Issued client, String trustedPem)
      throws Exception {
    AdvancedTlsX509KeyManager keys = new AdvancedTlsX509KeyManager();
    keys.updateIdentityCredentials(new X509Certificate[] {client.certificate()}, client.key());
    return TlsChannelCredentials.newBuilder()
        .keyManager(keys)
        .trustManager(trust(trustedPem).getTrustManagers())
        .build();
  }

  static TrustManagerFactory trust(String trustedPem) throws Exception {
    KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
    store.load(null, null);
    int i = 0;
    for (X509Certificate c : Pem.certificates(trustedPem)) {
      store.setCertificateEntry("ca-" + i++, c);
    }
    TrustManagerFactory factory =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    factory.init(store);
    return factory;
  }

  ReplicaStatus statusWith(ChannelCredentials credentials) {
    ManagedChannel channel =
        NettyChannelBuilder.forTarget(replicas.peers.get(0), credentials).build();
    try {
      return ReplicaGrpc.newBlockingStub(channel)
          .withDeadlineAfter(30, TimeUnit.SECONDS)
          .call(statusRequest())
          .getStatusResponse()
          .getStatus();
    } finally {
      channel.shutdownNow();
    }
  }

  void refusedWith(ChannelCredentials credentials, Consumer<StatusRuntimeException> check) {
    ManagedChannel channel =
        NettyChannelBuilder.forTarget(replicas.peers.get(0), credentials).build();
    try {
      assertRefused(channel, check);
    } finally {
      channel.shutdownNow();
    }
  }

  static void assertRefused(ManagedChannel channel, Consumer<StatusRuntimeException> check) {
    assertThatThrownBy(
            () ->
                ReplicaGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(30, TimeUnit.SECONDS)
                    .call(statusRequest()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, check);
  }

  static Envelope statusRequest() {
    return Envelope.newBuilder()
        .setTo(0)
        .setStatusRequest(StatusRequest.getDefaultInstance())
        .build();
  }

  /** The serial number of the certificate the replica presents to a new connection. */
  BigInteger presentedSerial(CertificateAuthority.Issued client) throws Exception {
    KeyStore keys = KeyStore.getInstance(KeyStore.getDefaultType());
    keys.load(null, null);
    keys.setKeyEntry(
        "client", client.key(), new char[0], new X509Certificate[] {client.certificate()});
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(keys, new char[0]);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(kmf.getKeyManagers(), trust(Pem.of(ca.certificate())).getTrustManagers(), null);
    String[] hostPort = replicas.peers.get(0).split(":");
    try (SSLSocket socket =
        (SSLSocket)
            context.getSocketFactory().createSocket(hostPort[0], Integer.parseInt(hostPort[1]))) {
      socket.setSoTimeout(30_000);
      socket.setEnabledProtocols(new String[] {"TLSv1.3"});
      socket.setSSLParameters(alpn(socket));
      socket.startHandshake();
      return ((X509Certificate) socket.getSession().getPeerCertificates()[0]).getSerialNumber();
    }
  }

  /** gRPC's servers want HTTP/2 negotiated. */
  private static SSLParameters alpn(SSLSocket socket) {
    SSLParameters p = socket.getSSLParameters();
    p.setApplicationProtocols(new String[] {"h2"});
    return p;
  }
}
