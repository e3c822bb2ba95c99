package io.kmesos.local;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.kmesos.api.cli.OneLineErrors;
import io.kmesos.api.cli.VersionProvider;
import io.kmesos.crds.KmesosCrds;
import io.kmesos.crds.v1alpha1.Weight;
import io.kmesos.crds.v1alpha1.WeightSpec;
import io.kmesos.devcluster.LocalKubeApiServer;
import io.kmesos.registry.RegistryContents;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.local.LocalReplicas;
import io.kmesos.replica.state.State;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Failover of the master, measured as a user sees it: two controllers on a real kube-apiserver and
 * a 3-replica log; kill -9 the one holding the Lease, create a resource at once, and time how long
 * until the other controller has reconciled it into the registry. Also reports when the Lease
 * changed hands.
 */
@Command(
    name = "kmesos-failover-benchmark",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description =
        "Times master failover: kill -9 of the leader to the first change reconciled by the new one.")
public final class FailoverBenchmark implements Callable<Integer> {
  @Option(
      names = "--leases",
      defaultValue = "15s/10s/2s,4s/3s/500ms",
      split = ",",
      description =
          "Lease settings to measure, duration/renew-deadline/retry-period (default: ${DEFAULT-VALUE}).")
  List<String> leases;

  @Option(
      names = "--repeats",
      defaultValue = "3",
      description = "Failovers per setting (default: ${DEFAULT-VALUE}).")
  int repeats;

  public static void main(String[] args) {
    if (System.getProperty("logback.configurationFile") == null) {
      System.setProperty("logback.configurationFile", "kmesos-local-logback.xml");
    }
    System.exit(OneLineErrors.commandLine(new FailoverBenchmark()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    Path work = Files.createTempDirectory("kmesos-failover");
    try (LocalKubeApiServer server = LocalKubeApiServer.start()) {
      Path kubeconfig = server.writeKubeConfig(work.resolve("kubeconfig"));
      KubernetesClient client = server.newClient();
      KmesosCrds.install(client, Duration.ofSeconds(60));
      client
          .namespaces()
          .resource(
              new NamespaceBuilder()
                  .withNewMetadata()
                  .withName(LocalCluster.NAMESPACE)
                  .endMetadata()
                  .build())
          .serverSideApply();
      int round = 0;
      for (int rep = 0; rep < repeats; rep++) {
        for (String lease : leases) {
          System.out.println(
              failover(
                  client,
                  kubeconfig,
                  work.resolve("round-" + (++round)),
                  List.of(lease.split("/"))));
          System.out.flush();
        }
      }
    }
    return 0;
  }

  private String failover(KubernetesClient client, Path kubeconfig, Path dir, List<String> lease)
      throws Exception {
    Files.createDirectories(dir);
    try (LocalReplicas replicas =
            new LocalReplicas(dir.resolve("log"), 3).dieWithLauncher().startAll();
        Log log = replicas.client()) {
      replicas.initialize("failover", Duration.ofSeconds(60));
      String peers = String.join(",", replicas.peers());
      Process first =
          Controllers.start(
              "first",
              replicas,
              kubeconfig,
              LocalCluster.NAMESPACE,
              lease,
              0,
              dir.resolve("first.log"));
      Process second = null;
      try {
        await(
            () -> "first".equals(LocalCluster.leader(client)),
            Duration.ofSeconds(60),
            "the first controller to lead");
        second =
            Controllers.start(
                "second",
                replicas,
                kubeconfig,
                LocalCluster.NAMESPACE,
                lease,
                0,
                dir.resolve("second.log"));
        weight(client, "before", "team-before");
        await(() -> hasWeight(log, "team-before"), Duration.ofSeconds(60), "the first change");
        Thread.sleep(2000); // the follower's caches are warm

        first.destroyForcibly(); // kill -9
        long killed = System.nanoTime();
        weight(client, "after", "team-after");
        long leaseMillis = -1;
        while (!hasWeight(log, "team-after")) {
          if (leaseMillis < 0 && "second".equals(LocalCluster.leader(client))) {
            leaseMillis = (System.nanoTime() - killed) / 1_000_000;
          }
          if (System.nanoTime() - killed > TimeUnit.SECONDS.toNanos(120)) {
            throw new IllegalStateException("no failover within 120 s; see " + dir);
          }
          Thread.sleep(20);
        }
        long millis = (System.nanoTime() - killed) / 1_000_000;
        return String.format(
            "lease=%s renew=%s retry=%s lease_taken_ms=%d failover_ms=%d",
            lease.get(0),
            lease.get(1),
            lease.get(2),
            leaseMillis < 0 ? millis : leaseMillis,
            millis);
      } finally {
        first.destroyForcibly();
        if (second != null) {
          second.destroyForcibly();
          second.waitFor(10, TimeUnit.SECONDS);
        }
        for (HasMetadata w : client.resources(Weight.class).list().getItems()) {
          client
              .resource(w)
              .edit(
                  x -> {
                    x.getMetadata().setFinalizers(List.of());
                    return x;
                  });
          client.resource(w).withGracePeriod(0).delete();
        }
        client.leases().inNamespace(LocalCluster.NAMESPACE).withName("kmesos-master").delete();
      }
    }
  }

  private static void weight(KubernetesClient client, String name, String role) {
    Weight w = new Weight();
    w.getMetadata().setName(name);
    w.setSpec(new WeightSpec());
    w.getSpec().setRole(role);
    w.getSpec().setWeight(2.0);
    client.resource(w).create();
  }

  private static boolean hasWeight(Log log, String role) throws Exception {
    State.Contents read = State.read(log, Duration.ofSeconds(10));
    return RegistryContents.of(read.variables(), read.sequence())
        .toProto()
        .getWeightsList()
        .stream()
        .anyMatch(w -> w.getRole().equals(role));
  }

  private interface Check {
    boolean ok() throws Exception;
  }

  private static void await(Check check, Duration timeout, String what) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!check.ok()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("waited " + timeout + " for " + what);
      }
      Thread.sleep(50);
    }
  }
}
