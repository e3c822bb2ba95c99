package io.kmesos.devcluster;

import io.fabric8.kubeapitest.KubeAPIServer;
import io.fabric8.kubeapitest.KubeAPIServerConfigBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * A real kube-apiserver backed by a real etcd, both on 127.0.0.1, started from the binaries that
 * {@code scripts/kube-test-binaries.sh} builds. Nothing is ever downloaded: kube-api-test runs in
 * offline mode, and a missing binary is reported with the command that provides it.
 *
 * <p>Each instance owns its own etcd data directory (deleted on {@link #close()}), so two instances
 * never share state. The client certificate is in {@code system:masters}: tests that need less
 * privilege impersonate a service account, or use a real one's token ({@link ServiceAccountTokens},
 * {@link #newClient(String)}).
 *
 * <p>As in a cluster, the API server authorizes with RBAC and signs ServiceAccount tokens
 * (kube-api-test starts it with {@code --authorization-mode=RBAC}, {@code
 * --service-account-issuer=https://localhost} and a signing key), so TokenRequest, TokenReview and
 * SubjectAccessReview are the real thing; pod-bound tokens name their pod's node (Kubernetes 1.30
 * and later). Its ServiceAccount admission plugin is off: pods need not name an existing account.
 */
public final class LocalKubeApiServer implements AutoCloseable {
  /** Kubernetes release the binaries must be, from the parent pom (overridable for experiments). */
  public static final String KUBE_VERSION =
      System.getProperty("kmesos.kube.version", bundledKubeVersion());

  private final KubeAPIServer server;
  private final String kubeConfigYaml;
  private final List<KubernetesClient> clients = new ArrayList<>();

  private LocalKubeApiServer(KubeAPIServer server) {
    this.server = server;
    this.kubeConfigYaml = server.getKubeConfigYaml();
  }

  /**
   * Starts etcd and kube-apiserver and returns once the API server serves the default namespace.
   */
  public static LocalKubeApiServer start() {
    Path binaries = binaryDirectory();
    for (String name : List.of("kube-apiserver", "etcd", "kubectl")) {
      if (!Files.isExecutable(binaries.resolve(name))) {
        throw new IllegalStateException(
            "No "
                + name
                + " at "
                + binaries.resolve(name)
                + ": run scripts/kube-test-binaries.sh (it builds Kubernetes "
                + KUBE_VERSION
                + " from Go modules; the README's test command runs it for you)");
      }
    }
    KubeAPIServer server =
        new KubeAPIServer(
            KubeAPIServerConfigBuilder.anAPIServerConfig()
                .withOfflineMode(true)
                .withApiServerVersion(KUBE_VERSION)
                .withUpdateKubeConfig(false)
                .withWaitForEtcdHealthCheckOnStartup(true)
                .withStartupTimeout(120_000)
                // Loopback only: the default would listen on every interface.
                .withApiServerFlag("--bind-address", "127.0.0.1")
                .withApiServerFlag("--advertise-address", "127.0.0.1")
                .build());
    server.start();
    return new LocalKubeApiServer(server);
  }

  /** {@code ~/.kubeapitest/k8s/<version>-linux-amd64}, where kube-api-test looks for binaries. */
  public static Path binaryDirectory() {
    return Path.of(
        System.getProperty("user.home"),
        KubeAPIServerConfigBuilder.DIRECTORY_NAME,
        "k8s",
        KUBE_VERSION + "-linux-amd64");
  }

  /** A kubeconfig (client certificate in {@code system:masters}) for this API server. */
  public String kubeConfigYaml() {
    return kubeConfigYaml;
  }

  /** The API server's URL, e.g. {@code https://127.0.0.1:41234}. */
  public String url() {
    return Config.fromKubeconfig(kubeConfigYaml).getMasterUrl().replaceAll("/$", "");
  }

  /**
   * Writes the kubeconfig to {@code file} (owner-only permissions) for kubectl and other processes.
   */
  public Path writeKubeConfig(Path file) {
    return write(file, kubeConfigYaml);
  }

  /**
   * Writes a kubeconfig for this API server that authenticates with a bearer {@code token} (a
   * service account's, from a TokenRequest) instead of the admin certificate: a process run with it
   * has exactly that account's rights.
   */
  public Path writeTokenKubeConfig(Path file, String user, String token) {
    Config admin = Config.fromKubeconfig(kubeConfigYaml);
    String ca =
        admin.getCaCertData() != null
            ? "certificate-authority-data: " + admin.getCaCertData()
            : "certificate-authority: '" + admin.getCaCertFile() + "'";
    return write(
        file,
        String.join(
            "\n",
            "apiVersion: v1",
            "kind: Config",
            "clusters: [{name: local, cluster: {server: '" + url() + "', " + ca + "}}]",
            "users: [{name: " + user + ", user: {token: " + token + "}}]",
            "contexts: [{name: " + user + ", context: {cluster: local, user: " + user + "}}]",
            "current-context: " + user,
            ""));
  }

  private static Path write(Path file, String yaml) {
    try {
      Files.createDirectories(file.toAbsolutePath().getParent());
      Files.writeString(file, yaml);
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write kubeconfig to " + file, e);
    }
  }

  /**
   * A new client for this API server; closed with the server. Its requests may take up to two
   * minutes (fabric8's default is 10 s): a development API server shares a small machine with
   * everything else, and a create whose CEL rules run at their cost bounds took longer than 10 s on
   * a 2-core machine under a load of 40.
   */
  public synchronized KubernetesClient newClient() {
    Config config = Config.fromKubeconfig(kubeConfigYaml);
    config.setRequestTimeout((int) Duration.ofMinutes(2).toMillis());
    KubernetesClient client = new KubernetesClientBuilder().withConfig(config).build();
    clients.add(client);
    return client;
  }

  /**
   * A new client for this API server that authenticates with a bearer {@code token} (a service
   * account's, see {@link ServiceAccountTokens}) instead of the admin certificate, so it has
   * exactly that account's rights; closed with the server.
   */
  public synchronized KubernetesClient newClient(String token) {
    if (token == null || token.isBlank()) {
      throw new IllegalArgumentException("a token client needs a token");
    }
    Config config =
        new ConfigBuilder(Config.fromKubeconfig(kubeConfigYaml))
            .withClientCertData(null)
            .withClientKeyData(null)
            .withClientCertFile(null)
            .withClientKeyFile(null)
            .withOauthToken(token)
            .withRequestTimeout((int) Duration.ofMinutes(2).toMillis())
            .build();
    KubernetesClient client = new KubernetesClientBuilder().withConfig(config).build();
    clients.add(client);
    return client;
  }

  /** Stops kube-apiserver and etcd and deletes etcd's data. */
  @Override
  public synchronized void close() {
    clients.forEach(KubernetesClient::close);
    clients.clear();
    server.stop();
  }

  private static String bundledKubeVersion() {
    try (InputStream in = LocalKubeApiServer.class.getResourceAsStream("kube.properties")) {
      Properties p = new Properties();
      p.load(in);
      return p.getProperty("kube.version");
    } catch (IOException | NullPointerException e) {
      throw new IllegalStateException(
          "io/kmesos/devcluster/kube.properties is missing or unreadable", e);
    }
  }
}
