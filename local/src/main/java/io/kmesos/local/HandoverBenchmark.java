package io.kmesos.local;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.kmesos.api.cli.OneLineErrors;
import io.kmesos.api.cli.VersionProvider;
import io.kmesos.framework.FrameworkClient;
import io.kmesos.framework.ResourceText;
import io.kmesos.replica.local.LocalReplicas;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The master's handover, as a user sees it: two controllers (real JVMs) on a real kube-apiserver
 * and a 3-replica log, with an agent (a {@link SimulatedAgents} session) and a framework connected
 * to the leader, each running one task. The leader is stopped, either cleanly (SIGTERM: it releases
 * the Lease) or by kill -9 (the Lease must expire), and from that signal on the benchmark times:
 * when the standby holds the Lease; when its master port serves (the Operator API answers, where a
 * standby refuses every call UNAVAILABLE); when the agent is re-registered with it; when the
 * framework is subscribed to it again; and, for SIGTERM, when the old process has exited.
 */
@Command(
    name = "kmesos-handover-benchmark",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description =
        "Times the master's handover on SIGTERM of the leader, next to kill -9, under the same Lease"
            + " settings.")
public final class HandoverBenchmark implements Callable<Integer> {
  @Option(
      names = "--leases",
      defaultValue = "15s/10s/2s,4s/3s/500ms",
      split = ",",
      description =
          "Lease settings to measure, duration/renew-deadline/retry-period (default: ${DEFAULT-VALUE}).")
  List<String> leases;

  @Option(
      names = "--modes",
      defaultValue = "sigterm,kill",
      split = ",",
      description = "How the leader is stopped: sigterm, kill (default: ${DEFAULT-VALUE}).")
  List<String> modes;

  @Option(
      names = "--repeats",
      defaultValue = "3",
      description = "Handovers per setting and mode (default: ${DEFAULT-VALUE}).")
  int repeats;

  @Option(
      names = "--work-dir",
      description = "Where the cluster's files and the controllers' logs go (default: a new one).")
  Path workDir;

