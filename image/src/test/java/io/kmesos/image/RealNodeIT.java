package io.kmesos.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.kmesos.crds.v1alpha1.Agent;
import io.kmesos.crds.v1alpha1.MaintenanceSchedule;
import io.kmesos.crds.v1alpha1.Quota;
import io.kmesos.crds.v1alpha1.RegistryStatus;
import io.kmesos.crds.v1alpha1.Weight;
import io.kmesos.devcluster.LocalKubeApiServer;
import io.kmesos.devcluster.RealNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * kmesos as an operator installs it, on a real node: the image this module built, imported into a
 * node of scripts/kube-node.sh, {@code kubectl apply --server-side -k
 * manifests/overlays/real-node}, every Pod Ready through its own probes (replicas, controllers, the
 * agent; the Jobs done), then the examples admitted into the registry by the real master. Runs only
 * with {@code -Preal-node} (root, scripts/kube-node-binaries.sh; docs/real-node.md).
 */
class RealNodeIT {
  static final Path ROOT = RealNode.script().getParent().getParent();
  static RealNode node;
  static KubernetesClient client;

  @BeforeAll
  static void deploy() throws Exception {
    node = RealNode.up(Path.of("target", "real-node"));
    client = node.client();
    node.importImage(Path.of("target", "kmesos-image.tar"));
    kubectl("apply", "--server-side", "-k", "manifests/overlays/real-node");
  }

  @AfterAll
  static void down() {
    if (node != null) {
      node.close();
    }
  }

  @Test
  void everyPodIsReadyAndTheRegistryAdmitsTheExamples() throws Exception {
    // Generous: seven JVMs start on a machine that may be busy; each gets Ready by its probes.
    await()
        .atMost(Duration.ofMinutes(10))
        .pollInterval(Duration.ofSeconds(2))
        .untilAsserted(() -> assertThat(podsNotDone()).isEmpty());
    assertThat(client.apps().statefulSets().inNamespace("kmesos").withName("kmesos-replica").get())
        .satisfies(s -> assertThat(s.getStatus().getReadyReplicas()).isEqualTo(3));
    assertThat(
            client
                .apps()
                .deployments()
                .inNamespace("kmesos")
                .withName("kmesos-controller")
                .get()
                .getStatus()
                .getReadyReplicas())
        .isEqualTo(2);
    assertThat(
            client
                .apps()
                .daemonSets()
                .inNamespace("kmesos")
                .withName("kmesos-agent")
                .get()
                .getStatus()
                .getNumberReady())
        .isEqualTo(1);
    for (String job : List.of("kmesos-certs", "kmesos-log-initialize")) {
      assertThat(client.batch().v1().jobs().inNamespace("kmesos").withName(job).get().getStatus())
          .as(job)
          .satisfies(s -> assertThat(s.getSucceeded()).isEqualTo(1));
    }

    // The node's own agent registered itself; the registry (the master, through the replicated
    // log) admitted it.
    await()
        .atMost(Duration.ofMinutes(5))
        .untilAsserted(
            () ->
                assertThat(
                        client
                            .resources(Agent.class)
                            .withName(RealNode.NODE_NAME)
                            .get()
                            .getStatus())
                    .satisfies(s -> assertThat(s.getState()).isEqualTo("Admitted")));

    // ... and keeps a session with the leading master: mutual TLS with the agent certificate and
    // its pod-bound token, which names this node.
    await()
        .atMost(Duration.ofMinutes(5))
        .untilAsserted(
            () ->
                assertThat(
                        client
                            .pods()
                            .inNamespace("kmesos")
                            .withLabel("app.kubernetes.io/name", "kmesos-agent")
                            .list()
                            .getItems())
                    .singleElement()
                    .satisfies(
                        p ->
                            assertThat(
                                    client
                                        .pods()
                                        .inNamespace("kmesos")
                                        .withName(p.getMetadata().getName())
                                        .inContainer("agent")
                                        .getLog())
                                .contains("registered with master kmesos-master.kmesos.svc:5050")));

    kubectl(
        "apply",
        "--server-side",
        "-f",
        "examples/agents.yaml",
        "-f",
        "examples/quotas.yaml",
        "-f",
        "examples/weights.yaml",
        "-f",
        "examples/maintenance.yaml");
    await()
        .atMost(Duration.ofMinutes(5))
        .pollInterval(Duration.ofSeconds(1))
        .untilAsserted(
            () ->
                assertThat(readiness())
                    .containsAllEntriesOf(
                        Map.of(
                            "Agent/" + RealNode.NODE_NAME,
                            "True InRegistry",
                            "Agent/node-a",
                            "True InRegistry",
                            "Agent/node-b",
                            "True InRegistry",
                            "Agent/node-gpu-1",
                            "True InRegistry",
                            "Quota/analytics",
                            "True InRegistry",
                            "Quota/ml",
                            "True InRegistry",
                            "Quota/ml-training",
                            "True InRegistry",
                            "Weight/analytics",
                            "True InRegistry",
                            "Weight/batch",
                            "True InRegistry",
                            "MaintenanceSchedule/december-kernel-upgrade",
                            "True InRegistry")));
  }

