package io.kmesos.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.ServerTrust;
import io.kmesos.api.tls.TlsSettings;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.local.KmesosLocalFixture.KmesosLocal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The agents of the shared kmesos-local, killed and started again by the recovery tests: a test
 * kills one with SIGKILL (found in /proc by its work directory, whoever started it) and starts a
 * new one on the same node name, work directory, certificate and token, as an operator restarting
 * it would. The agents started here are stopped with kmesos-local ({@link KmesosLocalFixture}).
 */
final class RestartableAgents {
  static final Duration PATIENCE = Duration.ofMinutes(4);

  /** Agents started here; the fixture stops them before kmesos-local. */
  static final List<Process> STARTED = new CopyOnWriteArrayList<>();

  private RestartableAgents() {}

  static Path workDir(Path stateDir, String node) {
    return stateDir.resolve("agents").resolve(node).toAbsolutePath();
  }

  /** The running agent of {@code node}, if there is one. */
  static Optional<ProcessHandle> find(Path stateDir, String node) {
    String workDir = workDir(stateDir, node).toString();
    List<ProcessHandle> agents =
        ProcessHandle.allProcesses()
            .filter(
                p -> {
                  List<String> args = commandLine(p.pid());
                  return args.contains("io.kmesos.agent.AgentMain") && args.contains(workDir);
                })
            .toList();
    // A process the agent is forking (a task, /bin/kill) shows the agent's command line until it
    // execs: not an agent of its own.
    Set<Long> pids = agents.stream().map(ProcessHandle::pid).collect(Collectors.toSet());
    List<ProcessHandle> roots =
        agents.stream()
            .filter(p -> p.parent().map(q -> !pids.contains(q.pid())).orElse(true))
            .toList();
    assertThat(roots).as("agents of " + node).hasSizeLessThanOrEqualTo(1);
    return roots.stream().findFirst();
  }

  /** SIGKILL to the agent of {@code node}, and wait until it is gone. */
  static void kill(Path stateDir, String node) throws Exception {
    ProcessHandle agent =
        find(stateDir, node).orElseThrow(() -> new AssertionError("no agent of " + node));
    new ProcessBuilder("kill", "-KILL", Long.toString(agent.pid())).start().waitFor();
    await().atMost(PATIENCE).until(() -> !agent.isAlive());
  }

  /** Starts the agent of {@code node} again, with {@code environment} added to its own. */
  static Process start(
      KmesosLocal local, String node, String label, Map<String, String> environment)
      throws Exception {
    Path stateDir = local.stateDir();
    Map<String, String> env = new HashMap<>(environment);
    // C1 only: the agent starts in about half the time, and these tests start it dozens of times.
    env.putIfAbsent("JAVA_TOOL_OPTIONS", "-XX:TieredStopAtLevel=1");
    Process agent =
        Agents.start(
            node,
            List.of(local.masters().split(",")),
            stateDir.resolve("kubeconfig"),
            stateDir.resolve("tls").resolve(Identity.AGENT.component()),
            stateDir.resolve("tokens").resolve("agent-" + node),
            workDir(stateDir, node),
            stateDir.resolve("agent-" + node + "-" + label + ".log"),
            env);
    STARTED.add(agent);
    return agent;
  }

