package io.kmesos.controller;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.kmesos.crds.KmesosCrds;
import io.kmesos.devcluster.LocalKubeApiServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Controller JVMs as the integration tests run them: as the {@code kmesos-controller} service
 * account with exactly the manifests' RBAC (a permission the manifests lack fails the tests), short
 * Lease timings so that failover takes seconds, and one log file per controller in the test's
 * directory.
 */
final class ControllerProcesses {
  static final String NAMESPACE = "kmesos";
  static final String LEASE = "kmesos-master";

  private ControllerProcesses() {}

  /**
   * Installs the CRDs, the namespace and the manifests' RBAC into {@code client}'s API server and
   * returns a kubeconfig holding a token of the controller's service account.
   */
  static Path prepare(
      LocalKubeApiServer server, KubernetesClient client, Path dir, Duration patience)
      throws Exception {
    KmesosCrds.install(client, patience);
    client
        .namespaces()
        .resource(
            new NamespaceBuilder().withNewMetadata().withName(NAMESPACE).endMetadata().build())
        .serverSideApply();
    try (var in = Files.newInputStream(Path.of("../manifests/base/controller-rbac.yaml"))) {
      for (HasMetadata o : client.load(in).items()) {
        boolean clusterScoped = o instanceof ClusterRole || o instanceof ClusterRoleBinding;
        (clusterScoped ? client.resource(o) : client.resource(o).inNamespace(NAMESPACE))
            .serverSideApply();
      }
    }
    var token =
        client
            .serviceAccounts()
            .inNamespace(NAMESPACE)
            .withName("kmesos-controller")
            .tokenRequest(
                new TokenRequestBuilder()
                    .withNewSpec()
                    .withAudiences(List.of())
                    .withExpirationSeconds(3600L)
                    .endSpec()
                    .build());
    return server.writeTokenKubeConfig(
        dir.resolve("controller-kubeconfig"), "controller", token.getStatus().getToken());
  }

  /**
   * Starts a controller named {@code identity} on the log {@code peers}, with its output in {@code
   * <logDir>/<identity>.log}; {@code extra} flags come last and so win.
   */
  static Process start(
      Path kubeconfig,
      String peers,
      Path tlsDir,
      Path logDir,
      String identity,
      int metricsPort,
      String... extra)
      throws Exception {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx384m",
                // C1 only: a test's controller lives for minutes, and on a small busy machine C2's
                // work at start costs more than its code gives back (as ReplicaProcesses.TEST_JVM).
                "-XX:TieredStopAtLevel=1",
                "-cp",
                System.getProperty("java.class.path"),
                ControllerMain.class.getName(),
                "--peers",
                peers,
                "--kubeconfig",
                kubeconfig.toString(),
                "--lease-namespace",
                NAMESPACE,
                "--identity",
                identity,
                "--lease-duration",
                "4s",
                "--renew-deadline",
                "3s",
                "--retry-period",
                "500ms",
                "--metrics-port",
                Integer.toString(metricsPort),
                "--tls-dir",
                tlsDir.toString()));
    if (!List.of(extra).contains("--master-port")) {
      // Several controllers share this host: each takes a free port for the master's API.
      cmd.addAll(List.of("--master-port", "0"));
    }
    cmd.addAll(List.of(extra));
    return new ProcessBuilder(cmd)
        .redirectErrorStream(true)
        .redirectOutput(logDir.resolve(identity + ".log").toFile())
        .start();
  }

  /** The identity holding the master's Lease, or null. */
  static String leader(KubernetesClient client) {
    Lease lease = client.leases().inNamespace(NAMESPACE).withName(LEASE).get();
    return lease == null || lease.getSpec() == null ? null : lease.getSpec().getHolderIdentity();
  }

  /**
   * Kills every controller (a test's end need not be graceful) and frees the Lease for the next.
   */
  static void killAll(List<Process> controllers, KubernetesClient client)
      throws InterruptedException {
    for (Process p : controllers) {
      p.destroyForcibly();
      p.waitFor(30, TimeUnit.SECONDS);
    }
    controllers.clear();
    client.leases().inNamespace(NAMESPACE).withName(LEASE).delete();
  }
}
