package io.kmesos.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.util.Durations;
import io.kmesos.api.scheduler.v1.ReconcileRequest;
import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.ServerTrust;
import io.kmesos.api.tls.TlsSettings;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStates;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.devcluster.LocalKubeApiServer;
import io.kmesos.local.KmesosLocalFixture.KmesosLocal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
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

  /**
   * Through the real master: a task that names the example custom executor runs on an agent through
   * it (a JVM the agent starts, which runs the command as its child and reports its states), and
   * its executor is shut down once it ended.
   */
  @Test
  void aCommandRunsThroughTheExampleExecutor() throws Exception {
    String executor =
        Proc.java() + " -jar " + Proc.ROOT.resolve("executor/target/kmesos-executor.jar");
    Proc done =
        Proc.run(
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
                "analytics",
                "--name",
                "it-executor",
                "--command",
                "echo hello-from-an-executor",
                "--executor",
                executor,
                "--resources",
                "cpus:0.1;mem:32"));
    assertThat(done.exitCode()).as(done.stdout() + done.stderr()).isZero();
    // RUNNING says which process the executor started; FINISHED comes from the executor too.
    assertThat(done.stdout())
        .contains("TASK_RUNNING  Runs as process")
        .contains("TASK_FINISHED  Command exited with status 0");
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                ProcessHandle.allProcesses()
                    .noneMatch(p -> cmdline(p.pid()).contains(executor.replace(" ", "\0"))));
  }

  private static String cmdline(long pid) {
    try {
      return Files.readString(Path.of("/proc", Long.toString(pid), "cmdline"));
    } catch (java.io.IOException e) {
      return "";
    }
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
   * Two frameworks in roles weighted 1 : 3, each running 200 short tasks on the two agents: while
   * both have tasks to launch, the master hands the freed slots out by weighted DRF, so over the
   * run ml/training holds about three times the cpus of analytics (the demo's tasks included).
   * Every task runs and finishes; one fails with its exit status; every agent update is
   * acknowledged, none redelivered once acknowledged, and the master's own updates need none;
   * explicit and implicit reconciliation answer the latest states; a kill ends one task only; a
   * teardown ends every task of a framework.
   */
  @Test
  void twoFrameworksRunTheirTasksByWeightedDrfThenFailReconcileKillAndTeardown() throws Exception {
    // Weights: analytics 2 (examples/weights.yaml), ml 6 (here), so 1 : 3. Roles are hierarchical
    // (as in Mesos): ml/training competes with analytics as the subtree ml, whose weight is ml's;
    // ml/training is ml's only child, its own weight would only count among ml's children.
    Path weight = stateDir.resolve("it-drf-weight.yaml");
    Files.writeString(
        weight,
        """
        apiVersion: kmesos.io/v1alpha1
        kind: Weight
        metadata:
          name: it-drf-ml
        spec:
          role: ml
          weight: 6
        """);
    Proc applied = kubectl("apply", "-f", weight.toString());
    assertThat(applied.exitCode()).as(applied.stderr()).isZero();
    try {
      await()
          .atMost(PATIENCE)
          .untilAsserted(
              () ->
                  assertThat(
                          kubectl(
                                  "get",
                                  "weights.kmesos.io",
                                  "it-drf-ml",
                                  "-o",
                                  "jsonpath={.metadata.generation}/{.status.observedGeneration}/"
                                      + "{.status.conditions[?(@.type==\"Ready\")].status}")
                              .stdout())
                      .as("the registry holds the weight of ml")
                      .isEqualTo("1/1/True"));
      // The master reads the registry's weights every 250 ms: give it a few reads.
      Thread.sleep(2000);
      runTheDrfScenario();
    } finally {
      // Back to the examples' weights for the other tests: without a Weight, ml weighs 1 again.
      Proc deleted = kubectl("delete", "weights.kmesos.io", "it-drf-ml", "--wait=true");
      assertThat(deleted.exitCode()).as(deleted.stderr()).isZero();
    }
  }

  private void runTheDrfScenario() throws Exception {
    String slot = "cpus:0.1;mem:16";
    double slotCpus = 0.1;
    double demoCpus = 3 * 0.1; // the demo's 3 tasks of cpus:0.1;mem:32 in analytics
    double totalCpus = totalCpus();
    int tasks = 200;
    // Long enough that the two frameworks together want more than the agents have (DRF decides
    // only then), short enough for the run to take well under a minute on a quiet machine.
    String shortTask = "sleep 2";
    try (ServerTrust trust = trust();
        GreedyFramework analytics =
            new GreedyFramework(
                masterList(),
                trust.channelCredentials(),
                token,
                FrameworkInfo.newBuilder()
                    .setName("drf-analytics")
                    .addCapabilities(FrameworkInfo.Capability.PARTITION_AWARE),
                "analytics",
                slot,
                shortTask,
                tasks);
        GreedyFramework training =
            new GreedyFramework(
                masterList(),
                trust.channelCredentials(),
                token,
                FrameworkInfo.newBuilder().setName("drf-training"),
                "ml/training",
                slot,
                shortTask,
                tasks)) {
      long started = System.nanoTime();
      // The shares, sampled while both frameworks still have tasks to launch. What DRF converges
      // to: both roles' dominant resource is cpus (a slot is 0.1 of the agents' 4 cpus here, each
      // agent reporting the machine's 2: 2.5 %; its 16 MiB is well under a per mille of their
      // memory), and the allocator offers each freed slot to the role of the lowest dominant
      // share over weight. When the agents are full, that keeps training / 6 = (analytics + demo)
      // / 2, so training = 3 (analytics + 0.3) whatever the total: with 4 cpus, analytics 0.7 (7
      // tasks) + 0.3 (the demo's), training 3.0 (30 tasks), a ratio of 3, give or take the one
      // slot that goes back and forth. Before the agents are full (and as they drain) the
      // outstanding offers, which count in the shares with all of an agent's free memory and
      // disk, blur it: the band is generous.
      List<double[]> samples = new ArrayList<>();
      long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
      while (analytics.pending() > 0 && training.pending() > 0) {
        assertThat(System.nanoTime())
            .as("both frameworks launch all their tasks within 5 minutes")
            .isLessThan(deadline);
        double a = analytics.holding() * slotCpus + demoCpus;
        double t = training.holding() * slotCpus;
        if (training.holding() > 0 && analytics.holding() > 0) {
          boolean full = totalCpus - a - t < slotCpus - 1e-9;
          samples.add(new double[] {a, t, full ? 1 : 0});
        }
        Thread.sleep(250);
      }
      double meanRatio = samples.stream().mapToDouble(s -> s[1] / s[0]).average().orElse(0);
      List<double[]> contended = samples.stream().filter(s -> s[2] == 1).toList();
      double contendedRatio = contended.stream().mapToDouble(s -> s[1] / s[0]).average().orElse(0);
      String shares =
          String.format(
              "%d samples, mean ml/training : analytics cpus %.2f; %d with the agents full, mean"
                  + " %.2f (analytics %.2f, ml/training %.2f cpus on average then); launched"
                  + " analytics %d, ml/training %d when sampling stopped after %.1f s",
              samples.size(),
              meanRatio,
              contended.size(),
              contendedRatio,
              contended.stream().mapToDouble(s -> s[0]).average().orElse(0),
              contended.stream().mapToDouble(s -> s[1]).average().orElse(0),
              analytics.launched(),
              training.launched(),
              (System.nanoTime() - started) / 1e9);
      System.out.println("TasksIT DRF: " + shares);
      assertThat(samples).as(shares).hasSizeGreaterThanOrEqualTo(10);
      assertThat(meanRatio).as(shares).isBetween(2.2, 4.0);
      if (contended.size() >= 10) {
        // Full agents: only the one slot that goes back and forth between the roles is left
        // (training 2.9 to 3.1 cpus against 1.1 to 0.9).
        assertThat(contendedRatio).as(shares).isBetween(2.5, 3.6);
      }

      // Every task ran and finished.
      await()
          .atMost(PATIENCE)
          .pollInterval(Duration.ofSeconds(1))
          .until(
              () ->
                  analytics.tasksInState(TaskState.TASK_FINISHED).size() == tasks
                      && training.tasksInState(TaskState.TASK_FINISHED).size() == tasks);
      System.out.printf(
          "TasksIT DRF: %d tasks finished after %.1f s%n",
          2 * tasks, (System.nanoTime() - started) / 1e9);
      for (GreedyFramework f : List.of(analytics, training)) {
        assertThat(f.launched()).isEqualTo(tasks);
        assertThat(f.commands.keySet())
            .allSatisfy(
                id -> {
                  TaskStatus s = f.fromAgent.get(id);
                  assertThat(s.getState()).as(id).isEqualTo(TaskState.TASK_FINISHED);
                  assertThat(s.getExitCode()).as(id).isZero();
                });
      }

      // A command that fails ends TASK_FAILED with its exit status; long ones to kill and tear
      // down.
      training.launch(1, "exit 3");
      training.launch(3, "sleep 600");
      analytics.launch(3, "sleep 600");
      String failed = training.name + "-" + tasks;
      await()
          .atMost(PATIENCE)
          .until(
              () ->
                  training.tasksInState(TaskState.TASK_RUNNING).size() == 3
                      && analytics.tasksInState(TaskState.TASK_RUNNING).size() == 3
                      && training.fromAgent.containsKey(failed)
                      && TaskStates.isTerminal(training.fromAgent.get(failed).getState()));
      TaskStatus exit3 = training.fromAgent.get(failed);
      assertThat(exit3.getState()).as(exit3.toString()).isEqualTo(TaskState.TASK_FAILED);
      assertThat(exit3.getExitCode()).isEqualTo(3);

      // Every update so far was acknowledged and answered: nothing is left to the agents' retries.
      for (GreedyFramework f : List.of(analytics, training)) {
        await()
            .atMost(PATIENCE)
            .untilAsserted(
                () ->
                    assertThat(f.deliveries())
                        .allSatisfy(d -> assertThat(d.acknowledged).isTrue()));
      }

      // Explicit reconciliation: the running tasks are running; a task whose terminal update was
      // acknowledged is forgotten by the master, and a task it never knew is unknown, both
      // TASK_UNKNOWN for a PARTITION_AWARE framework and TASK_LOST for one without.
      for (GreedyFramework f : List.of(analytics, training)) {
        List<String> running = f.tasksInState(TaskState.TASK_RUNNING);
        String ended = f.name + "-0";
        String never = f.name + "-never-launched";
        List<String> asked = new ArrayList<>(running);
        asked.add(ended);
        asked.add(never);
        Map<String, TaskStatus> answers = reconcile(f, asked);
        TaskState forgotten = f == analytics ? TaskState.TASK_UNKNOWN : TaskState.TASK_LOST;
        for (String id : running) {
          assertThat(answers.get(id).getState()).as(id).isEqualTo(f.fromAgent.get(id).getState());
          assertThat(answers.get(id).getAgentId())
              .as(id)
              .isEqualTo(f.fromAgent.get(id).getAgentId());
        }
        assertThat(answers.get(ended).getState()).as(ended).isEqualTo(forgotten);
        assertThat(answers.get(never).getState()).as(never).isEqualTo(forgotten);
        assertThat(answers.values())
            .allSatisfy(
                a -> {
                  assertThat(a.getReason()).isEqualTo(TaskStatus.Reason.REASON_RECONCILIATION);
                  assertThat(a.getUuid()).isEmpty();
                });

        // Implicit: every task the master knows of the framework, and only those: the ones that
        // have not ended (the ended ones' terminal updates are acknowledged), in their latest
        // state.
        Map<String, TaskStatus> all = reconcileAll(f);
        Map<String, TaskState> expected = new TreeMap<>();
        f.fromAgent.forEach(
            (id, s) -> {
              if (!TaskStates.isTerminal(s.getState())) {
                expected.put(id, s.getState());
              }
            });
        Map<String, TaskState> answered = new TreeMap<>();
        all.forEach((id, s) -> answered.put(id, s.getState()));
        assertThat(answered).as(f.name).isEqualTo(expected).hasSize(3);
      }

      // A kill ends one task of ml/training, and only that one.
      String victim = training.tasksInState(TaskState.TASK_RUNNING).get(0);
      List<String> others =
          training.tasksInState(TaskState.TASK_RUNNING).stream()
              .filter(id -> !id.equals(victim))
              .toList();
      training
          .client
          .kill(victim, training.fromAgent.get(victim).getAgentId(), null)
          .get(60, TimeUnit.SECONDS);
      await()
          .atMost(PATIENCE)
          .until(() -> training.fromAgent.get(victim).getState() == TaskState.TASK_KILLED);
      assertThat(others).hasSize(2);
      assertThat(training.tasksInState(TaskState.TASK_RUNNING)).isEqualTo(others);

      // Teardown ends every task of analytics; the master then lists none of them.
      List<String> analyticsRunning = analytics.tasksInState(TaskState.TASK_RUNNING);
      analytics.client.teardown().get(60, TimeUnit.SECONDS);
      await()
          .atMost(PATIENCE)
          .untilAsserted(
              () -> {
                Proc s = state();
                assertThat(s.exitCode()).as(s.stderr()).isZero();
                assertThat(s.stdout()).doesNotContain("drf-analytics");
                assertThat(analyticsRunning)
                    .allSatisfy(id -> assertThat(s.stdout()).doesNotContain(id));
                assertThat(s.stdout()).contains(others.get(0)).contains(others.get(1));
              });

      // Acknowledged exactly where required: an agent re-sends an unacknowledged update after
      // 10 s. The re-sending stops: there comes a moment 12 s past the last acknowledgement of
      // either framework (each re-delivery is acknowledged again, which moves that moment on).
      await()
          .atMost(PATIENCE)
          .pollInterval(Duration.ofSeconds(1))
          .until(
              () ->
                  Instant.now()
                      .isAfter(
                          Collections.max(
                                  List.of(
                                      analytics.lastAcknowledged(), training.lastAcknowledged()))
                              .plusSeconds(12)));
      for (GreedyFramework f : List.of(analytics, training)) {
        List<GreedyFramework.Delivery> deliveries = f.deliveries();
        long duplicates = deliveries.stream().mapToInt(d -> d.delivered.get() - 1).sum();
        System.out.printf(
            "TasksIT DRF: %s received %d updates with a uuid (%d delivered more than once), %d"
                + " without: %s%n",
            f.name,
            deliveries.size(),
            duplicates,
            f.fromMaster.size(),
            f.fromMaster.stream()
                .map(s -> s.getTaskId() + " " + s.getState() + " " + s.getReason())
                .toList());
        assertThat(f.problems).as(f.name).isEmpty();
        assertThat(deliveries)
            .as(f.name)
            .allSatisfy(
                d -> {
                  assertThat(d.acknowledged).as(d.toString()).isTrue();
                  assertThat(d.acknowledgementsSent.get())
                      .as(d.toString())
                      .isEqualTo(d.delivered.get());
                  // Once the master took the acknowledgement, the agent may still have re-sent
                  // the update while the acknowledgement was on its way (a stall of 10 s on a
                  // loaded machine), but not again 10 s later.
                  assertThat(d.deliveredAfterAcknowledged.get())
                      .as(d.toString())
                      .isLessThanOrEqualTo(1);
                });
        // RUNNING and a terminal update per task that ran (the agent's, each with a
        // uuid), and the master's (reconciliation answers) without.
        assertThat(f.fromMaster).allSatisfy(s -> assertThat(s.getUuid()).isEmpty());
      }
      assertThat(training.deliveries())
          .filteredOn(d -> d.status.getTaskId().equals(failed))
          .extracting(d -> d.status.getState())
          .contains(TaskState.TASK_FAILED);

      training.client.teardown().get(60, TimeUnit.SECONDS);
      await()
          .atMost(PATIENCE)
          .untilAsserted(
              () -> {
                Proc s = state();
                assertThat(s.exitCode()).as(s.stderr()).isZero();
                assertThat(s.stdout()).doesNotContain("drf-training");
              });
      System.out.printf(
          "TasksIT DRF: the whole scenario took %.1f s%n", (System.nanoTime() - started) / 1e9);
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

  private static Proc kubectl(String... args) throws Exception {
    List<String> command = new ArrayList<>();
    command.add(LocalKubeApiServer.binaryDirectory().resolve("kubectl").toString());
    command.addAll(List.of(args));
    return Proc.run(
        PATIENCE, Map.of("KUBECONFIG", stateDir.resolve("kubeconfig").toString()), command);
  }

  /** The agents' cpus, as their Agent resources show them. */
  private static double totalCpus() throws Exception {
    Proc p =
        kubectl(
            "get",
            "agents.kmesos.io",
            "local-1",
            "local-2",
            "-o",
            "jsonpath={.items[*].spec.resources.cpus}");
    assertThat(p.exitCode()).as(p.stderr()).isZero();
    double total = 0;
    for (String cpus : p.stdout().strip().split("\\s+")) {
      total += Double.parseDouble(cpus);
    }
    return total;
  }

  /**
   * Explicit reconciliation of {@code taskIds}: the master's answer for each, as {@code framework}
   * received them after the call.
   */
  private static Map<String, TaskStatus> reconcile(GreedyFramework framework, List<String> taskIds)
      throws Exception {
    int from = framework.fromMaster.size();
    framework
        .client
        .reconcile(
            taskIds.stream()
                .map(id -> ReconcileRequest.Task.newBuilder().setTaskId(id).build())
                .toList())
        .get(60, TimeUnit.SECONDS);
    Map<String, TaskStatus> answers = new LinkedHashMap<>();
    await()
        .atMost(PATIENCE)
        .until(
            () -> {
              List<TaskStatus> since =
                  framework.fromMaster.subList(from, framework.fromMaster.size());
              since.forEach(s -> answers.put(s.getTaskId(), s));
              return answers.keySet().containsAll(taskIds);
            });
    return answers;
  }

  /**
   * Implicit reconciliation: the master's answers, as {@code framework} received them. An explicit
   * reconciliation of a task it never launched follows, so that its answer marks the end of the
   * implicit one's (the master answers calls in order, on the one stream of events).
   */
  private static Map<String, TaskStatus> reconcileAll(GreedyFramework framework) throws Exception {
    int from = framework.fromMaster.size();
    framework.client.reconcile(List.of()).get(60, TimeUnit.SECONDS);
    String marker = framework.name + "-end-of-implicit-reconciliation";
    reconcile(framework, List.of(marker));
    Map<String, TaskStatus> answers = new TreeMap<>();
    for (TaskStatus s : framework.fromMaster.subList(from, framework.fromMaster.size())) {
      if (s.getTaskId().equals(marker)) {
        break;
      }
      assertThat(s.getReason()).isEqualTo(TaskStatus.Reason.REASON_RECONCILIATION);
      answers.put(s.getTaskId(), s);
    }
    return answers;
  }
}
