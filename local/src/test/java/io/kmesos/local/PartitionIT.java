package io.kmesos.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.util.Durations;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.kmesos.api.registry.v1.AgentState;
import io.kmesos.api.registry.v1.Registry;
import io.kmesos.api.scheduler.v1.ReconcileRequest;
import io.kmesos.api.tls.CertificateDirectory;
import io.kmesos.api.tls.ClusterCertificates;
import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.ServerTrust;
import io.kmesos.api.tls.TlsSettings;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStates;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.crds.KmesosCrds;
import io.kmesos.crds.v1alpha1.Agent;
import io.kmesos.devcluster.LocalKubeApiServer;
import io.kmesos.devcluster.ServiceAccountTokens;
import io.kmesos.registry.RegistryContents;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.local.LocalReplicas;
import io.kmesos.replica.state.State;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Partitions and master failover with real parts: kube-apiserver and etcd, a 3-replica log, two
 * controllers (one is the master) and two kmesos-agent processes, each a process of its own, and
 * frameworks on the client library in this JVM. The controllers run with short ping, re-register
 * and Lease settings so that a partition is found in seconds; nothing is timed.
 *
 * <ul>
 *   <li>An agent paused with SIGSTOP past the ping timeouts is marked unreachable: a
 *       PARTITION_AWARE framework gets TASK_UNREACHABLE for its running task, another TASK_LOST;
 *       resumed with SIGCONT, the agent re-registers, the tasks are RUNNING again in a
 *       reconciliation answer, and the framework that got TASK_LOST kills its returned copy.
 *   <li>The master killed with SIGKILL while tasks are being launched: the agents re-register with
 *       the other controller, the framework re-subscribes and reconciles, and every task the agents
 *       run is RUNNING there, once, none of them lost.
 *   <li>The master killed while an agent is down past the re-register timeout: the new master marks
 *       it unreachable, and takes it back with its task when it returns.
 *   <li>The example framework (examples/long-running-service, a process of its own) keeps its N
 *       instances running, as it sees them and as the agents run them, across an agent killed with
 *       SIGKILL and started again (the same processes), an agent paused past the ping timeouts
 *       (replaced, then the replacements killed when it is back) and the master killed with SIGKILL
 *       while it replaces an instance (it re-subscribes; nothing runs twice).
 *   <li>An agent declared gone with kubectl (spec.gone): TASK_GONE_BY_OPERATOR, the agent stops, is
 *       refused when started again, and spec.gone cannot be unset.
 * </ul>
 *
 * <p>The Agents' status follows the registry throughout (Unreachable, Admitted, Gone).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PartitionIT {
  private static final Duration PATIENCE = Duration.ofMinutes(3);
  private static final List<String> NODES = List.of("part-1", "part-2");

  /** Marked unreachable after 3 × 1 s without a pong; agents get 30 s after a failover. */
  private static final List<String> CONTROLLER_OPTIONS =
      List.of(
          "--allocation-interval",
          "200ms",
          "--agent-ping-interval",
          "500ms",
          "--agent-ping-timeout",
          "1s",
          "--max-agent-ping-timeouts",
          "3",
          "--agent-reregister-timeout",
          "30s",
          "--allocation-hold-off",
          "10s");

  private static final List<String> LEASE = List.of("4s", "3s", "500ms");

  private static Path dir;
  private static LocalKubeApiServer server;
  private static KubernetesClient client;
  private static LocalReplicas replicas;
  private static final Map<String, Process> controllers = new HashMap<>();
  private static final Map<String, Process> agents = new HashMap<>();

  /** The output of each node's current agent (a restarted one writes to a file of its own). */
  private static final Map<String, Path> agentLogs = new HashMap<>();

  private static final List<String> masters = new ArrayList<>();
  private static Path demoToken;
  private static ServerTrust trust;
  private static Path kubeconfig;

  @BeforeAll
  static void startCluster() throws Exception {
    dir = Files.createTempDirectory("kmesos-partition-it").toAbsolutePath();
    server = LocalKubeApiServer.start();
    kubeconfig = server.writeKubeConfig(dir.resolve("kubeconfig")).toAbsolutePath();
    client = server.newClient();
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
    Path tls = dir.resolve("tls");
    replicas =
        new LocalReplicas(dir.resolve("log"), 3, List.of("-Xmx192m"), new CertificateDirectory(tls))
            .dieWithLauncher()
            .startAll();
    replicas.initialize("partition-it", Duration.ofMinutes(2));
    for (int i = 1; i <= 2; i++) {
      masters.add("127.0.0.1:" + freePort());
    }
    for (int i = 1; i <= 2; i++) {
      controllers.put("controller-" + i, startController("controller-" + i));
    }
    CertificateDirectory certificates = replicas.certificates();
    ClusterCertificates.ensure(
        certificates,
        new ClusterCertificates.Settings(
            List.of(Identity.AGENT),
            Map.of(),
            ClusterCertificates.Settings.DEFAULT_CA_VALIDITY,
            ClusterCertificates.Settings.DEFAULT_VALIDITY,
            false),
        Instant.now());
    ServiceAccountTokens tokens = new ServiceAccountTokens(client);
    for (String node : NODES) {
      Files.writeString(
          dir.resolve("token-" + node),
          tokens.podBoundToken(LocalCluster.NAMESPACE, "kmesos-agent", node));
      agents.put(node, startAgent(node, "agent-" + node + ".log"));
    }
    try (InputStream in =
        Files.newInputStream(Proc.ROOT.resolve("examples/rbac/demo-framework.yaml"))) {
      for (HasMetadata item : client.load(in).items()) {
        client.resource(item).fieldManager("partition-it").forceConflicts().serverSideApply();
      }
    }
    demoToken =
        Files.writeString(
            dir.resolve("token-demo"),
            tokens.token(LocalCluster.DEMO_NAMESPACE, LocalCluster.DEMO_ACCOUNT));
    trust =
        ServerTrust.load(
            certificates.dir(Identity.ADMIN).resolve("ca.crt"),
            Identity.CONTROLLER,
            TlsSettings.DEFAULT_RELOAD);
    // Both agents admitted in the registry (their sessions follow; the tests wait for tasks).
    await().atMost(PATIENCE).until(() -> registry().getAgentsCount() == NODES.size());
  }

  private static Process startAgent(String node, String log) throws IOException {
    agentLogs.put(node, dir.resolve(log));
    return Agents.start(
        node,
        masters,
        kubeconfig,
        replicas.certificates().dir(Identity.AGENT),
        dir.resolve("token-" + node),
        dir.resolve("agents").resolve(node),
        dir.resolve(log));
  }

  private static Process startController(String identity) throws IOException {
    return startController(identity, identity + ".log");
  }

  private static Process startController(String identity, String log) throws IOException {
    int i = Integer.parseInt(identity.substring(identity.lastIndexOf('-') + 1));
    String address = masters.get(i - 1);
    return Controllers.start(
        identity,
        replicas,
        kubeconfig,
        LocalCluster.NAMESPACE,
        LEASE,
        Integer.parseInt(address.substring(address.lastIndexOf(':') + 1)),
        CONTROLLER_OPTIONS,
        dir.resolve(log));
  }

  @AfterAll
  static void stopCluster() throws Exception {
    if (trust != null) {
      trust.close();
    }
    for (Process p : agents.values()) {
      // A resumed agent, in case a test failed while it was paused.
      signal("CONT", agentJvm(p));
      p.destroy();
    }
    for (Process p : agents.values()) {
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
    }
    // Checkpointed tasks outlive their agent: none may outlive a failed test.
    if (dir != null) {
      RestartableAgents.taskProcesses(dir).values().stream()
          .flatMap(Set::stream)
          .forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
    }
    controllers.values().forEach(Process::destroyForcibly);
    if (replicas != null) {
      replicas.close();
    }
    if (server != null) {
      server.close();
    }
    if (dir != null) {
      try (Stream<Path> all = Files.walk(dir)) {
        all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static GreedyFramework framework(String name, boolean partitionAware, int tasks) {
    FrameworkInfo.Builder info =
        FrameworkInfo.newBuilder().setName(name).setFailoverTimeout(Durations.fromSeconds(600));
    if (partitionAware) {
      info.addCapabilities(FrameworkInfo.Capability.PARTITION_AWARE);
    }
    return new GreedyFramework(
        masters,
        trust.channelCredentials(),
        demoToken,
        info,
        LocalCluster.DEMO_ROLE,
        "cpus:0.1;mem:16",
        "sleep 600",
        tasks);
  }

  /** The node of the agent with this ID (the Agent resource's UID). */
  private static String nodeOf(String agentId) {
    return client.resources(Agent.class).list().getItems().stream()
        .filter(a -> a.getMetadata().getUid().equals(agentId))
        .map(a -> a.getMetadata().getName())
        .findFirst()
        .orElseThrow();
  }

  private static Registry registry() throws Exception {
    try (Log log = replicas.client()) {
      State.Contents read = State.read(log, Duration.ofSeconds(30));
      return RegistryContents.of(read.variables(), read.sequence()).toProto();
    }
  }

  private static void signal(String name, long pid) throws Exception {
    new ProcessBuilder("kill", "-" + name, Long.toString(pid)).inheritIO().start().waitFor();
  }

  /** The agent's JVM: the process started, or the java under it (setsid, setpriv exec in place). */
  private static long agentJvm(Process p) {
    Optional<ProcessHandle> jvm =
        Stream.concat(Stream.of(p.toHandle()), p.descendants())
            .filter(
                h ->
                    h.info()
                        .arguments()
                        .map(a -> List.of(a).contains("io.kmesos.agent.AgentMain"))
                        .orElse(false))
            .findFirst();
    return jvm.map(ProcessHandle::pid).orElse(p.pid());
  }

  private static void reconcile(GreedyFramework f, String taskId, String agentId) {
    f.client.reconcile(
        List.of(ReconcileRequest.Task.newBuilder().setTaskId(taskId).setAgentId(agentId).build()));
  }

  @Test
  @Order(1)
  void anAgentPausedPastThePingTimeoutsIsUnreachableAndComesBack() throws Exception {
    try (GreedyFramework aware = framework("partition-aware", true, 1);
        GreedyFramework plain = framework("not-partition-aware", false, 1)) {
      await()
          .atMost(PATIENCE)
          .until(
              () ->
                  aware.tasksInState(TaskState.TASK_RUNNING).size() == 1
                      && plain.tasksInState(TaskState.TASK_RUNNING).size() == 1);
      String awareTask = aware.tasksInState(TaskState.TASK_RUNNING).get(0);
      String plainTask = plain.tasksInState(TaskState.TASK_RUNNING).get(0);
      String awareAgent = aware.fromAgent.get(awareTask).getAgentId();
      String plainAgent = plain.fromAgent.get(plainTask).getAgentId();
      List<String> paused = new ArrayList<>();
      for (String agentId : new TreeSet<>(List.of(awareAgent, plainAgent))) {
        long pid = agentJvm(agents.get(nodeOf(agentId)));
        signal("STOP", pid);
        paused.add(Long.toString(pid));
      }
      try {
        await()
            .atMost(PATIENCE)
            .untilAsserted(
                () -> {
                  assertThat(aware.latest.get(awareTask).getState())
                      .isEqualTo(TaskState.TASK_UNREACHABLE);
                  assertThat(plain.latest.get(plainTask).getState()).isEqualTo(TaskState.TASK_LOST);
                });
        TaskStatus unreachable = aware.latest.get(awareTask);
        assertThat(unreachable.getSource()).isEqualTo(TaskStatus.Source.SOURCE_MASTER);
        assertThat(unreachable.getReason()).isEqualTo(TaskStatus.Reason.REASON_AGENT_REMOVED);
        assertThat(registry().getUnreachableList())
            .extracting(a -> a.getInfo().getId())
            .contains(awareAgent, plainAgent);
        assertThat(registry().getUnreachableList())
            .allSatisfy(a -> assertThat(a.getState()).isEqualTo(AgentState.UNREACHABLE));
        // The Agents' status follows the registry, though nothing changed the resources.
        for (String agentId : List.of(awareAgent, plainAgent)) {
          await()
              .atMost(PATIENCE)
              .untilAsserted(() -> assertStatus(nodeOf(agentId), "Unreachable", "Unreachable"));
        }
      } finally {
        for (String pid : paused) {
          signal("CONT", Long.parseLong(pid));
        }
      }
      // Back: admitted again, re-registered with its tasks; reconciliation says RUNNING.
      await()
          .atMost(PATIENCE)
          .untilAsserted(
              () -> {
                assertThat(registry().getUnreachableList()).isEmpty();
                reconcile(aware, awareTask, awareAgent);
                reconcile(plain, plainTask, plainAgent);
                assertThat(aware.latest.get(awareTask).getState())
                    .isEqualTo(TaskState.TASK_RUNNING);
                assertThat(plain.latest.get(plainTask).getState())
                    .isEqualTo(TaskState.TASK_RUNNING);
              });
      for (String agentId : List.of(awareAgent, plainAgent)) {
        await()
            .atMost(PATIENCE)
            .untilAsserted(() -> assertStatus(nodeOf(agentId), "Admitted", "InRegistry"));
      }
      // The framework that was told TASK_LOST (and might have run it elsewhere) kills the copy.
      plain.client.kill(plainTask, plainAgent, null);
      await()
          .atMost(PATIENCE)
          .until(() -> plain.fromAgent.get(plainTask).getState() == TaskState.TASK_KILLED);
      aware.client.teardown().get(60, TimeUnit.SECONDS);
      plain.client.teardown().get(60, TimeUnit.SECONDS);
    }
  }

  @Test
  @Order(2)
  void theMasterKilledDuringLaunchesLosesAndDuplicatesNoTask() throws Exception {
    int tasks = 16;
    try (GreedyFramework f = framework("through-failover", true, tasks)) {
      // One task per offer and allocation: 16 launches take a few seconds; the master dies among
      // them.
      await().atMost(PATIENCE).until(() -> f.launched() >= 3);
      String leader = LocalCluster.leader(client);
      Process master = controllers.get(leader);
      master.destroyForcibly(); // kill -9
      int launchedBefore = f.launched();
      master.waitFor(30, TimeUnit.SECONDS);
      String other = leader.equals("controller-1") ? "controller-2" : "controller-1";
      await().atMost(PATIENCE).until(() -> other.equals(LocalCluster.leader(client)));
      // The framework re-subscribes by itself (with its ID) and launches the rest. Every task it
      // launched is RUNNING, or, if its launch died with the master before reaching an agent,
      // unknown to the new master once the agents are back; none ends.
      await()
          .atMost(PATIENCE)
          .pollInterval(Duration.ofSeconds(1))
          .untilAsserted(
              () -> {
                assertThat(f.pending()).isZero();
                for (String id : f.commands.keySet()) {
                  TaskStatus s = f.latest.get(id);
                  if (s == null || s.getState() != TaskState.TASK_RUNNING) {
                    reconcile(f, id, s == null ? "" : s.getAgentId());
                  }
                }
                assertThat(f.commands.keySet())
                    .allSatisfy(
                        id -> {
                          TaskStatus s = f.latest.get(id);
                          assertThat(s).as(id).isNotNull();
                          assertThat(s.getState())
                              .as(id)
                              .isIn(TaskState.TASK_RUNNING, TaskState.TASK_UNKNOWN);
                        });
              });
      assertThat(f.fromAgent.values())
          .as("no task ended while the master failed over")
          .noneMatch(s -> TaskStates.isTerminal(s.getState()));
      long running = f.inState(TaskState.TASK_RUNNING);
      System.out.printf(
          "PartitionIT failover: %d tasks launched (%d before the kill), %d RUNNING, %d unknown%n",
          f.launched(), launchedBefore, running, f.inState(TaskState.TASK_UNKNOWN));
      // Only a launch whose Accept the dead master never answered may be unknown: at most one
      // per agent's offer, the framework's launches of one allocation.
      assertThat(running).isGreaterThanOrEqualTo(tasks - NODES.size());
      // No duplicate: the agents run exactly the tasks the framework knows as RUNNING (each agent
      // reports what it runs in its Agent's status, every few seconds).
      await()
          .atMost(PATIENCE)
          .untilAsserted(
              () ->
                  assertThat(
                          client.resources(Agent.class).list().getItems().stream()
                              .mapToInt(
                                  a ->
                                      a.getStatus() == null
                                              || a.getStatus().getTasksRunning() == null
                                          ? 0
                                          : a.getStatus().getTasksRunning())
                              .sum())
                      .isEqualTo(running));
      assertThat(f.problems).isEmpty();
      f.client.teardown().get(60, TimeUnit.SECONDS);
    }
  }

  /** The Agent's status: its state and the reason of its Ready condition. */
  private static void assertStatus(String node, String state, String readyReason) {
    Agent agent = client.resources(Agent.class).withName(node).get();
    assertThat(agent.getStatus()).as(node).isNotNull();
    assertThat(agent.getStatus().getState()).as(node).isEqualTo(state);
    assertThat(agent.getStatus().getConditions())
        .filteredOn(c -> c.getType().equals("Ready"))
        .singleElement()
        .satisfies(c -> assertThat(c.getReason()).as(node).isEqualTo(readyReason));
  }

  private static Proc kubectl(String... args) throws Exception {
    List<String> command = new ArrayList<>();
    command.add(LocalKubeApiServer.binaryDirectory().resolve("kubectl").toString());
    command.addAll(List.of(args));
    return Proc.run(PATIENCE, Map.of("KUBECONFIG", kubeconfig.toString()), command);
  }

  /**
   * After a failover, an agent that does not re-register within the re-register timeout (it is
   * paused, as a node that is down) is marked unreachable: a reconciliation answers its task
   * TASK_UNREACHABLE and its Agent says Unreachable. Resumed, it comes back with its task.
   */
  @Test
  @Order(4)
  void anAgentDownLongerThanTheReregisterTimeoutAfterAFailoverIsUnreachableAndComesBack()
      throws Exception {
    // The controller killed above comes back, as a standby (its output in a new file).
    for (String identity : List.of("controller-1", "controller-2")) {
      if (!controllers.get(identity).isAlive()) {
        controllers.put(identity, startController(identity, identity + "-again.log"));
      }
    }
    try (GreedyFramework aware = framework("down-through-failover", true, 1)) {
      await().atMost(PATIENCE).until(() -> aware.tasksInState(TaskState.TASK_RUNNING).size() == 1);
      String task = aware.tasksInState(TaskState.TASK_RUNNING).get(0);
      String agentId = aware.fromAgent.get(task).getAgentId();
      String node = nodeOf(agentId);
      // The standby follows the Lease (it says so in its log) before the master dies.
      String leader = LocalCluster.leader(client);
      String other = leader.equals("controller-1") ? "controller-2" : "controller-1";
      Path otherLog = dir.resolve(other + "-again.log");
      assertThat(otherLog).as("the standby is the controller that was killed").exists();
      await()
          .atMost(PATIENCE)
          .until(() -> Files.readString(otherLog).contains("the master is now " + leader));
      long pid = agentJvm(agents.get(node));
      // The master dies, then the agent is down before any new master could hear from it.
      controllers.get(leader).destroyForcibly();
      signal("STOP", pid);
      try {
        await().atMost(PATIENCE).until(() -> other.equals(LocalCluster.leader(client)));
        await()
            .atMost(PATIENCE)
            .untilAsserted(
                () ->
                    assertThat(registry().getUnreachableList())
                        .extracting(a -> a.getInfo().getId())
                        .containsExactly(agentId));
        assertThat(Files.readString(otherLog))
            .contains("agent " + agentId + ": it did not re-register within");
        await()
            .atMost(PATIENCE)
            .untilAsserted(
                () -> {
                  reconcile(aware, task, agentId);
                  assertThat(aware.latest.get(task).getState())
                      .isEqualTo(TaskState.TASK_UNREACHABLE);
                });
        await()
            .atMost(PATIENCE)
            .untilAsserted(() -> assertStatus(node, "Unreachable", "Unreachable"));
      } finally {
        signal("CONT", pid);
      }
      // Back: admitted again and re-registered with its task, which is RUNNING again.
      await()
          .atMost(PATIENCE)
          .untilAsserted(
              () -> {
                assertThat(registry().getUnreachableList()).isEmpty();
                reconcile(aware, task, agentId);
                assertThat(aware.latest.get(task).getState()).isEqualTo(TaskState.TASK_RUNNING);
              });
      await().atMost(PATIENCE).untilAsserted(() -> assertStatus(node, "Admitted", "InRegistry"));
      assertThat(aware.problems).isEmpty();
      aware.client.teardown().get(60, TimeUnit.SECONDS);
    }
  }

  /**
   * An operator declares an agent gone with kubectl (spec.gone): its task ends
   * TASK_GONE_BY_OPERATOR, the agent kills it and stops, the Agent says Gone, the master refuses
   * the agent when it starts again, and spec.gone cannot be set back. Last: the node stays gone.
   */
  @Test
  @Order(5)
  void anAgentAnOperatorDeclaresGoneLosesItsTasksStopsAndNeverComesBack() throws Exception {
    try (GreedyFramework aware = framework("gone-by-operator", true, 1)) {
      await().atMost(PATIENCE).until(() -> aware.tasksInState(TaskState.TASK_RUNNING).size() == 1);
      String task = aware.tasksInState(TaskState.TASK_RUNNING).get(0);
      String agentId = aware.fromAgent.get(task).getAgentId();
      String node = nodeOf(agentId);
      Process agent = agents.get(node);

      Proc set =
          kubectl(
              "patch",
              "agents.kmesos.io",
              node,
              "--type=merge",
              "-p",
              "{\"spec\":{\"gone\":true}}");
      assertThat(set.exitCode()).as(set.stderr()).isZero();

      await()
          .atMost(PATIENCE)
          .until(
              () ->
                  aware.latest.get(task) != null
                      && aware.latest.get(task).getState() == TaskState.TASK_GONE_BY_OPERATOR);
      assertThat(aware.latest.get(task).getReason())
          .isEqualTo(TaskStatus.Reason.REASON_AGENT_REMOVED_BY_OPERATOR);
      // The agent, told it is gone, kills its task and stops.
      assertThat(agent.waitFor(PATIENCE.toSeconds(), TimeUnit.SECONDS)).isTrue();
      assertThat(agent.exitValue()).isEqualTo(3);
      String log = Files.readString(agentLogs.get(node));
      assertThat(log)
          .contains("REASON_AGENT_GONE")
          .contains("killing every task")
          .contains("was declared gone by an operator (spec.gone on Agent/" + node + ")");
      assertThat(registry().getGoneList()).extracting(a -> a.getInfo().getId()).contains(agentId);
      await().atMost(PATIENCE).untilAsserted(() -> assertStatus(node, "Gone", "Gone"));

      // Started again on its node, the agent is refused for good and stops again.
      Process again = startAgent(node, "agent-" + node + "-again.log");
      agents.put(node, again);
      assertThat(again.waitFor(PATIENCE.toSeconds(), TimeUnit.SECONDS)).isTrue();
      assertThat(again.exitValue()).isEqualTo(3);
      assertThat(Files.readString(dir.resolve("agent-" + node + "-again.log")))
          .contains(
              "REASON_AGENT_GONE agent "
                  + agentId
                  + " was declared gone; it never comes back under this ID");

      // The API server refuses to set it back, naming the field.
      for (String patch : List.of("{\"spec\":{\"gone\":false}}", "{\"spec\":{\"gone\":null}}")) {
        Proc back = kubectl("patch", "agents.kmesos.io", node, "--type=merge", "-p", patch);
        assertThat(back.exitCode()).as(patch).isNotZero();
        assertThat(back.stderr())
            .as(patch)
            .contains("spec.gone")
            .contains("spec.gone cannot be set back to false (or removed) once true");
      }
      assertThat(aware.problems).isEmpty();
      aware.client.teardown().get(60, TimeUnit.SECONDS);
    }
  }

  /** The example framework's instances, as N of its status lines says and the agents run them. */
  private static final int INSTANCES = 3;

  private static final Pattern VIEW =
      Pattern.compile("  instances: (\\d+) of (\\d+) running \\[([^\\]]*)\\](.*)$");

  /**
   * The example framework, examples/long-running-service, run as a user would (a JVM of its own)
   * with checkpointing and PARTITION_AWARE (its defaults), keeps its instances running across an
   * agent killed with SIGKILL and started again, an agent paused past the ping timeouts, and the
   * master killed while it replaces an instance. "Running" is both its own view (its last
   * "instances:" line) and the task processes on this machine (found in /proc by their sandbox),
   * which must be the same tasks.
   */
  @Test
  @Order(3)
  void theExampleFrameworkKeepsItsInstancesRunningAcrossAgentAndMasterFaults() throws Exception {
    // The controller killed above comes back as a standby, so that the master can fail over again.
    for (String identity : List.of("controller-1", "controller-2")) {
      if (!controllers.get(identity).isAlive()) {
        controllers.put(identity, startController(identity, identity + "-restarted.log"));
      }
    }
    Path out = dir.resolve("long-running-service.log");
    Process service =
        LocalCluster.javaProcess(
            "io.kmesos.examples.longrunning.LongRunningService",
            List.of(
                "--master",
                String.join(",", masters),
                "--tls-ca",
                replicas.certificates().dir(Identity.ADMIN).resolve("ca.crt").toString(),
                "--token-file",
                demoToken.toString(),
                "--name",
                "lrs",
                "--instances",
                Integer.toString(INSTANCES),
                "--command",
                "sleep 600",
                "--resources",
                "cpus:0.1;mem:16",
                "--role",
                LocalCluster.DEMO_ROLE,
                "--reconcile-every",
                "1s",
                "--refuse",
                "1s"),
            out);
    try {
      Map<String, Set<Long>> before = awaitSteady(out, "started");

      // 1. The agent of an instance killed with SIGKILL and started again: its checkpointed tasks
      // keep running, the same processes. (Down past the short ping timeouts, it may be marked
      // unreachable meanwhile: its instances are replaced, and the replacements, the newest,
      // killed when it is back.)
      String node = nodeOfTask(before.values().iterator().next());
      long agentPid = agentJvm(agents.get(node));
      signal("KILL", agentPid);
      await()
          .atMost(PATIENCE)
          .until(() -> ProcessHandle.of(agentPid).map(h -> !h.isAlive()).orElse(true));
      agents.put(node, startAgent(node, "agent-" + node + "-restarted.log"));
      Path restartedLog = dir.resolve("agent-" + node + "-restarted.log");
      await()
          .atMost(PATIENCE)
          .until(() -> Files.readString(restartedLog).contains("re-registered with master"));
      assertThat(awaitSteady(out, "after the agent's restart")).isEqualTo(before);

      // 2. The agent of an instance paused past the ping timeouts: its instances are unreachable
      // and replaced elsewhere; resumed, they are back, and the replacements are killed.
      node = nodeOfTask(before.values().iterator().next());
      long paused = agentJvm(agents.get(node));
      signal("STOP", paused);
      try {
        await()
            .atMost(PATIENCE)
            .pollInterval(Duration.ofMillis(500))
            .untilAsserted(
                () -> {
                  Matcher view = view(out);
                  assertThat(view.group(1)).isEqualTo(Integer.toString(INSTANCES));
                  assertThat(view.group(4)).contains("unreachable [");
                });
      } finally {
        signal("CONT", paused);
      }
      assertThat(awaitSteady(out, "after the partition")).isEqualTo(before);
      assertThat(Files.readString(out)).contains("is unreachable").contains("killing the newest");

      // 3. The master killed with SIGKILL just as an instance fails (its process killed): the
      // framework re-subscribes to the other controller with its ID and replaces the instance
      // once; the others run on untouched, and nothing runs twice.
      String failing = before.keySet().iterator().next();
      for (long pid : before.get(failing)) {
        signal("KILL", pid);
      }
      String leader = LocalCluster.leader(client);
      controllers.get(leader).destroyForcibly();
      String other = leader.equals("controller-1") ? "controller-2" : "controller-1";
      await().atMost(PATIENCE).until(() -> other.equals(LocalCluster.leader(client)));
      Map<String, Set<Long>> after = awaitSteady(out, "after the master's failover");
      assertThat(after).doesNotContainKey(failing);
      Map<String, Set<Long>> untouched = new TreeMap<>(before);
      untouched.remove(failing);
      assertThat(after).containsAllEntriesOf(untouched);
      assertThat(Files.readString(out)).contains("subscribed again as framework");
    } finally {
      endTheExample(service, out);
    }
  }

  /** The framework's view: its last "instances:" line, parsed. */
  private static Matcher view(Path out) throws IOException {
    List<String> lines =
        Files.readAllLines(out).stream().filter(l -> VIEW.matcher(l).find()).toList();
    assertThat(lines).as("the example's status lines (" + out + ")").isNotEmpty();
    Matcher m = VIEW.matcher(lines.get(lines.size() - 1));
    assertThat(m.find()).isTrue();
    return m;
  }

  /**
   * Waits until the example says its N instances run, nothing else (none launched, unreachable or
   * being killed), and exactly those tasks have processes; returns their processes by task.
   */
  private static Map<String, Set<Long>> awaitSteady(Path out, String when) {
    Map<String, Set<Long>> found = new TreeMap<>();
    await()
        .atMost(PATIENCE)
        .pollInterval(Duration.ofMillis(500))
        .untilAsserted(
            () -> {
              Matcher view = view(out);
              assertThat(view.group(0)).as(when).endsWith("]");
              assertThat(view.group(4)).as(when + ": " + view.group(0)).isEmpty();
              List<String> ids = List.of(view.group(3).split(", "));
              assertThat(ids).as(when).hasSize(INSTANCES);
              Map<String, Set<Long>> processes = new TreeMap<>();
              RestartableAgents.taskProcesses(dir)
                  .forEach(
                      (task, pids) -> {
                        if (task.startsWith("lrs-")) {
                          processes.put(task, pids);
                        }
                      });
              assertThat(processes.keySet()).as(when).containsExactlyInAnyOrderElementsOf(ids);
              found.clear();
              found.putAll(processes);
            });
    return found;
  }

  /** The node whose agent runs a task's processes (from the sandbox in their environment). */
  private static String nodeOfTask(Set<Long> pids) throws IOException {
    String agentsDir = dir.resolve("agents").toAbsolutePath() + "/";
    for (long pid : pids) {
      String env = Files.readString(Path.of("/proc", Long.toString(pid), "environ"));
      for (String v : env.split("\0")) {
        if (v.startsWith("MESOS_SANDBOX=" + agentsDir)) {
          String rest = v.substring(("MESOS_SANDBOX=" + agentsDir).length());
          return rest.substring(0, rest.indexOf('/'));
        }
      }
    }
    throw new AssertionError("no sandbox in the environment of " + pids);
  }

  /**
   * Stops the example (its tasks, checkpointed, keep running) and ends its framework as a new
   * scheduler of it would: subscribed with its ID, a Teardown; then its tasks are gone.
   */
  private static void endTheExample(Process service, Path out) throws Exception {
    service.destroy();
    service.waitFor(30, TimeUnit.SECONDS);
    Matcher id = Pattern.compile("subscribed as framework (\\S+)").matcher(Files.readString(out));
    if (id.find()) {
      try (GreedyFramework takeover =
          new GreedyFramework(
              masters,
              trust.channelCredentials(),
              demoToken,
              FrameworkInfo.newBuilder()
                  .setId(id.group(1))
                  .setName("lrs")
                  .setCheckpoint(true)
                  .addCapabilities(FrameworkInfo.Capability.PARTITION_AWARE)
                  .setFailoverTimeout(Durations.fromSeconds(300)),
              LocalCluster.DEMO_ROLE,
              "cpus:0.1;mem:16",
              null,
              0)) {
        await().atMost(PATIENCE).until(takeover.client::subscribed);
        takeover.client.teardown().get(60, TimeUnit.SECONDS);
      }
    }
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                RestartableAgents.taskProcesses(dir).keySet().stream()
                    .noneMatch(t -> t.startsWith("lrs-")));
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
