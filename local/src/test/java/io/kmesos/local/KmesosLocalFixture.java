package io.kmesos.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.ClassDescriptor;
import org.junit.jupiter.api.ClassOrderer;
import org.junit.jupiter.api.ClassOrdererContext;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * One bin/kmesos-local cluster (kube-apiserver, the log, two controllers, two agents, the demo
 * framework, each a process of its own) shared by every test class of the test JVM that asks for
 * it: a {@code @BeforeAll} method of a class annotated
 * {@code @ExtendWith(KmesosLocalFixture.class)} takes a {@link KmesosLocal} parameter. Starting it
 * costs about a minute, so it starts once, when the first class asks, and stops when the whole run
 * ends (the root store closes it). Failsafe runs every IT class of the module in one forked JVM
 * (forkCount 1, reuseForks true: the defaults), so the sharing covers the module's ITs; {@link
 * UsersLast} (junit-platform.properties) runs the classes that share it after all others, so the
 * cluster does not run beside the other ITs' clusters.
 */
final class KmesosLocalFixture implements ParameterResolver {
  private static final Duration PATIENCE = Duration.ofMinutes(3);

  /** What a user of the running kmesos-local is told: where the masters are, with what to call. */
  static final class KmesosLocal implements AutoCloseable {
    private final Path stateDir;
    private final Process process;
    private final String masters;
    private final Path token;
    private final Path tls;

    private KmesosLocal(Path stateDir, Process process, String masters, Path token, Path tls) {
      this.stateDir = stateDir;
      this.process = process;
      this.masters = masters;
      this.token = token;
      this.tls = tls;
    }

    /** Its --state-dir (kubeconfig, tokens, tls, the processes' logs). */
    Path stateDir() {
      return stateDir;
    }

    /** The comma-separated master addresses, as KMESOS_MASTER. */
    String masters() {
      return masters;
    }

    /** The token file of the ServiceAccount demo/demo-framework. */
    Path token() {
      return token;
    }

    /** The admin TLS directory (ca.crt, and an admin certificate), as KMESOS_TLS_DIR. */
    Path tls() {
      return tls;
    }

    static KmesosLocal start() throws Exception {
      Path stateDir = Files.createTempDirectory("kmesos-local-it").toAbsolutePath();
      Path log = stateDir.resolve("kmesos-local.out");
      Process local =
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
      try {
        await()
            .atMost(Duration.ofMinutes(8))
            .until(
                () -> Files.readString(log).contains("press Ctrl-C to stop") || !local.isAlive());
        String output = Files.readString(log);
        assertThat(local.isAlive()).as("kmesos-local exited early:%n%s", output).isTrue();
        assertThat(output).contains("role analytics: 3 of 3 tasks running");
        Matcher master = Pattern.compile("export KMESOS_MASTER=(\\S+)").matcher(output);
        assertThat(master.find()).as(output).isTrue();
        Path token = stateDir.resolve("tokens").resolve("demo-framework");
        Path tls = stateDir.resolve("tls").resolve("admin");
        assertThat(output)
            .contains("--token-file " + token)
            .contains("export KMESOS_TLS_DIR=" + tls)
            .contains("  agents          local-1, local-2");
        return new KmesosLocal(stateDir, local, master.group(1), token, tls);
      } catch (Throwable e) {
        local.destroyForcibly();
        throw e;
      }
    }

    /**
     * Stops kmesos-local as Ctrl-C does; nothing it started may be left running, tasks included.
     */
    @Override
    public void close() throws InterruptedException, IOException {
      // Agents that the recovery tests started again in place of kmesos-local's (which it killed).
      for (Process agent : RestartableAgents.STARTED) {
        agent.destroy();
        if (!agent.waitFor(60, TimeUnit.SECONDS)) {
          agent.destroyForcibly();
        }
      }
      List<ProcessHandle> children = process.descendants().toList();
      process.destroy();
      if (!process.waitFor(90, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
      await()
          .atMost(PATIENCE)
          .untilAsserted(
              () ->
                  assertThat(children)
                      .as("nothing kmesos-local started is left running, tasks included")
                      .noneMatch(ProcessHandle::isAlive));
      try (Stream<Path> all = Files.walk(stateDir)) {
        all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  /**
   * Orders the classes that use the shared kmesos-local after every other class (in the order they
   * came), so it starts as late as possible and nothing else runs while it is up.
   */
  public static final class UsersLast implements ClassOrderer {
    @Override
    public void orderClasses(ClassOrdererContext context) {
      context
          .getClassDescriptors()
          .sort(Comparator.comparing((ClassDescriptor d) -> usesTheCluster(d.getTestClass())));
    }

    private static boolean usesTheCluster(Class<?> test) {
      ExtendWith extensions = test.getAnnotation(ExtendWith.class);
      return extensions != null
          && Arrays.asList(extensions.value()).contains(KmesosLocalFixture.class);
    }
  }

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    return parameter.getParameter().getType() == KmesosLocal.class;
  }

  @Override
  public KmesosLocal resolveParameter(ParameterContext parameter, ExtensionContext context) {
    // The root store outlives every test class and closes what it holds (AutoCloseable) when the
    // run ends; a failed start is not cached, so each class reports it rather than a stale null.
    return context
        .getRoot()
        .getStore(ExtensionContext.Namespace.create(KmesosLocalFixture.class))
        .computeIfAbsent(
            KmesosLocal.class,
            k -> {
              try {
                return KmesosLocal.start();
              } catch (Exception e) {
                throw new IllegalStateException("kmesos-local did not start", e);
              }
            },
            KmesosLocal.class);
  }
}
