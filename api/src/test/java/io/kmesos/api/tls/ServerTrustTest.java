package io.kmesos.api.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsServerCredentials;
import io.kmesos.api.InfoService;
import io.kmesos.api.v1.GetBuildInfoRequest;
import io.kmesos.api.v1.InfoGrpc;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client without a certificate reaches a server of the cluster's CA that carries the identity it
 * expects, and refuses any other server.
 */
class ServerTrustTest {
  @TempDir Path dir;

  @Test
  void verifiesTheServerAndPresentsNoCertificate() throws Exception {
    CertificateAuthority ca =
        CertificateAuthority.create("test CA", Instant.now(), Duration.ofDays(1));
    CertificateAuthority.Issued controller =
        ca.issue(
            CertificateAuthority.Request.of(
                Identity.CONTROLLER, List.of("127.0.0.1"), Instant.now(), Duration.ofHours(1)));
    Path caFile = Files.writeString(dir.resolve("ca.crt"), Pem.of(ca.certificate()));
    Path cert = Files.writeString(dir.resolve("tls.crt"), controller.certificatePem());
    Path key = Files.writeString(dir.resolve("tls.key"), controller.keyPem());
    Server server =
        Grpc.newServerBuilderForPort(
                0,
                TlsServerCredentials.newBuilder()
                    .keyManager(cert.toFile(), key.toFile())
                    .clientAuth(TlsServerCredentials.ClientAuth.NONE)
                    .build())
            .addService(new InfoService("test"))
            .build()
            .start();
    try (ServerTrust controllerTrust =
            ServerTrust.load(caFile, Identity.CONTROLLER, Duration.ofMinutes(1));
        ServerTrust agentTrust = ServerTrust.load(caFile, Identity.AGENT, Duration.ofMinutes(1))) {
      ManagedChannel good =
          Grpc.newChannelBuilder(
                  "127.0.0.1:" + server.getPort(), controllerTrust.channelCredentials())
              .build();
      ManagedChannel wrong =
          Grpc.newChannelBuilder("127.0.0.1:" + server.getPort(), agentTrust.channelCredentials())
              .build();
      try {
        assertThat(
                InfoGrpc.newBlockingStub(good)
                    .withDeadlineAfter(30, TimeUnit.SECONDS)
                    .getBuildInfo(GetBuildInfoRequest.getDefaultInstance())
                    .getComponent())
            .isEqualTo("test");
        assertThatThrownBy(
                () ->
                    InfoGrpc.newBlockingStub(wrong)
                        .withDeadlineAfter(30, TimeUnit.SECONDS)
                        .getBuildInfo(GetBuildInfoRequest.getDefaultInstance()))
            .isInstanceOf(StatusRuntimeException.class)
            .hasStackTraceContaining("is not a kmesos agent's (spiffe://kmesos/agent)");
      } finally {
        good.shutdownNow();
        wrong.shutdownNow();
        server.shutdownNow();
      }
    }
  }

  @Test
  void aMissingCaFileIsNamed() {
    Path missing = dir.resolve("nope.crt");
    assertThatThrownBy(() -> ServerTrust.load(missing, Identity.CONTROLLER, Duration.ofMinutes(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("TLS: cannot read " + missing + ": no such file");
  }
}
