package io.kmesos.framework;

import io.kmesos.api.tls.CertificateAuthority;
import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.Pem;
import io.kmesos.api.tls.ServerTrust;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/** A test CA, the master's certificate of it, and a framework's trust in it, in {@code dir}. */
public final class TestTls {
  public final Path dir;
  public final Path cert;
  public final Path key;
  public final ServerTrust trust;

  public TestTls(Path dir) throws IOException {
    this.dir = dir;
    CertificateAuthority ca =
        CertificateAuthority.create("test CA", Instant.now(), Duration.ofDays(1));
    CertificateAuthority.Issued controller =
        ca.issue(
            CertificateAuthority.Request.of(
                Identity.CONTROLLER, List.of("127.0.0.1"), Instant.now(), Duration.ofHours(1)));
    Files.writeString(dir.resolve("ca.crt"), Pem.of(ca.certificate()));
    cert = Files.writeString(dir.resolve("controller.crt"), controller.certificatePem());
    key = Files.writeString(dir.resolve("controller.key"), controller.keyPem());
    trust = ServerTrust.load(dir.resolve("ca.crt"), Identity.CONTROLLER, Duration.ofMinutes(1));
  }

  public FakeMaster master() throws IOException {
    return new FakeMaster(cert, key);
  }
}