  public static void main(String[] args) {
    if (System.getProperty("logback.configurationFile") == null) {
      System.setProperty("logback.configurationFile", "kmesos-local-logback.xml");
    }
    System.exit(OneLineErrors.commandLine(new HandoverBenchmark()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    if (repeats < 1) {
      throw new IllegalArgumentException("--repeats must be at least 1, not " + repeats);
    }
    for (String mode : modes) {
      if (!mode.equals("sigterm") && !mode.equals("kill")) {
        throw new IllegalArgumentException("--modes: sigterm or kill, not '" + mode + "'");
      }
    }
    for (String lease : leases) {
      if (lease.split("/").length != 3) {
        throw new IllegalArgumentException(
            "--leases: duration/renew-deadline/retry-period, not '" + lease + "'");
      }
    }
    Path work = workDir != null ? workDir : Files.createTempDirectory("kmesos-handover");
    System.out.printf("setup cores=%d work=%s%n", Runtime.getRuntime().availableProcessors(), work);
    System.out.flush();
    try (FailoverRig rig = new FailoverRig(work)) {
      int round = 0;
      for (int rep = 1; rep <= repeats; rep++) {
        for (String lease : leases) {
          for (String mode : modes) {
            round++;
            System.out.println(
                handover(
                    rig, work.resolve("round-" + round), round, mode, List.of(lease.split("/"))));
            System.out.flush();
          }
        }
      }
    }
    return 0;
  }

  private String handover(FailoverRig rig, Path dir, int round, String mode, List<String> lease)
      throws Exception {
    Files.createDirectories(dir);
    KubernetesClient client = rig.admin;
    String a1 = "127.0.0.1:" + FailoverRig.freePort();
    String a2 = "127.0.0.1:" + FailoverRig.freePort();
    try (LocalReplicas replicas =
            new LocalReplicas(
                    dir.resolve("log"),
                    3,
                    List.of("-Xmx256m", "-XX:TieredStopAtLevel=1"),
                    rig.certs)
                .dieWithLauncher()
                .startAll();
        FailoverRig.AdminChannel ch1 = rig.channel(a1);
        FailoverRig.AdminChannel ch2 = rig.channel(a2)) {
      replicas.initialize("handover", Duration.ofSeconds(60));
      Process first =
          Controllers.start(
              "first",
              replicas,
              rig.kubeconfig,
              LocalCluster.NAMESPACE,
              lease,
              port(a1),
              dir.resolve("first.log"));
      Process second = null;
      SimulatedAgents agents = null;
      FrameworkClient framework = null;
      try {
        FailoverRig.await(
            () -> "first".equals(LocalCluster.leader(client)) && FailoverRig.serves(ch1),
            Duration.ofSeconds(120),
            "the first controller to lead and serve");
        second =
            Controllers.start(
                "second",
                replicas,
                rig.kubeconfig,
                LocalCluster.NAMESPACE,
                lease,
                port(a2),
                dir.resolve("second.log"));
        agents =
            new SimulatedAgents(
                    client,
                    LocalCluster.NAMESPACE,
                    dir.resolve("agents"),
                    rig.agentTls,
                    List.of(a1, a2))
                .start(
                    "handover-" + round,
                    1,
                    Map.of("cpus", 2.0, "mem", 1024.0, "disk", 1024.0),
                    Duration.ofSeconds(120));
        SimulatedAgents sim = agents;
        FailoverFramework scheduler =
            new FailoverFramework(1, 1, ResourceText.parse("cpus:0.1;mem:16"));
        framework = rig.framework("handover-" + round, List.of(a1, a2), scheduler);
        FailoverRig.await(
            () -> sim.upWith(a1) == 1 && scheduler.running() == 1 && a1.equals(scheduler.master()),
            Duration.ofSeconds(120),
            "the agent and the framework (one task running) with the first master");
        // The standby has started and its caches are warm (it answers as a standby).
        FailoverRig.await(
            () -> FailoverRig.standsBy(ch2),
            Duration.ofSeconds(120),
            "the second controller to stand by");
        Thread.sleep(2000);

        long signalled = System.nanoTime();
        if (mode.equals("sigterm")) {
          first.destroy(); // SIGTERM: a clean stop, which releases the Lease
        } else {
          first.destroyForcibly(); // kill -9
        }
        AtomicBoolean over = new AtomicBoolean();
        CompletableFuture<Long> leaseTaken =
            poll(() -> "second".equals(LocalCluster.leader(client)), signalled, over);
        CompletableFuture<Long> serving = poll(() -> FailoverRig.serves(ch2), signalled, over);
        long exited = -1;
        long agentBack = -1;
        long frameworkBack = -1;
        long deadline = signalled + TimeUnit.SECONDS.toNanos(120);
        try {
          while (exited < 0
              || agentBack < 0
              || frameworkBack < 0
              || !leaseTaken.isDone()
              || !serving.isDone()) {
            long now = System.nanoTime();
            if (now > deadline) {
              throw new IllegalStateException(
                  "no complete handover within 120 s (lease "
                      + leaseTaken.getNow(-1L)
                      + " ms, serving "
                      + serving.getNow(-1L)
                      + " ms, agent "
                      + agentBack
                      + " ms, framework "
                      + frameworkBack
                      + " ms); see "
                      + dir);
            }
            if (exited < 0 && !first.isAlive()) {
              exited = millis(signalled, now);
            }
            if (agentBack < 0 && agents.upWith(a2) == 1) {
              agentBack = millis(signalled, now);
            }
            if (frameworkBack < 0
                && a2.equals(scheduler.master())
                && scheduler.subscribedAt() > signalled) {
              frameworkBack = millis(signalled, scheduler.subscribedAt());
            }
            Thread.sleep(2);
          }
        } finally {
          over.set(true);
        }
        return String.format(
            "mode=%s lease=%s renew=%s retry=%s exited_ms=%d lease_ms=%d serving_ms=%d agent_ms=%d"
                + " framework_ms=%d",
            mode,
            lease.get(0),
            lease.get(1),
            lease.get(2),
            exited,
            leaseTaken.get(),
            serving.get(),
            agentBack,
            frameworkBack);
      } finally {
        if (framework != null) {
          framework.close();
        }
        if (agents != null) {
          agents.close();
        }
        first.destroyForcibly();
        if (second != null) {
          second.destroyForcibly();
          second.waitFor(10, TimeUnit.SECONDS);
        }
        first.waitFor(10, TimeUnit.SECONDS);
        rig.deleteAgents();
        client.leases().inNamespace(LocalCluster.NAMESPACE).withName("kmesos-master").delete();
      }
    }
  }

  /** Polls {@code check} on a thread of its own until it holds; completes with ms since start. */
  private static CompletableFuture<Long> poll(
      FailoverRig.Check check, long start, AtomicBoolean over) {
    CompletableFuture<Long> done = new CompletableFuture<>();
    Thread t =
        new Thread(
            () -> {
              try {
                while (!over.get()) {
                  if (ok(check)) {
                    done.complete(millis(start, System.nanoTime()));
                    return;
                  }
                  Thread.sleep(5);
                }
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              done.complete(-1L);
            },
            "handover-poll");
    t.setDaemon(true);
    t.start();
    return done;
  }

  private static boolean ok(FailoverRig.Check check) {
    try {
      return check.ok();
    } catch (Exception e) {
      return false; // e.g. the API server was slow to answer: ask again
    }
  }

  private static long millis(long from, long to) {
    return (to - from) / 1_000_000;
  }

  private static int port(String address) {
    return Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
  }
}
