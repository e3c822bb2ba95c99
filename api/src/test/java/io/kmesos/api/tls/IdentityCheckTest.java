package io.kmesos.api.tls;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import java.security.cert.Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Which client certificates a server with a set of accepted identities admits, and what it tells
 * the others.
 */
class IdentityCheckTest {
  static final CertificateAuthority CA =
      CertificateAuthority.create("test CA", Instant.now(), Duration.ofDays(1));
  static final EnumSet<Identity> LOG_CLIENTS =
      EnumSet.of(Identity.REPLICA, Identity.CONTROLLER, Identity.ADMIN);

  static Certificate[] withUris(String... uris) {
    return new Certificate[] {
      CA.issue(
              new CertificateAuthority.Request(
                  "client",
                  List.of(uris),
                  List.of(),
                  Instant.now(),
                  Instant.now().plus(Duration.ofHours(1))))
          .certificate()
    };
  }

  @Test
  void anAcceptedIdentityPasses() {
    assertThat(
            IdentityCheck.check(
                withUris(Identity.CONTROLLER.uri()), LOG_CLIENTS, "kmesos.log.v1.Replica"))
        .isNull();
    // Other URI names beside the kmesos one do not matter.
    assertThat(
            IdentityCheck.check(
                withUris("spiffe://example.org/x", Identity.ADMIN.uri()), LOG_CLIENTS, "S"))
        .isNull();
  }

  @Test
  void anotherKmesosComponentIsDeniedByName() {
    Status s =
        IdentityCheck.check(
            withUris(Identity.FRAMEWORK.uri()), LOG_CLIENTS, "kmesos.log.v1.Replica");
    assertThat(s.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(s.getDescription())
        .isEqualTo(
            "a kmesos framework (spiffe://kmesos/framework) may not call kmesos.log.v1.Replica; "
                + "it accepts spiffe://kmesos/replica, spiffe://kmesos/controller, spiffe://kmesos/admin");
  }

  @Test
  void aCertificateWithoutAKmesosIdentityIsUnauthenticated() {
    Status none = IdentityCheck.check(withUris(), LOG_CLIENTS, "S");
    assertThat(none.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(none.getDescription())
        .isEqualTo(
            "the client certificate 'CN=client,O=kmesos' (no URI names) carries no kmesos "
                + "identity; S accepts spiffe://kmesos/replica, spiffe://kmesos/controller, spiffe://kmesos/admin");
    // A look-alike is not an identity: the URI must be exactly spiffe://kmesos/<component>.
    assertThat(
            IdentityCheck.check(
                    withUris("spiffe://kmesos/replica/x", "spiffe://kmesos.evil/admin"),
                    LOG_CLIENTS,
                    "S")
                .getCode())
        .isEqualTo(Status.Code.UNAUTHENTICATED);
  }

  @Test
  void noTlsOrNoCertificateIsUnauthenticated() {
    assertThat(IdentityCheck.check(null, LOG_CLIENTS, "S").getDescription())
        .isEqualTo(
            "S accepts only mutual TLS clients (spiffe://kmesos/replica, spiffe://kmesos/controller, spiffe://kmesos/admin)");
    assertThat(IdentityCheck.check(new Certificate[0], LOG_CLIENTS, "S").getCode())
        .isEqualTo(Status.Code.UNAUTHENTICATED);
  }
}