  /** The session a process belongs to (-1 if it is gone). */
  static long sessionOf(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      return Long.parseLong(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[4]);
    } catch (Exception e) {
      return -1;
    }
  }

  /**
   * Waits until the agent of {@code node} marked every run of the framework completed (its terminal
   * updates acknowledged or the framework shut down): nothing of it is pending any more.
   */
  static void awaitRunsCompleted(Path stateDir, String node, String frameworkId) {
    Path executors =
        workDir(stateDir, node)
            .resolve("meta/frameworks")
            .resolve(frameworkId)
            .resolve("executors");
    await()
        .atMost(PATIENCE)
        .until(
            () -> {
              if (!Files.isDirectory(executors)) {
                return true;
              }
              try (Stream<Path> runs = Files.walk(executors, 3)) {
                return runs.filter(p -> p.getParent().getFileName().toString().equals("runs"))
                    .allMatch(run -> Files.exists(run.resolve("completed")));
              }
            });
  }

  /** The last lines of kmesos-local's logs that mention {@code needle}, for a failure message. */
  static String linesAbout(Path stateDir, String needle) {
    StringBuilder out = new StringBuilder();
    try (Stream<Path> logs = Files.list(stateDir)) {
      for (Path log : logs.filter(p -> p.toString().endsWith(".log")).sorted().toList()) {
        List<String> lines =
            Files.readAllLines(log).stream().filter(l -> l.contains(needle)).toList();
        for (String l : lines.subList(Math.max(0, lines.size() - 15), lines.size())) {
          out.append(log.getFileName()).append(": ").append(l).append('\n');
        }
      }
    } catch (Exception e) {
      out.append("(logs unreadable: ").append(e).append(")");
    }
    return out.toString();
  }

  /** Trust in the masters' certificate, from kmesos-local's CA. */
  static ServerTrust trust(KmesosLocal local) {
    return ServerTrust.load(
        local.tls().resolve("ca.crt"), Identity.CONTROLLER, TlsSettings.DEFAULT_RELOAD);
  }

  /**
   * A checkpointing, partition-aware framework of the demo's account that launches (what it is told
   * to, nothing at first) only on the agent of {@code node}.
   */
  static GreedyFramework checkpointingFramework(
      KmesosLocal local, ServerTrust trust, String name, String node) {
    GreedyFramework framework =
        new GreedyFramework(
            List.of(local.masters().split(",")),
            trust.channelCredentials(),
            local.token(),
            FrameworkInfo.newBuilder()
                .setName(name)
                .setCheckpoint(true)
                .addCapabilities(FrameworkInfo.Capability.PARTITION_AWARE),
            "analytics",
            "cpus:0.01;mem:8",
            null,
            0);
    framework.where = offer -> offer.getHostname().equals(node);
    return framework;
  }

  /** A process's command line, from /proc (empty if it is gone or not readable). */
  static List<String> commandLine(long pid) {
    try {
      byte[] bytes = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline"));
      return List.of(new String(bytes, StandardCharsets.UTF_8).split("\0"));
    } catch (Exception e) {
      return List.of();
    }
  }

  /**
   * The live processes of tasks of this kmesos-local, by task ID (their MESOS_TASK_ID), found in
   * /proc as a user would with ps.
   */
  static Map<String, Set<Long>> taskProcesses(Path stateDir) {
    String sandboxes = "MESOS_SANDBOX=" + stateDir.resolve("agents").toAbsolutePath() + "/";
    Map<String, Set<Long>> found = new TreeMap<>();
    ProcessHandle.allProcesses()
        .forEach(
            p -> {
              try {
                String stat = Files.readString(Path.of("/proc", Long.toString(p.pid()), "stat"));
                if (stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z")) {
                  return; // a zombie: ended, not yet reaped by its new parent
                }
                String env =
                    new String(
                        Files.readAllBytes(Path.of("/proc", Long.toString(p.pid()), "environ")),
                        StandardCharsets.UTF_8);
                List<String> vars = List.of(env.split("\0"));
                if (vars.stream().anyMatch(v -> v.startsWith(sandboxes))) {
                  vars.stream()
                      .filter(v -> v.startsWith("MESOS_TASK_ID="))
                      .findFirst()
                      .ifPresent(
                          v ->
                              found
                                  .computeIfAbsent(
                                      v.substring("MESOS_TASK_ID=".length()), k -> new TreeSet<>())
                                  .add(p.pid()));
                }
              } catch (Exception e) {
                // gone, or not ours
              }
            });
    return found;
  }
}
