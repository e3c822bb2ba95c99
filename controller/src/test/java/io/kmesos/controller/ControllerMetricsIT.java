package io.kmesos.controller;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.kmesos.api.tls.CertificateDirectory;
import io.kmesos.api.tls.Identity;
import io.kmesos.crds.v1alpha1.Weight;
import io.kmesos.crds.v1alpha1.WeightSpec;
import io.kmesos.devcluster.LocalKubeApiServer;
import io.kmesos.devcluster.WithKubeApiServer;
import io.kmesos.replica.local.LocalReplicas;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The controller's admin server as Prometheus and the kubelet use it: controller processes against
 * a real kube-apiserver + etcd and a log of replica processes, scraped and probed over HTTP.
 * Mastership, the registrar's and java-operator-sdk's metrics move with what the controllers do;
 * /readyz tells a recovered master and a standby (ready) from a master that cannot reach its log
 * (not ready).
 */
@WithKubeApiServer
class ControllerMetricsIT {
  static final String NS = ControllerProcesses.NAMESPACE;
  static final Duration PATIENCE = Duration.ofSeconds(120);

  static KubernetesClient client;
  static Path kubeconfig;

  @TempDir Path dir;
  LocalReplicas replicas;
  final List<Process> controllers = new ArrayList<>();
  final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void cluster(LocalKubeApiServer server, KubernetesClient k8s, @TempDir Path tmp)
      throws Exception {
    client = k8s;
    kubeconfig = ControllerProcesses.prepare(server, client, tmp, PATIENCE);
  }

  @AfterEach
  void stop() throws Exception {
    ControllerProcesses.killAll(controllers, client);
    client
        .resources(Weight.class)
        .list()
        .getItems()
        .forEach(
            w -> {
              client
                  .resource(w)
                  .edit(
                      x -> {
                        x.getMetadata().setFinalizers(List.of());
                        return x;
                      });
              client.resource(w).withGracePeriod(0).delete();
            });
    if (replicas != null) {
      replicas.close();
    }
  }

