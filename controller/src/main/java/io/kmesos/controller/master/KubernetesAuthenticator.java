package io.kmesos.controller.master;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewStatus;
import io.fabric8.kubernetes.api.model.authentication.UserInfo;
import io.fabric8.kubernetes.api.model.authorization.v1.ResourceAttributes;
import io.fabric8.kubernetes.api.model.authorization.v1.ResourceAttributesBuilder;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReview;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.kmesos.master.auth.Authenticator;
import io.kmesos.master.auth.Caller;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The {@link Authenticator} of a master in a cluster: who a bearer token stands for is what the API
 * server's TokenReview says (ServiceAccount tokens, pod-bound ones with their node), and what a
 * caller may do is what a SubjectAccessReview says, so that the cluster's RBAC is kmesos's ACLs:
 *
 * <ul>
 *   <li>a framework may use a role if it may {@code use} {@code roles.kmesos.io/<role>}, asked in
 *       the framework's own namespace (its ServiceAccount's), so that a ClusterRoleBinding grants a
 *       role everywhere and a RoleBinding grants it to the accounts of one namespace;
 *   <li>a caller may read the master's state if it may {@code get} {@code state.kmesos.io}
 *       (cluster-wide).
 * </ul>
 *
 * <p>Answers are cached so that a call per task does not cost a review per call: a token's identity
 * for {@link Settings#tokenTtl()} (never past the token's own expiry, read from the JWT when it is
 * one; the cache only shortens, never extends, what the API server accepted), a refused token for
 * {@link Settings#refusedTtl()} (a burst of garbage costs one review, and a token that becomes
 * valid is accepted soon), an access decision for {@link Settings#accessTtl()}. A revoked token
 * (its pod deleted, its account removed) is thus accepted for at most {@code tokenTtl} more. The
 * cache is keyed by the token's SHA-256 (the token itself is never kept) and holds at most {@link
 * Settings#maxEntries()} answers of each kind, the least recently used going first. Failures to
 * reach the API server are never cached.
 *
 * <p>The controller's ServiceAccount needs {@code create} on {@code tokenreviews} and {@code
 * subjectaccessreviews} (manifests/base/controller-rbac.yaml).
 */
public final class KubernetesAuthenticator implements Authenticator {
  /** TokenReview's extra naming the node of a pod-bound token's pod (Kubernetes 1.30 and later). */
  public static final String NODE_NAME_EXTRA = "authentication.kubernetes.io/node-name";

  /** The API group of kmesos's authorization resources (no such objects exist: only RBAC rules). */
  public static final String GROUP = "kmesos.io";

