package io.kmesos.controller.master;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The parts of the authenticator that need no API server. */
class KubernetesAuthenticatorTest {
  @Test
  void aJwtsExpiryIsReadAndAnythingElseHasNone() {
    Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
    String claims = b64.encodeToString("{\"exp\":1800000000}".getBytes(StandardCharsets.UTF_8));

    assertThat(KubernetesAuthenticator.expiry("e30." + claims + ".sig"))
        .contains(Instant.ofEpochSecond(1_800_000_000L));
    assertThat(KubernetesAuthenticator.expiry("opaque-token")).isEmpty();
    assertThat(KubernetesAuthenticator.expiry("a.!!!.c")).isEmpty();
    assertThat(KubernetesAuthenticator.expiry("e30.e30.c")).as("no exp claim").isEmpty();
  }

  @Test
  void aServiceAccountsNamespaceIsWhereItsRolesAreAsked() {
    assertThat(KubernetesAuthenticator.serviceAccountNamespace("system:serviceaccount:demo:fw"))
        .contains("demo");
    assertThat(KubernetesAuthenticator.serviceAccountNamespace("alice@example.org")).isEmpty();
    assertThat(KubernetesAuthenticator.serviceAccountNamespace("system:serviceaccount:broken"))
        .isEmpty();
  }

  @Test
  void settingsRefuseWhatCannotWork() {
    assertThatThrownBy(
            () ->
                new KubernetesAuthenticator.Settings(
                    Duration.ofSeconds(-1), Duration.ZERO, Duration.ZERO, 1, List.of()))
        .hasMessageContaining("tokenTtl must be zero or more");
    assertThatThrownBy(
            () ->
                new KubernetesAuthenticator.Settings(
                    Duration.ZERO, Duration.ZERO, Duration.ZERO, -1, List.of()))
        .hasMessageContaining("maxEntries");
    assertThatThrownBy(
            () ->
                new KubernetesAuthenticator.Settings(
                    Duration.ZERO, Duration.ZERO, Duration.ZERO, 1, List.of(" ")))
        .hasMessageContaining("audience");
  }
}