  /** Pods of kmesos that are neither Ready nor Succeeded, with their phase; empty once all are. */
  static Map<String, String> podsNotDone() {
    List<Pod> pods = client.pods().inNamespace("kmesos").list().getItems();
    assertThat(pods).as("kmesos' pods").hasSizeGreaterThanOrEqualTo(8);
    Map<String, String> notDone = new TreeMap<>();
    for (Pod p : pods) {
      boolean ready =
          p.getStatus().getConditions().stream()
              .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
      if (!ready && !"Succeeded".equals(p.getStatus().getPhase())) {
        notDone.put(
            p.getMetadata().getName(),
            p.getStatus().getPhase()
                + " "
                + p.getStatus().getConditions().stream()
                    .map(PodCondition::getMessage)
                    .filter(m -> m != null)
                    .collect(Collectors.joining("; ")));
      }
    }
    return notDone;
  }

  /** Every kmesos resource's Ready condition, "status reason", by kind/name. */
  static Map<String, String> readiness() {
    Map<String, String> ready = new TreeMap<>();
    readiness(ready, Agent.class);
    readiness(ready, Quota.class);
    readiness(ready, Weight.class);
    readiness(ready, MaintenanceSchedule.class);
    return ready;
  }

  static <R extends CustomResource<?, ? extends RegistryStatus>> void readiness(
      Map<String, String> ready, Class<R> type) {
    for (R r : client.resources(type).list().getItems()) {
      RegistryStatus s = r.getStatus();
      ready.put(
          r.getKind() + "/" + r.getMetadata().getName(),
          s == null || s.getConditions() == null
              ? "no status"
              : s.getConditions().stream()
                  .filter(c -> "Ready".equals(c.getType()))
                  .map((Condition c) -> c.getStatus() + " " + c.getReason())
                  .findFirst()
                  .orElse("no Ready condition"));
    }
  }

  /** kubectl (of scripts/kube-test-binaries.sh) against the node, from the checkout's root. */
  static void kubectl(String... args) throws IOException, InterruptedException {
    List<String> cmd =
        new ArrayList<>(
            List.of(LocalKubeApiServer.binaryDirectory().resolve("kubectl").toString()));
    cmd.addAll(List.of(args));
    Path out = Files.createTempFile("kubectl", ".out");
    try {
      ProcessBuilder pb =
          new ProcessBuilder(cmd)
              .directory(ROOT.toFile())
              .redirectErrorStream(true)
              .redirectOutput(out.toFile());
      pb.environment().put("KUBECONFIG", node.kubeconfig().toString());
      Process p = pb.start();
      assertThat(p.waitFor(2, TimeUnit.MINUTES)).as("kubectl %s finished", args[0]).isTrue();
      assertThat(p.exitValue()).as("kubectl %s:%n%s", cmd, Files.readString(out)).isZero();
    } finally {
      Files.deleteIfExists(out);
    }
  }
}