  private static final String SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:";
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * How long answers are kept and how many.
   *
   * @param tokenTtl how long an accepted token's identity is reused (bounded by the token's expiry)
   * @param refusedTtl how long a refused token stays refused without asking again
   * @param accessTtl how long an access decision (allowed or not) is reused
   * @param maxEntries how many tokens, and separately how many access decisions, are kept
   * @param audiences the audiences a token must carry; empty: the API server's own (what a pod's
   *     default token carries)
   */
  public record Settings(
      Duration tokenTtl,
      Duration refusedTtl,
      Duration accessTtl,
      int maxEntries,
      List<String> audiences) {
    /** 30 s for identities, 5 s for refusals, 10 s for access decisions, 10000 of each. */
    public static final Settings DEFAULTS =
        new Settings(
            Duration.ofSeconds(30),
            Duration.ofSeconds(5),
            Duration.ofSeconds(10),
            10_000,
            List.of());

    public Settings {
      requireNonNegative("tokenTtl", tokenTtl);
      requireNonNegative("refusedTtl", refusedTtl);
      requireNonNegative("accessTtl", accessTtl);
      if (maxEntries < 0) {
        throw new IllegalArgumentException("maxEntries must be 0 or more, not " + maxEntries);
      }
      audiences = List.copyOf(audiences);
      for (String a : audiences) {
        if (a.isBlank()) {
          throw new IllegalArgumentException("an audience must not be blank");
        }
      }
    }

    private static void requireNonNegative(String name, Duration d) {
      if (d == null || d.isNegative()) {
        throw new IllegalArgumentException(name + " must be zero or more, not " + d);
      }
    }
  }

  private final KubernetesClient client;
  private final Settings settings;
  private final Clock clock;
  private final Lru<String, Expiring<Review>> tokens;
  private final Lru<AccessKey, Expiring<Boolean>> access;
  private final AtomicLong tokenReviews = new AtomicLong();
  private final AtomicLong accessReviews = new AtomicLong();

  /** With {@link Settings#DEFAULTS} and the system clock. */
  public KubernetesAuthenticator(KubernetesClient client) {
    this(client, Settings.DEFAULTS, Clock.systemUTC());
  }

  public KubernetesAuthenticator(KubernetesClient client, Settings settings, Clock clock) {
    this.client = client;
    this.settings = settings;
    this.clock = clock;
    this.tokens = new Lru<>(settings.maxEntries());
    this.access = new Lru<>(settings.maxEntries());
  }

  @Override
  public Caller authenticate(String bearerToken) throws Unauthenticated, Unavailable {
    if (bearerToken == null || bearerToken.isBlank()) {
      throw new Unauthenticated("no bearer token: send 'authorization: Bearer <token>'");
    }
    String key = sha256(bearerToken);
    Instant now = clock.instant();
    Expiring<Review> cached = tokens.get(key);
    if (cached != null && now.isBefore(cached.until())) {
      return cached.value().caller();
    }
    Review answer = review(bearerToken);
    Instant until = now.plus(answer.accepted() ? settings.tokenTtl() : settings.refusedTtl());
    Optional<Instant> expiry = expiry(bearerToken);
    if (expiry.isPresent() && expiry.get().isBefore(until)) {
      until = expiry.get();
    }
    tokens.put(key, new Expiring<>(answer, until));
    return answer.caller();
  }

  @Override
  public boolean mayUseRole(Caller caller, String role) throws Unavailable {
    if (role == null || role.isEmpty()) {
      throw new IllegalArgumentException("a role must not be empty");
    }
    return allowed(
        caller,
        new ResourceAttributesBuilder()
            .withGroup(GROUP)
            .withResource("roles")
            .withVerb("use")
            .withName(role)
            .withNamespace(serviceAccountNamespace(caller.principal()).orElse(null))
            .build());
  }

  @Override
  public boolean mayViewState(Caller caller) throws Unavailable {
    return allowed(
        caller,
        new ResourceAttributesBuilder()
            .withGroup(GROUP)
            .withResource("state")
            .withVerb("get")
            .build());
  }

  /** TokenReviews sent so far (answers from the cache send none). */
  public long tokenReviews() {
    return tokenReviews.get();
  }

  /** SubjectAccessReviews sent so far (answers from the cache send none). */
  public long accessReviews() {
    return accessReviews.get();
  }

  private Review review(String token) throws Unavailable {
    TokenReview review;
    try {
      tokenReviews.incrementAndGet();
      review =
          client
              .authentication()
              .v1()
              .tokenReviews()
              .create(
                  new TokenReviewBuilder()
                      .withNewSpec()
                      .withToken(token)
                      .withAudiences(settings.audiences())
                      .endSpec()
                      .build());
    } catch (KubernetesClientException e) {
      throw new Unavailable(
          "the API server could not review the token (TokenReview, HTTP "
              + e.getCode()
              + "; the controller's account needs create on tokenreviews): "
              + e.getMessage(),
          e);
    }
    TokenReviewStatus status = review.getStatus();
    if (status == null || !Boolean.TRUE.equals(status.getAuthenticated())) {
      String error = status == null ? null : status.getError();
      return Review.refused(
          "the token was not accepted by the cluster"
              + (error == null || error.isBlank() ? "" : ": " + error));
    }
    UserInfo user = status.getUser();
    if (user == null || user.getUsername() == null || user.getUsername().isBlank()) {
      return Review.refused("the cluster accepted the token but named no user");
    }
    List<String> node = user.getExtra() == null ? null : user.getExtra().get(NODE_NAME_EXTRA);
    return Review.accepted(
        new Caller(
            user.getUsername(),
            user.getUid() == null ? "" : user.getUid(),
            user.getGroups() == null ? List.of() : user.getGroups(),
            node == null || node.isEmpty() ? Optional.empty() : Optional.of(node.get(0))));
  }

  private boolean allowed(Caller caller, ResourceAttributes attributes) throws Unavailable {
    AccessKey key =
        new AccessKey(
            caller,
            attributes.getVerb(),
            attributes.getResource(),
            attributes.getName(),
            attributes.getNamespace());
    Instant now = clock.instant();
    Expiring<Boolean> cached = access.get(key);
    if (cached != null && now.isBefore(cached.until())) {
      return cached.value();
    }
    SubjectAccessReview review;
    try {
      accessReviews.incrementAndGet();
      review =
          client
              .authorization()
              .v1()
              .subjectAccessReview()
              .create(
                  new SubjectAccessReviewBuilder()
                      .withNewSpec()
                      .withUser(caller.principal())
                      .withUid(caller.uid().isEmpty() ? null : caller.uid())
                      .withGroups(caller.groups())
                      // The node a pod-bound token names, as the API server's own authorizers
                      // see it on the caller's requests.
                      .withExtra(
                          caller
                              .nodeName()
                              .map(n -> Map.of(NODE_NAME_EXTRA, List.of(n)))
                              .orElse(Map.of()))
                      .withResourceAttributes(attributes)
                      .endSpec()
                      .build());
    } catch (KubernetesClientException e) {
      throw new Unavailable(
          "the API server could not decide whether "
              + caller.principal()
              + " may "
              + attributes.getVerb()
              + " "
              + attributes.getResource()
              + "."
              + GROUP
              + (attributes.getName() == null ? "" : "/" + attributes.getName())
              + " (SubjectAccessReview, HTTP "
              + e.getCode()
              + "; the controller's account needs create on subjectaccessreviews): "
              + e.getMessage(),
          e);
    }
    boolean allowed =
        review.getStatus() != null && Boolean.TRUE.equals(review.getStatus().getAllowed());
    access.put(key, new Expiring<>(allowed, now.plus(settings.accessTtl())));
    return allowed;
  }

  /** {@code system:serviceaccount:<namespace>:<name>} → the namespace. */
  static Optional<String> serviceAccountNamespace(String principal) {
    if (!principal.startsWith(SERVICE_ACCOUNT_PREFIX)) {
      return Optional.empty();
    }
    String rest = principal.substring(SERVICE_ACCOUNT_PREFIX.length());
    int colon = rest.indexOf(':');
    return colon > 0 ? Optional.of(rest.substring(0, colon)) : Optional.empty();
  }

  /**
   * The {@code exp} of a JWT, read without checking the signature: only to keep a cached answer no
   * longer than the token lives (TokenReview did the checking). Empty if the token is no JWT.
   */
  static Optional<Instant> expiry(String token) {
    String[] parts = token.split("\\.", -1);
    if (parts.length != 3) {
      return Optional.empty();
    }
    try {
      JsonNode claims = JSON.readTree(Base64.getUrlDecoder().decode(parts[1]));
      JsonNode exp = claims == null ? null : claims.get("exp");
      return exp != null && exp.canConvertToLong()
          ? Optional.of(Instant.ofEpochSecond(exp.asLong()))
          : Optional.empty();
    } catch (Exception e) {
      // Not a JWT we can read: the TTL alone bounds the cache.
      return Optional.empty();
    }
  }

  private static String sha256(String token) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }

  private record Expiring<T>(T value, Instant until) {}

  /** What TokenReview said of a token: who it stands for, or why it was refused. */
  private record Review(Caller who, String refusal) {
    static Review accepted(Caller caller) {
      return new Review(caller, null);
    }

    static Review refused(String why) {
      return new Review(null, why);
    }

    boolean accepted() {
      return who != null;
    }

    Caller caller() throws Unauthenticated {
      if (who == null) {
        throw new Unauthenticated(refusal);
      }
      return who;
    }
  }

  /** What an access decision depends on: who asks, and for what. */
  private record AccessKey(
      Caller caller, String verb, String resource, String name, String namespace) {}

  /** A size-bounded map, least recently used first out. */
  private static final class Lru<K, V> {
    private final int max;
    private final LinkedHashMap<K, V> map;

    Lru(int max) {
      this.max = max;
      this.map =
          new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<K, V> eldest) {
              return size() > Lru.this.max;
            }
          };
    }

    synchronized V get(K key) {
      return map.get(key);
    }

    synchronized void put(K key, V value) {
      if (max > 0) {
        map.put(key, value);
      }
    }
  }
}
