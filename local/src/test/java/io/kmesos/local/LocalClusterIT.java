package io.kmesos.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.kmesos.devcluster.LocalKubeApiServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's main job, exercised as a user would: start it, follow its printed instructions with
 * the real kubectl, then stop it as Ctrl-C would and see everything stop.
 */
class LocalClusterIT {
  @TempDir Path stateDir;

  @Test
  void startsAnswersKubectlAndStopsOnCtrlC() throws Exception {
    Path log = stateDir.resolve("kmesos-local.out");
    Process p =
        new ProcessBuilder(
                Proc.java(),
                "-jar",
                "local/target/kmesos-local.jar",
                "--state-dir",
                stateDir.toString())
            .directory(Proc.ROOT.toFile())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    Callable<String> output = () -> Files.readString(log);
    try {
      // Generous: it starts a dozen JVMs and waits for tasks to run, on a machine that may be busy.
      await()
          .atMost(Duration.ofMinutes(8))
          .until(() -> output.call().contains("press Ctrl-C to stop") || !p.isAlive());
      assertThat(p.isAlive()).as("kmesos-local exited early:%n%s", output.call()).isTrue();

      Path kubeconfig = stateDir.resolve("kubeconfig");
      assertThat(output.call())
          .contains("kubeconfig      " + kubeconfig)
          .contains("examples        9 applied")
          .contains("reconciled      9 of 9 Ready in the registry")
          .containsPattern("the master \\(Lease kmesos/kmesos-master\\) is controller-[12]")
          .containsPattern("  master          127\\.0\\.0\\.1:\\d+,127\\.0\\.0\\.1:\\d+")
          .contains("  agents          local-1, local-2")
          .contains(
              "  framework       long-running-service as ServiceAccount demo/demo-framework, role "
                  + "analytics: 3 of 3 tasks running")
          // the master's state as kmesos-state prints it: the demo's tasks run on the agents
          .contains("The master now (kmesos-state):", "FRAMEWORKS (1)", "AGENTS (2)", "TASKS (3)")
          .containsPattern("long-running-service-\\d+ .* TASK_RUNNING")
          // the registry as kmesos-registry show prints it: what the examples declared, admitted
          .contains(
              "hostname: node-gpu-1.cluster.local",
              "state: ADMITTED",
              "role: ml/training",
              "weight: 0.5",
              "mode: DRAINING",
              "name: december-kernel-upgrade");
      Matcher peers = Pattern.compile("  log             (\\S+)").matcher(output.call());
      assertThat(peers.find()).isTrue();
      // Everything speaks mutual TLS with a CA of kmesos-local's own; tools use the admin
      // certificate it points to.
      assertThat(output.call())
          .contains(
              "  TLS             mutual TLS on every connection; CA and certificates in "
                  + stateDir.resolve("tls").toAbsolutePath());
      Path admin = stateDir.resolve("tls").resolve("admin").toAbsolutePath();
      assertThat(output.call()).contains("export KMESOS_TLS_DIR=" + admin);
      assertThat(admin.resolve("tls.crt")).exists();
      Proc show =
          Proc.run(
              Duration.ofSeconds(120),
              Map.of("KMESOS_TLS_DIR", admin.toString()),
              List.of(
                  Proc.java(),
                  "-jar",
                  "registry/target/kmesos-registry.jar",
                  "show",
                  "--peers",
                  peers.group(1),
                  "--format",
                  "json"));
      assertThat(show.exitCode()).as(show.stderr()).isZero();
      assertThat(show.stdout()).contains("\"hostname\": \"node-a.cluster.local\"");
      String kubectl = LocalKubeApiServer.binaryDirectory().resolve("kubectl").toString();
      Map<String, String> env = Map.of("KUBECONFIG", kubeconfig.toString());

      Proc get =
          Proc.run(Duration.ofSeconds(120), env, List.of(kubectl, "get", "kmesos", "-o", "name"));
      assertThat(get.exitCode()).as(get.stderr()).isZero();
      assertThat(get.stdout().lines().sorted().toList())
          .containsExactly(
              "agent.kmesos.io/local-1",
              "agent.kmesos.io/local-2",
              "agent.kmesos.io/node-a",
              "agent.kmesos.io/node-b",
              "agent.kmesos.io/node-gpu-1",
              "maintenanceschedule.kmesos.io/december-kernel-upgrade",
              "quota.kmesos.io/analytics",
              "quota.kmesos.io/ml",
              "quota.kmesos.io/ml-training",
              "weight.kmesos.io/analytics",
              "weight.kmesos.io/batch");

      // The agents show what they run: the demo's three tasks between them.
      Proc agents =
          Proc.run(
              Duration.ofSeconds(120),
              env,
              List.of(
                  kubectl,
                  "get",
                  "agents",
                  "local-1",
                  "local-2",
                  "-o",
                  "jsonpath={.items[*].status.tasksRunning}"));
      assertThat(agents.exitCode()).as(agents.stderr()).isZero();
      assertThat(
              Pattern.compile("\\d+")
                  .matcher(agents.stdout())
                  .results()
                  .mapToInt(m -> Integer.parseInt(m.group()))
                  .sum())
          .as(agents.stdout())
          .isEqualTo(3);

      Proc invalid =
          Proc.run(
              Duration.ofSeconds(120),
              env,
              List.of(kubectl, "apply", "-f", "examples/invalid/quota-guarantee-above-limit.yaml"));
      assertThat(invalid.exitCode()).isNotZero();
      assertThat(invalid.stderr())
          .contains("spec.guarantees")
          .contains("must not exceed spec.limits");
      // Every example of what the API server refuses is refused, naming the field, and nothing is
      // created.
      Proc allInvalid =
          Proc.run(
              Duration.ofSeconds(120), env, List.of(kubectl, "apply", "-f", "examples/invalid/"));
      assertThat(allInvalid.exitCode()).isNotZero();
      assertThat(allInvalid.stdout()).as("nothing created or configured").isBlank();
      assertThat(
              allInvalid
                  .stderr()
                  .lines()
                  .filter(l -> l.startsWith("Error from server (Invalid)"))
                  .toList())
          .hasSize(5)
          .anyMatch(
              l ->
                  l.contains("\"stranger\" is invalid")
                      && l.contains("spec.windows[0].machines[0].ip")
                      && l.contains("spec.down"))
          .anyMatch(l -> l.contains("\"twice\" is invalid") && l.contains("spec.windows"))
          .anyMatch(
              l ->
                  l.contains("\"never\" is invalid")
                      && l.contains("spec.windows[0].start in body must be of type date-time"))
          .anyMatch(l -> l.contains("\"greedy\" is invalid") && l.contains("spec.guarantees"))
          .anyMatch(l -> l.contains("\"nobody\" is invalid") && l.contains("spec.weight"));

      // Only what the user asked for: no logging set-up chatter.
      assertThat(output.call())
          .doesNotContain("ch.qos.logback")
          .doesNotContain("occurs multiple times")
          .doesNotContain("SLF4J");

      List<ProcessHandle> children = p.descendants().toList();
      assertThat(children)
          .as("API server, etcd, replicas and controllers run as processes of their own")
          .hasSizeGreaterThanOrEqualTo(7);

      // A process that dies while it runs is reported, once, with where its output is.
      ProcessHandle controller2 =
          p.descendants()
              .filter(h -> h.info().commandLine().orElse("").contains("--identity controller-2"))
              .findFirst()
              .orElseThrow();
      controller2.destroyForcibly(); // kill -9
      await()
          .atMost(Duration.ofSeconds(120))
          .until(
              () ->
                  output
                      .call()
                      .contains(
                          "kmesos-local: controller-2 (pid "
                              + controller2.pid()
                              + ") exited with status 137; its output is in "
                              + stateDir.resolve("controller-2.log")));

      ProcessHandle agent2 =
          p.descendants()
              .filter(h -> h.info().commandLine().orElse("").contains("--node-name local-2"))
              .findFirst()
              .orElseThrow();
      // SIGTERM: an agent that stops kills its tasks (one killed with -9 would leave them).
      agent2.destroy();
      await()
          .atMost(Duration.ofSeconds(120))
          .until(
              () ->
                  output
                      .call()
                      .contains(
                          "kmesos-local: agent local-2 (pid "
                              + agent2.pid()
                              + ") exited with status 143; its output is in "
                              + stateDir.resolve("agent-local-2.log")));

      Matcher url = Pattern.compile("kube-apiserver  (https://\\S+)").matcher(output.call());
      assertThat(url.find()).isTrue();
      URI apiServer = URI.create(url.group(1));

      // Ctrl-C and SIGTERM take the same path (the JVM's shutdown hooks); SIGTERM is used because a
      // test runner started in the background may have inherited an ignored SIGINT.
      p.destroy();
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("stops when asked").isTrue();
      await()
          .atMost(Duration.ofSeconds(120))
          .untilAsserted(
              () ->
                  assertThat(children)
                      .as("nothing it started is left running")
                      .noneMatch(ProcessHandle::isAlive));
      assertThat(output.call())
          .contains("kmesos-local: stopping")
          .endsWith("kmesos-local: stopped\n");
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress(apiServer.getHost(), apiServer.getPort()), 1000);
        throw new AssertionError("the API server still listens on " + apiServer);
      } catch (IOException expected) {
        // connection refused: the API server is gone
      }
      assertThat(Files.exists(kubeconfig)).isTrue();
      for (String peer : peers.group(1).split(",")) {
        try (Socket s = new Socket()) {
          s.connect(
              new InetSocketAddress(
                  "127.0.0.1", Integer.parseInt(peer.substring(peer.lastIndexOf(':') + 1))),
              1000);
          throw new AssertionError("a replica still listens on " + peer);
        } catch (IOException expected) {
          // connection refused: the replica is gone
        }
      }
    } finally {
      // Gracefully first: killed with -9, kmesos-local's agents die at once (they are tied to it)
      // and the tasks they run, in sessions of their own, would be left running.
      p.destroy();
      if (!p.waitFor(90, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
    }
  }
}
