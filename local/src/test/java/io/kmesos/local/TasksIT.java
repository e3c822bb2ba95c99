package io.kmesos.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tasks end to end, as a user of bin/kmesos-local runs them: kmesos-local brings up kube-apiserver,
 * the log, the controllers (one is the master), two agents and the demo framework, all as processes
 * of their own; kmesos-execute runs commands as tasks on it with the token kmesos-local wrote for
 * the ServiceAccount demo/demo-framework, and kmesos-state shows what the master holds.
 */
class TasksIT {
  private static final Duration PATIENCE = Duration.ofMinutes(3);

  @TempDir static Path stateDir;
  private static Process local;
  private static String masters;
  private static Path token;
  private static Path tls;

  @BeforeAll
  static void startKmesosLocal() throws Exception {
    Path log = stateDir.resolve("kmesos-local.out");
    local =
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
    await()
        .atMost(Duration.ofMinutes(5))
        .until(() -> Files.readString(log).contains("press Ctrl-C to stop") || !local.isAlive());
    String output = Files.readString(log);
    assertThat(local.isAlive()).as("kmesos-local exited early:%n%s", output).isTrue();
    assertThat(output).contains("role analytics: 3 of 3 tasks running");
    Matcher master = Pattern.compile("export KMESOS_MASTER=(\\S+)").matcher(output);
    assertThat(master.find()).as(output).isTrue();
    masters = master.group(1);
    token = stateDir.resolve("tokens").resolve("demo-framework").toAbsolutePath();
    tls = stateDir.resolve("tls").resolve("admin").toAbsolutePath();
    assertThat(output)
        .contains("--token-file " + token)
        .contains("export KMESOS_TLS_DIR=" + tls)
        .contains("  agents          local-1, local-2");
  }

  @AfterAll
  static void stop() throws InterruptedException {
    if (local != null) {
      List<ProcessHandle> children = local.descendants().toList();
      local.destroy();
      if (!local.waitFor(90, TimeUnit.SECONDS)) {
        local.destroyForcibly();
      }
      await()
          .atMost(PATIENCE)
          .untilAsserted(
              () ->
                  assertThat(children)
                      .as("nothing kmesos-local started is left running, tasks included")
                      .noneMatch(ProcessHandle::isAlive));
    }
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
}
