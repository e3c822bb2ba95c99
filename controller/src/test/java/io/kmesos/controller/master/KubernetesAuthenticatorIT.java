package io.kmesos.controller.master;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.kmesos.devcluster.LocalKubeApiServer;
import io.kmesos.devcluster.ServiceAccountTokens;
import io.kmesos.devcluster.WithKubeApiServer;
import io.kmesos.master.auth.Authenticator.Unauthenticated;
import io.kmesos.master.auth.Authenticator.Unavailable;
import io.kmesos.master.auth.Caller;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The authenticator against a real kube-apiserver, as the controller's ServiceAccount with the
 * manifests' RBAC: real ServiceAccount tokens (TokenRequest), real TokenReviews, and the RBAC of
 * examples/rbac/demo-framework.yaml deciding SubjectAccessReviews.
 */
@WithKubeApiServer
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class KubernetesAuthenticatorIT {
  static final String FRAMEWORK = "system:serviceaccount:demo:demo-framework";

  LocalKubeApiServer server;
  KubernetesClient admin;
  KubernetesClient controller;
  ServiceAccountTokens tokens;

  @BeforeAll
  void install(LocalKubeApiServer server, KubernetesClient admin) throws Exception {
    this.server = server;
    this.admin = admin;
    this.controller = ControllerAccount.client(server, admin);
    this.tokens = new ServiceAccountTokens(admin);
    ControllerAccount.apply(admin, Path.of("../examples/rbac/demo-framework.yaml"), "demo");
  }

  KubernetesAuthenticator authenticator() {
    return new KubernetesAuthenticator(controller);
  }

  @Test
  void aFrameworksServiceAccountTokenAuthenticatesAsItsAccount() throws Exception {
    Caller caller = authenticator().authenticate(tokens.token("demo", "demo-framework"));

    assertThat(caller.principal()).isEqualTo(FRAMEWORK);
    assertThat(caller.uid())
        .isEqualTo(
            admin
                .serviceAccounts()
                .inNamespace("demo")
                .withName("demo-framework")
                .get()
                .getMetadata()
                .getUid());
    assertThat(caller.groups())
        .contains("system:serviceaccounts", "system:serviceaccounts:demo", "system:authenticated");
    assertThat(caller.nodeName()).isEmpty();
  }

  @Test
  void garbageAndForeignTokensAreUnauthenticated() throws Exception {
    KubernetesAuthenticator authenticator = authenticator();

    assertThatThrownBy(() -> authenticator.authenticate("not-a-token"))
        .isInstanceOf(Unauthenticated.class)
        .hasMessageStartingWith("the token was not accepted by the cluster");
    assertThatThrownBy(() -> authenticator.authenticate(""))
        .isInstanceOf(Unauthenticated.class)
        .hasMessageContaining("no bearer token");
    assertThatThrownBy(() -> authenticator.authenticate(null)).isInstanceOf(Unauthenticated.class);
    // Well-formed, claiming the framework's account, but signed by another issuer's key.
    assertThatThrownBy(() -> authenticator.authenticate(foreignToken(FRAMEWORK)))
        .isInstanceOf(Unauthenticated.class)
        .hasMessageStartingWith("the token was not accepted by the cluster");
  }

  @Test
  void aTokenForAnotherAudienceIsAcceptedOnlyByAnAuthenticatorOfThatAudience() throws Exception {
    String kmesosOnly =
        tokens.token("demo", "demo-framework", List.of("kmesos"), Duration.ofHours(1));

    assertThatThrownBy(() -> authenticator().authenticate(kmesosOnly))
        .isInstanceOf(Unauthenticated.class)
        .hasMessageStartingWith("the token was not accepted by the cluster");
    KubernetesAuthenticator kmesosAudience =
        new KubernetesAuthenticator(
            controller,
            new KubernetesAuthenticator.Settings(
                Duration.ofSeconds(30),
                Duration.ofSeconds(5),
                Duration.ofSeconds(10),
                100,
                List.of("kmesos")),
            Clock.systemUTC());
    assertThat(kmesosAudience.authenticate(kmesosOnly).principal()).isEqualTo(FRAMEWORK);
    assertThatThrownBy(() -> kmesosAudience.authenticate(tokens.token("demo", "demo-framework")))
        .as("and the default token, for the API server, is not for kmesos")
        .isInstanceOf(Unauthenticated.class);
  }

  @Test
  void aPodBoundTokenNamesItsPodsNode() throws Exception {
    Caller agent =
        authenticator().authenticate(tokens.podBoundToken("kmesos", "kmesos-agent", "node-7"));

    assertThat(agent.principal()).isEqualTo("system:serviceaccount:kmesos:kmesos-agent");
    assertThat(agent.nodeName()).contains("node-7");
  }

  @Test
  void aTokenOfADeletedPodIsRefusedOnceTheCachedAnswerExpires() throws Exception {
    String token = tokens.podBoundToken("kmesos", "kmesos-agent", "node-8");
    MutableClock clock = new MutableClock();
    KubernetesAuthenticator authenticator = withClock(clock);
    assertThat(authenticator.authenticate(token).nodeName()).contains("node-8");

    admin
        .pods()
        .inNamespace("kmesos")
        .withName("kmesos-agent-on-node-8")
        .withGracePeriod(0)
        .delete();
    admin
        .pods()
        .inNamespace("kmesos")
        .withName("kmesos-agent-on-node-8")
        .waitUntilCondition(p -> p == null, 2, TimeUnit.MINUTES);
    // The API server learns of the deletion through its own informer, a moment later.
    await()
        .atMost(Duration.ofMinutes(1))
        .untilAsserted(
            () -> {
              clock.advance(KubernetesAuthenticator.Settings.DEFAULTS.tokenTtl().plusSeconds(1));
              assertThatThrownBy(() -> authenticator.authenticate(token))
                  .isInstanceOf(Unauthenticated.class)
                  .hasMessageStartingWith("the token was not accepted by the cluster");
            });
  }

  @Test
  void aFrameworkMayUseExactlyTheRolesItsRbacGrants() throws Exception {
    KubernetesAuthenticator authenticator = authenticator();
    Caller framework = authenticator.authenticate(tokens.token("demo", "demo-framework"));

    assertThat(authenticator.mayUseRole(framework, "analytics")).isTrue();
    assertThat(authenticator.mayUseRole(framework, "ml/training"))
        .as("RBAC's resourceNames match a role path, slash included")
        .isTrue();
    assertThat(authenticator.mayUseRole(framework, "ml")).as("a parent is not implied").isFalse();
    assertThat(authenticator.mayUseRole(framework, "ml/training/nightly"))
        .as("nor a child")
        .isFalse();
    assertThat(authenticator.mayUseRole(framework, "batch")).isFalse();
  }

  @Test
  void theSubjectAccessReviewDocsFrameworksMdShowsAnswersAsTheMasterDoes() throws Exception {
    // `kubectl auth can-i` cannot ask: it drops the group of a resource the server does not list.
    assertThat(review("ml/training")).isEqualTo("true");
    assertThat(review("batch")).isEqualTo("false");
  }

  /** The command in docs/frameworks.md, "Roles", with {@code role}. */
  String review(String role) throws Exception {
    Path kubeconfig =
        server.writeKubeConfig(Files.createTempDirectory("kubectl").resolve("config"));
    Process p =
        new ProcessBuilder(
                LocalKubeApiServer.binaryDirectory().resolve("kubectl").toString(),
                "--kubeconfig",
                kubeconfig.toString(),
                "create",
                "-o",
                "jsonpath={.status.allowed}",
                "-f",
                "-")
            .redirectErrorStream(true)
            .start();
    try (var in = p.getOutputStream()) {
      in.write(
          String.join(
                  "\n",
                  "apiVersion: authorization.k8s.io/v1",
                  "kind: SubjectAccessReview",
                  "spec:",
                  "  user: system:serviceaccount:demo:demo-framework",
                  "  groups: [system:serviceaccounts, system:serviceaccounts:demo]",
                  "  resourceAttributes:",
                  "    {group: kmesos.io, resource: roles, verb: use, namespace: demo, name: "
                      + role
                      + "}",
                  "")
              .getBytes(StandardCharsets.UTF_8));
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    assertThat(p.waitFor(2, TimeUnit.MINUTES)).isTrue();
    return out;
  }

  @Test
  void aRoleBindingGrantsRolesInItsNamespaceAndAClusterRoleBindingEverywhere() throws Exception {
    KubernetesAuthenticator authenticator = authenticator();
    Caller other = authenticator.authenticate(tokens.token("team-b", "scheduler"));
    assertThat(authenticator.mayUseRole(other, "analytics")).isFalse();

    // Bound in another namespace than the account's: grants nothing to it.
    admin
        .rbac()
        .roleBindings()
        .inNamespace("demo")
        .resource(
            new RoleBindingBuilder()
                .withNewMetadata()
                .withName("team-b-elsewhere")
                .withNamespace("demo")
                .endMetadata()
                .withNewRoleRef("rbac.authorization.k8s.io", "ClusterRole", "kmesos-framework-demo")
                .addNewSubject()
                .withKind("ServiceAccount")
                .withName("scheduler")
                .withNamespace("team-b")
                .endSubject()
                .build())
        .create();
    assertThat(authenticator().mayUseRole(other, "analytics")).isFalse();

    // Bound in its own namespace: granted.
    admin
        .rbac()
        .roleBindings()
        .inNamespace("team-b")
        .resource(
            new RoleBindingBuilder()
                .withNewMetadata()
                .withName("team-b-roles")
                .withNamespace("team-b")
                .endMetadata()
                .withNewRoleRef("rbac.authorization.k8s.io", "ClusterRole", "kmesos-framework-demo")
                .addNewSubject()
                .withKind("ServiceAccount")
                .withName("scheduler")
                .withNamespace("team-b")
                .endSubject()
                .build())
        .create();
    assertThat(authenticator().mayUseRole(other, "analytics")).isTrue();
    assertThat(authenticator().mayUseRole(other, "batch")).isFalse();

    // Cluster-wide: any role, through the base's kmesos-framework-all-roles.
    ControllerAccount.apply(admin, Path.of("../manifests/base/user-rbac.yaml"), "kmesos");
    admin
        .rbac()
        .clusterRoleBindings()
        .resource(
            new ClusterRoleBindingBuilder()
                .withNewMetadata()
                .withName("team-b-all-roles")
                .endMetadata()
                .withNewRoleRef(
                    "rbac.authorization.k8s.io", "ClusterRole", "kmesos-framework-all-roles")
                .addNewSubject()
                .withKind("ServiceAccount")
                .withName("scheduler")
                .withNamespace("team-b")
                .endSubject()
                .build())
        .create();
    assertThat(authenticator().mayUseRole(other, "batch")).isTrue();
  }

  @Test
  void onlyAnAccountBoundToTheStateViewerMayViewTheState() throws Exception {
    KubernetesAuthenticator authenticator = authenticator();

    assertThat(
            authenticator.mayViewState(
                authenticator.authenticate(tokens.token("demo", "demo-operator"))))
        .isTrue();
    assertThat(
            authenticator.mayViewState(
                authenticator.authenticate(tokens.token("demo", "demo-framework"))))
        .isFalse();
  }

  @Test
  void answersAreCachedSoARepeatedCallCostsNoReview() throws Exception {
    MutableClock clock = new MutableClock();
    KubernetesAuthenticator authenticator = withClock(clock);
    String token = tokens.token("demo", "demo-framework");

    Caller first = authenticator.authenticate(token);
    assertThat(authenticator.authenticate(token)).isEqualTo(first);
    assertThat(authenticator.tokenReviews()).isEqualTo(1);
    assertThat(authenticator.mayUseRole(first, "analytics")).isTrue();
    assertThat(authenticator.mayUseRole(first, "analytics")).isTrue();
    assertThat(authenticator.accessReviews()).isEqualTo(1);
    assertThatThrownBy(() -> authenticator.authenticate("garbage"))
        .isInstanceOf(Unauthenticated.class);
    assertThatThrownBy(() -> authenticator.authenticate("garbage"))
        .isInstanceOf(Unauthenticated.class);
    assertThat(authenticator.tokenReviews()).as("a refusal is cached too").isEqualTo(2);

    clock.advance(Duration.ofMinutes(1));
    assertThat(authenticator.authenticate(token)).isEqualTo(first);
    assertThat(authenticator.mayUseRole(first, "analytics")).isTrue();
    assertThat(authenticator.tokenReviews()).as("asked again after the TTL").isEqualTo(3);
    assertThat(authenticator.accessReviews()).isEqualTo(2);
  }

  @Test
  void aCachedIdentityNeverOutlivesTheToken() throws Exception {
    MutableClock clock = new MutableClock();
    KubernetesAuthenticator authenticator =
        new KubernetesAuthenticator(
            controller,
            new KubernetesAuthenticator.Settings(
                Duration.ofHours(2), Duration.ofSeconds(5), Duration.ofSeconds(10), 100, List.of()),
            clock);
    String token = tokens.token("demo", "demo-framework", List.of(), Duration.ofMinutes(10));

    authenticator.authenticate(token);
    authenticator.authenticate(token);
    assertThat(authenticator.tokenReviews()).isEqualTo(1);
    clock.advance(Duration.ofMinutes(11));
    // The cache's clock is past the token's expiry, though not past the 2 h TTL: it asks again
    // (the API server, on real time, still accepts the token).
    authenticator.authenticate(token);
    assertThat(authenticator.tokenReviews()).as("asked again at the token's expiry").isEqualTo(2);
  }

  @Test
  void aControllerWithoutTheRbacToReviewIsUnavailableNamingWhy() throws Exception {
    // The framework's own account may not create TokenReviews.
    KubernetesAuthenticator unauthorized =
        new KubernetesAuthenticator(server.newClient(tokens.token("demo", "demo-framework")));

    assertThatThrownBy(() -> unauthorized.authenticate(tokens.token("demo", "demo-operator")))
        .isInstanceOf(Unavailable.class)
        .hasMessageContaining("HTTP 403")
        .hasMessageContaining("tokenreviews")
        .hasCauseInstanceOf(KubernetesClientException.class);
    assertThatThrownBy(
            () ->
                unauthorized.mayUseRole(
                    new Caller(FRAMEWORK, "", List.of(), Optional.empty()), "analytics"))
        .isInstanceOf(Unavailable.class)
        .hasMessageContaining("subjectaccessreviews")
        .hasMessageContaining("use roles.kmesos.io/analytics");
  }

  KubernetesAuthenticator withClock(Clock clock) {
    return new KubernetesAuthenticator(
        controller, KubernetesAuthenticator.Settings.DEFAULTS, clock);
  }

  /** A JWT shaped like a ServiceAccount token, signed with a key the API server never saw. */
  static String foreignToken(String subject) throws Exception {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
    generator.initialize(2048);
    KeyPair key = generator.generateKeyPair();
    Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
    long now = Instant.now().getEpochSecond();
    String header =
        b64.encodeToString(
            "{\"alg\":\"RS256\",\"kid\":\"foreign\"}".getBytes(StandardCharsets.UTF_8));
    String claims =
        b64.encodeToString(
            ("{\"iss\":\"https://foreign.example\",\"sub\":\""
                    + subject
                    + "\",\"aud\":[\"https://localhost\"],\"iat\":"
                    + now
                    + ",\"nbf\":"
                    + now
                    + ",\"exp\":"
                    + (now + 3600)
                    + "}")
                .getBytes(StandardCharsets.UTF_8));
    Signature rs256 = Signature.getInstance("SHA256withRSA");
    rs256.initSign(key.getPrivate());
    rs256.update((header + "." + claims).getBytes(StandardCharsets.US_ASCII));
    return header + "." + claims + "." + b64.encodeToString(rs256.sign());
  }

  /** The cache's clock, moved by the test (the API server keeps real time). */
  static final class MutableClock extends Clock {
    private Instant now = Instant.now();

    synchronized void advance(Duration d) {
      now = now.plus(d);
    }

    @Override
    public synchronized Instant instant() {
      return now;
    }

    @Override
    public ZoneOffset getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      throw new UnsupportedOperationException();
    }
  }
}