  static int freePort() throws Exception {
    try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return free.getLocalPort();
    }
  }

  /** The controller certificate of this test's log, or of a CA of its own when there is no log. */
  String controllerTls() {
    CertificateDirectory certificates;
    if (replicas != null) {
      certificates = replicas.certificates();
    } else {
      certificates = new CertificateDirectory(dir.resolve("tls"));
      LocalReplicas.issueCertificates(certificates);
    }
    return certificates.dir(Identity.CONTROLLER).toString();
  }

  Process controller(String identity, String peers, int metricsPort, String... extra)
      throws Exception {
    Process p =
        ControllerProcesses.start(
            kubeconfig, peers, Path.of(controllerTls()), dir, identity, metricsPort, extra);
    controllers.add(p);
    return p;
  }

  String leader() {
    return ControllerProcesses.leader(client);
  }

  HttpResponse<String> get(int port, String path) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .timeout(Duration.ofSeconds(30))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /**
   * The value of one series as written ({@code name} or {@code name{labels}}), or -1 when absent.
   */
  static double value(String scrape, String series) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(scrape);
    return m.find() ? Double.parseDouble(m.group(1)) : -1;
  }

  /** The sum of every series of {@code name}, whatever its labels; -1 when there is none. */
  static double sum(String scrape, String name) {
    Matcher m =
        Pattern.compile("(?m)^" + Pattern.quote(name) + "(\\{[^}]*})? (\\S+)$").matcher(scrape);
    double total = -1;
    while (m.find()) {
      total = Math.max(total, 0) + Double.parseDouble(m.group(2));
    }
    return total;
  }

  @Test
  void theMasterAndAStandbyReportMastershipTheRegistrarAndReconciles() throws Exception {
    replicas =
        new LocalReplicas(dir.resolve("log"), 3, List.of("-Xmx256m", "-XX:TieredStopAtLevel=1"))
            .startAll();
    replicas.initialize("metrics-it", PATIENCE); // replica JVMs start slowly on a loaded machine
    String peers = String.join(",", replicas.peers());
    int first = freePort();
    int second = freePort();
    Process c1 = controller("c1", peers, first);
    await().atMost(PATIENCE).until(() -> "c1".equals(leader()));
    controller("c2", peers, second);

    await()
        .atMost(PATIENCE)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              var ready = get(first, "/readyz");
              assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);
              assertThat(ready.body()).startsWith("master: the registry is recovered");
              String s = get(first, "/metrics").body();
              assertThat(value(s, "kmesos_master_elected")).isEqualTo(1);
              assertThat(value(s, "kmesos_log_recovered")).isEqualTo(1);
              assertThat(value(s, "kmesos_log_ensemble_size")).isEqualTo(3);
              assertThat(value(s, "kmesos_registrar_state_fetch_seconds_count"))
                  .as("one recovery")
                  .isEqualTo(1);
            });
    await()
        .atMost(PATIENCE)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              var ready = get(second, "/readyz");
              assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);
              assertThat(ready.body()).startsWith("standby:");
              assertThat(get(second, "/healthz").statusCode()).isEqualTo(200);
              String s = get(second, "/metrics").body();
              assertThat(value(s, "kmesos_master_elected")).isEqualTo(0);
              // A standby writes nothing: it has no registrar.
              assertThat(value(s, "kmesos_registrar_state_store_seconds_count")).isEqualTo(-1);
            });

    String before = get(first, "/metrics").body();
    Weight w = new Weight();
    w.getMetadata().setName("metrics");
    w.setSpec(new WeightSpec());
    w.getSpec().setRole("metrics");
    w.getSpec().setWeight(2.5);
    client.resource(w).serverSideApply();
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () -> {
              String s = get(first, "/metrics").body();
              assertThat(value(s, "kmesos_registrar_state_store_seconds_count"))
                  .isGreaterThan(value(before, "kmesos_registrar_state_store_seconds_count"));
              assertThat(value(s, "kmesos_registrar_registry_size_bytes"))
                  .isGreaterThan(value(before, "kmesos_registrar_registry_size_bytes"));
              assertThat(value(s, "kmesos_log_append_seconds_count"))
                  .isGreaterThan(value(before, "kmesos_log_append_seconds_count"));
              assertThat(value(s, "kmesos_registrar_queued_operations")).isGreaterThanOrEqualTo(0);
              // java-operator-sdk's own, per controller (kind) and never per resource
              assertThat(sum(s, "operator_sdk_reconciliations_success_total")).isGreaterThan(0);
              assertThat(s).doesNotContain("name=\"metrics\"");
            });

    // Failover: the standby becomes the master, and its metrics and readiness say so.
    c1.destroyForcibly();
    c1.waitFor(30, TimeUnit.SECONDS);
    await()
        .atMost(PATIENCE)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              String s = get(second, "/metrics").body();
              assertThat(value(s, "kmesos_master_elected")).isEqualTo(1);
              assertThat(value(s, "kmesos_log_recovered")).isEqualTo(1);
              assertThat(value(s, "kmesos_registrar_state_fetch_seconds_count")).isEqualTo(1);
              assertThat(get(second, "/readyz").body())
                  .startsWith("master: the registry is recovered");
            });
  }

  @Test
  void aMasterThatCannotReachItsLogIsAliveButNotReady() throws Exception {
    // Nobody listens at these addresses: the log is down.
    String peers =
        "127.0.0.1:" + freePort() + ",127.0.0.1:" + freePort() + ",127.0.0.1:" + freePort();
    int port = freePort();
    controller("lonely", peers, port, "--log-election-deadline", "600s");
    await().atMost(PATIENCE).until(() -> "lonely".equals(leader()));
    await()
        .atMost(PATIENCE)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              var ready = get(port, "/readyz");
              assertThat(ready.statusCode()).isEqualTo(503);
              assertThat(ready.body())
                  .isEqualTo("master: recovering the registry from the log; not reconciling yet\n");
              var alive = get(port, "/healthz");
              assertThat(alive.statusCode()).as(alive.body()).isEqualTo(200);
              String s = get(port, "/metrics").body();
              assertThat(value(s, "kmesos_master_elected")).isEqualTo(1);
              assertThat(value(s, "kmesos_log_recovered")).isEqualTo(0);
              assertThat(value(s, "kmesos_log_ensemble_size")).isEqualTo(0);
            });
  }
}
