package io.kmesos.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.util.Durations;
import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.ServerTrust;
import io.kmesos.api.tls.TlsSettings;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.devcluster.LocalKubeApiServer;
import io.kmesos.local.KmesosLocalFixture.KmesosLocal;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Tasks end to end, as a user of bin/kmesos-local runs them: kmesos-local brings up kube-apiserver,
 * the log, the controllers (one is the master), two agents and the demo framework, all as processes
 * of their own; kmesos-execute runs commands as tasks on it with the token kmesos-local wrote for
 * the ServiceAccount demo/demo-framework, and kmesos-state shows what the master holds.
 */
@ExtendWith(KmesosLocalFixture.class)
class TasksIT {
  private static final Duration PATIENCE = Duration.ofMinutes(3);

  private static Path stateDir;
  private static String masters;
  private static Path token;
  private static Path tls;

  /** kmesos-local is shared with the other ITs of this JVM (KmesosLocalFixture): it starts once. */
  @BeforeAll
  static void startKmesosLocal(KmesosLocal local) {
    stateDir = local.stateDir();
    masters = local.masters();
    token = local.token();
    tls = local.tls();
  }

  private static Proc execute(String role, String name, String command) throws Exception {
    return Proc.run(
        PATIENCE,
        Map.of(),
        List.of(
            Proc.java(),
            "-jar",
            "framework/target/kmesos-framework.jar",
            "--master",
            masters,
            "--tls-dir",
            tls.toString(),
            "--token-file",
            token.toString(),
            "--role",
            role,
            "--name",
            name,
            "--command",
            command,
            "--resources",
            "cpus:0.1;mem:32"));
  }

  private static Proc state() throws Exception {
    return Proc.run(
        PATIENCE,
        Map.of(),
        List.of(
            Proc.java(),
            "-cp",
            "framework/target/kmesos-framework.jar",
            "io.kmesos.framework.state.StateCommand",
            "--master",
            masters,
            "--tls-dir",
            tls.toString()));
  }

  @Test
  void aCommandThatSucceedsFinishesAndShowsInTheOperatorViewWhileItRuns() throws Exception {
    CompletableFuture<Proc> run =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return execute("analytics", "it-sleeps", "sleep 20; echo done");
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });
    // While it runs, the master's state shows the task running, next to the demo's tasks.
    List<String> seen = new ArrayList<>();
    await()
        .atMost(PATIENCE)
        .until(
            () -> {
              Proc s = state();
              seen.add(s.stdout() + s.stderr());
              return s.exitCode() == 0
                  && s.stdout()
                      .lines()
                      .anyMatch(l -> l.contains("it-sleeps") && l.contains("TASK_RUNNING"));
            });
    Proc done = run.get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
    assertThat(done.exitCode()).as(done.stdout() + done.stderr()).isZero();
    assertThat(done.stdout()).contains("TASK_RUNNING").contains("TASK_FINISHED");
    // Once it ended its framework is torn down: the master no longer lists it.
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () -> {
              Proc s = state();
              assertThat(s.exitCode()).as(s.stderr()).isZero();
              assertThat(s.stdout())
                  .doesNotContain("it-sleeps")
                  .contains("long-running-service")
                  .contains("AGENTS (2)");
            });
  }

  @Test
  void aCommandThatFailsEndsWithItsExitStatus() throws Exception {
    Proc failed = execute("analytics", "it-fails", "exit 3");
    assertThat(failed.exitCode()).as(failed.stdout() + failed.stderr()).isEqualTo(3);
    assertThat(failed.stdout()).contains("TASK_FAILED").contains("exit code 3");
  }

  @Test
  void aRoleTheAccountMayNotUseIsRefused() throws Exception {
    Proc refused = execute("batch", "it-refused", "true");
    assertThat(refused.exitCode()).as(refused.stdout() + refused.stderr()).isEqualTo(1);
    assertThat(refused.stdout() + refused.stderr())
        .contains("batch")
        .contains("system:serviceaccount:demo:demo-framework");
  }

  private static ServerTrust trust() {
    return ServerTrust.load(tls.resolve("ca.crt"), Identity.CONTROLLER, TlsSettings.DEFAULT_RELOAD);
  }

  private static List<String> masterList() {
    return List.of(masters.split(","));
  }

  /**
   * Two frameworks in roles of weights 2 (analytics, examples/weights.yaml) and 1 (ml/training),
   * each taking one slot per offer until the agents are full: the master hands the slots out by
   * weighted DRF, so at the end analytics (with the demo's tasks) holds about twice the cpus of
   * ml/training. Then a kill, and a teardown that ends every task of a framework.
   */
  @Test
  void twoFrameworksShareTheAgentsByWeightedDrfThenKillAndTeardown() throws Exception {
    String slot = "cpus:0.1;mem:16";
    try (ServerTrust trust = trust();
        GreedyFramework analytics =
            new GreedyFramework(
                masterList(),
                trust.channelCredentials(),
                token,
                FrameworkInfo.newBuilder().setName("drf-analytics"),
                "analytics",
                slot,
                "sleep 600",
                200);
        GreedyFramework training =
            new GreedyFramework(
                masterList(),
                trust.channelCredentials(),
                token,
                FrameworkInfo.newBuilder().setName("drf-training"),
                "ml/training",
                slot,
                "sleep 600",
                200)) {
      // Full: no slot of 0.1 cpus is left on either agent, and nothing is still starting.
      await()
          .atMost(PATIENCE)
          .pollInterval(Duration.ofSeconds(2))
          .until(
              () -> {
                long running =
                    analytics.inState(TaskState.TASK_RUNNING)
                        + training.inState(TaskState.TASK_RUNNING);
                return running > 10
                    && running == analytics.launched() + training.launched()
                    && freeCpus() < 0.1 + 1e-9;
              });
      double analyticsCpus = 0.1 * (analytics.inState(TaskState.TASK_RUNNING) + 3); // + the demo's
      double trainingCpus = 0.1 * training.inState(TaskState.TASK_RUNNING);
      assertThat(analyticsCpus / trainingCpus)
          .as("analytics %.1f cpus, ml/training %.1f cpus", analyticsCpus, trainingCpus)
          .isBetween(1.5, 2.7);
      assertThat(analytics.inState(TaskState.TASK_ERROR) + training.inState(TaskState.TASK_ERROR))
          .isZero();

      // A kill ends one task of ml/training, and only that one.
      TaskStatus victim =
          training.latest.values().stream()
              .filter(s -> s.getState() == TaskState.TASK_RUNNING)
              .findFirst()
              .orElseThrow();
      // Compared by task ID, not by count: the freed slot goes back into the offers, and the
      // greedy framework may well launch a new task in it.
      List<String> others =
          training.latest.values().stream()
              .filter(s -> s.getState() == TaskState.TASK_RUNNING)
              .map(TaskStatus::getTaskId)
              .filter(id -> !id.equals(victim.getTaskId()))
              .toList();
      training.client.kill(victim.getTaskId(), victim.getAgentId(), null).get(60, TimeUnit.SECONDS);
      await()
          .atMost(PATIENCE)
          .until(() -> training.latest.get(victim.getTaskId()).getState() == TaskState.TASK_KILLED);
      assertThat(others).isNotEmpty();
      assertThat(others)
          .allSatisfy(
              id ->
                  assertThat(training.latest.get(id).getState()).isEqualTo(TaskState.TASK_RUNNING));

      // Teardown ends every task of analytics; the master then lists none of them.
      analytics.client.teardown().get(60, TimeUnit.SECONDS);
      await()
          .atMost(PATIENCE)
          .untilAsserted(
              () -> {
                Proc s = state();
                assertThat(s.exitCode()).as(s.stderr()).isZero();
                assertThat(s.stdout()).doesNotContain("drf-analytics");
              });
    }
  }

  /** The agents' free cpus, as kubectl shows them (their own reports). */
  private static double freeCpus() throws Exception {
    double free = 0;
    for (String node : List.of("local-1", "local-2")) {
      Proc p =
          Proc.run(
              PATIENCE,
              Map.of("KUBECONFIG", stateDir.resolve("kubeconfig").toString()),
              List.of(
                  LocalKubeApiServer.binaryDirectory().resolve("kubectl").toString(),
                  "get",
                  "agents.kmesos.io",
                  node,
                  "-o",
                  "jsonpath={.status.resourcesFree.cpus}"));
      free += p.stdout().isBlank() ? 0 : Double.parseDouble(p.stdout().strip());
    }
    return free;
  }

  /**
   * Failover: a framework whose scheduler goes away comes back within its failover timeout under
   * the same ID and finds its task still running; once it stays away past the timeout, the master
   * kills its tasks and forgets it.
   */
  @Test
  void aFrameworkThatComesBackInTimeKeepsItsTasksAndOneThatDoesNotLosesThem() throws Exception {
    FrameworkInfo.Builder info =
        FrameworkInfo.newBuilder()
            .setName("it-failover")
            .setFailoverTimeout(Durations.fromSeconds(20));
    String id;
    String taskId;
    try (ServerTrust trust = trust()) {
      try (GreedyFramework first =
          new GreedyFramework(
              masterList(),
              trust.channelCredentials(),
              token,
              info.clone(),
              "analytics",
              "cpus:0.1;mem:16",
              "sleep 600",
              1)) {
        await().atMost(PATIENCE).until(() -> first.inState(TaskState.TASK_RUNNING) == 1);
        id = first.client.frameworkId();
        taskId = first.latest.keySet().iterator().next();
      } // the scheduler goes away without a teardown
      try (GreedyFramework again =
          new GreedyFramework(
              masterList(),
              trust.channelCredentials(),
              token,
              info.clone().setId(id),
              "analytics",
              "cpus:0.1;mem:16",
              "sleep 600",
              0)) {
        // Reconciliation after the resubscription answers the task's state: still running.
        await()
            .atMost(PATIENCE)
            .untilAsserted(
                () ->
                    assertThat(again.latest.get(taskId))
                        .isNotNull()
                        .extracting(TaskStatus::getState)
                        .isEqualTo(TaskState.TASK_RUNNING));
        assertThat(again.client.frameworkId()).isEqualTo(id);
      } // gone again, now for good
    }
    await()
        .atMost(PATIENCE)
        .pollInterval(Duration.ofSeconds(2))
        .untilAsserted(
            () -> {
              Proc s = state();
              assertThat(s.exitCode()).as(s.stderr()).isZero();
              assertThat(s.stdout()).doesNotContain("it-failover").doesNotContain(taskId);
            });
  }
}
