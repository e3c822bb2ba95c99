package io.kmesos.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobStatus;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.kmesos.crds.v1alpha1.Agent;
import io.kmesos.crds.v1alpha1.MaintenanceSchedule;
import io.kmesos.crds.v1alpha1.Quota;
import io.kmesos.crds.v1alpha1.QuotaSpec;
import io.kmesos.crds.v1alpha1.RegistryStatus;
import io.kmesos.crds.v1alpha1.Weight;
import io.kmesos.devcluster.LocalKubeApiServer;
import io.kmesos.devcluster.RealNode;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * kmesos as an operator installs and runs it, on a real node: the image this module built, imported
 * into a node of scripts/kube-node.sh, {@code kubectl apply --server-side -k
 * manifests/overlays/real-node}, every Pod Ready through its own probes, the examples admitted into
 * the registry by the real master; then what an operator lives through, each step on what the
 * previous left: a framework's task on the real agent, the leading controller's Pod deleted, a
 * replica's Pod deleted, the agents rolled to a new image tag, the certificates of the install Job
 * checked and renewed, and the NetworkPolicies in force. One node and one deployment for all (the
 * tests run in order). Runs only with {@code -Preal-node} (root, scripts/kube-node-binaries.sh;
 * docs/real-node.md).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RealNodeIT {
  static final Path ROOT = RealNode.script().getParent().getParent();
  static final String NS = "kmesos";
  static final String IMAGE = "kmesos.local/kmesos:0.1.0";
  static final String ROLLED_IMAGE = "kmesos.local/kmesos:0.1.0-rolled";
  static final String MASTER = "kmesos-master.kmesos.svc:5050";

  /** What the scenarios wait for at most: generous, since the machine is busy (2 cores, shared). */
  static final Duration LONG = Duration.ofMinutes(5);

  static RealNode node;
  static KubernetesClient client;
  static Instant started;

  @BeforeAll
  static void deploy() throws Exception {
    node = RealNode.up(Path.of("target", "real-node"));
    client = node.client();
    // The path of bin/kmesos-local --real-node (kube-node.sh deploy): import, apply the overlay,
    // wait for every Pod and the examples; the first test then checks what a user would look at.
    node.deploy(Path.of("target", "kmesos-image.tar"));
  }

  @AfterAll
  static void down() {
    if (node != null) {
      node.close();
      // Nothing of the node stays: processes, mounts, cgroups, its network namespace.
      assertThat(node.leftovers()).as("kube-node.sh leftovers").isEmpty();
    }
  }

  @BeforeEach
  void start() {
    started = Instant.now();
  }

  @AfterEach
  void took(TestInfo test) {
    // For CI's log: what each scenario costs in wall time.
    System.out.printf(
        "RealNodeIT: %s took %d s%n",
        test.getTestMethod().orElseThrow().getName(),
        Duration.between(started, Instant.now()).toSeconds());
  }

  @Test
  @Order(1)
  void everyPodIsReadyAndTheRegistryAdmitsTheExamples() throws Exception {
    // Generous: seven JVMs start on a machine that may be busy; each gets Ready by its probes.
    await()
        .atMost(Duration.ofMinutes(10))
        .pollInterval(Duration.ofSeconds(2))
        .untilAsserted(() -> assertThat(podsNotDone()).isEmpty());
    assertThat(client.apps().statefulSets().inNamespace(NS).withName("kmesos-replica").get())
        .satisfies(s -> assertThat(s.getStatus().getReadyReplicas()).isEqualTo(3));
    assertThat(
            client
                .apps()
                .deployments()
                .inNamespace(NS)
                .withName("kmesos-controller")
                .get()
                .getStatus()
                .getReadyReplicas())
        .isEqualTo(2);
    assertThat(agentDaemonSet().getStatus().getNumberReady()).isEqualTo(1);
    // A Job's pod Succeeded comes before the Job controller counts it.
    for (String job : List.of("kmesos-certs", "kmesos-log-initialize")) {
      await()
          .atMost(Duration.ofMinutes(1))
          .untilAsserted(
              () ->
                  assertThat(client.batch().v1().jobs().inNamespace(NS).withName(job).get())
                      .as(job)
                      .satisfies(j -> assertThat(j.getStatus().getSucceeded()).isEqualTo(1)));
    }

    // The node's own agent registered itself; the registry (the master, through the replicated
    // log) admitted it.
    await()
        .atMost(LONG)
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
        .atMost(LONG)
        .untilAsserted(
            () ->
                assertThat(log(agentPod(), "agent"))
                    .contains("registered with master " + MASTER + " as agent " + agentUid()));

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
        .atMost(LONG)
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

  /**
   * A framework as a user runs one (docs/frameworks.md, "Running a framework in the cluster"): the
   * RBAC of examples/rbac/, the CA's certificate copied into a ConfigMap of the framework's
   * namespace, and kmesos-execute in a Job of its ServiceAccount; the task runs inside the agent's
   * Pod on the node.
   */
  @Test
  @Order(2)
  void aFrameworkJobRunsATaskInTheAgentPod() throws Exception {
    kubectl("apply", "--server-side", "-f", "examples/rbac/");
    // As docs/frameworks.md says: the certificate alone, never the Secret kmesos-ca (the CA's key).
    String caCrt =
        decode(client.secrets().inNamespace(NS).withName("kmesos-controller-tls").get(), "ca.crt");
    client
        .configMaps()
        .inNamespace("demo")
        .resource(
            new ConfigMapBuilder()
                .withNewMetadata()
                .withName("kmesos-ca")
                .withNamespace("demo")
                .endMetadata()
                .addToData("ca.crt", caCrt)
                .build())
        .create();

    Execution run = execute("hello-1");

    // The master offered the node's own agent (the Agent's uid is the agent's ID) ...
    assertThat(run.log).contains("on agent " + agentUid() + " (" + RealNode.NODE_NAME + ")");
    // ... and the task ran as a process of the agent's container: its sandbox is in the agent's
    // work directory, and the task saw the agent Pod's host name.
    assertThat(sandboxStdout(run)).isEqualTo("hello from a real node on " + agentPod() + "\n");
  }

  /**
   * The leading controller's Pod deleted: the other controller takes the Lease and publishes itself
   * as the master, admits a change, the agent re-registers with it, and frameworks run tasks again.
   */
  @Test
  @Order(3)
  void theStandbyTakesOverWhenTheLeadersPodIsDeleted() throws Exception {
    String leader = leaseHolder();
    List<String> controllers = readyPods("kmesos-controller");
    assertThat(controllers).hasSize(2).contains(leader);
    String standby = controllers.stream().filter(p -> !p.equals(leader)).findFirst().orElseThrow();
    String standbyIp = client.pods().inNamespace(NS).withName(standby).get().getStatus().getPodIP();

    client.pods().inNamespace(NS).withName(leader).delete();

    await()
        .atMost(LONG)
        .untilAsserted(() -> assertThat(leaseHolder()).as("the Lease's holder").isEqualTo(standby));
    // The new master points Service kmesos-master at itself: agents and frameworks follow it.
    await()
        .atMost(LONG)
        .untilAsserted(() -> assertThat(masterEndpoints()).containsExactly(standbyIp));

    // A change made after the failover is written into the registry by the new master.
    kubectl(
        "patch", "weights.kmesos.io", "batch", "--type=merge", "-p", "{\"spec\":{\"weight\":3}}");
    await().atMost(LONG).untilAsserted(() -> assertInRegistry(Weight.class, "batch"));
    assertThat(client.resources(Weight.class).withName("batch").get().getSpec().getWeight())
        .isEqualTo(3.0);

    // The agent (the same process) re-registered with the new master.
    await()
        .atMost(LONG)
        .untilAsserted(
            () ->
                assertThat(log(standby, "controller"))
                    .contains(
                        "agent " + agentUid() + " (" + RealNode.NODE_NAME + ") re-registered"));
    assertThat(log(agentPod(), "agent"))
        .contains("re-registered with master " + MASTER + " as agent " + agentUid());

    Execution run = execute("hello-2");
    assertThat(sandboxStdout(run)).isEqualTo("hello from a real node on " + agentPod() + "\n");

    // The Deployment replaced the deleted Pod: a new standby.
    await()
        .atMost(LONG)
        .untilAsserted(
            () ->
                assertThat(readyPods("kmesos-controller"))
                    .hasSize(2)
                    .contains(standby)
                    .doesNotContain(leader));
    assertThat(leaseHolder()).isEqualTo(standby);
  }

  /**
   * A replica's Pod deleted: the StatefulSet brings it back on the same claim, and it comes back
   * with its data (a voting member at once, not an empty replica that must recover the log from its
   * peers), and the log keeps taking the registry's writes.
   */
  @Test
  @Order(4)
  void aDeletedReplicaComesBackWithItsData() throws Exception {
    String name = "kmesos-replica-1";
    Pod before = client.pods().inNamespace(NS).withName(name).get();
    PersistentVolumeClaim claim =
        client.persistentVolumeClaims().inNamespace(NS).withName("data-" + name).get();
    assertThat(claim.getSpec().getVolumeName()).isEqualTo(name);

    client.pods().inNamespace(NS).withName(name).delete();

    await()
        .atMost(LONG)
        .pollInterval(Duration.ofSeconds(2))
        .untilAsserted(
            () -> {
              Pod p = client.pods().inNamespace(NS).withName(name).get();
              assertThat(p).isNotNull();
              assertThat(p.getMetadata().getUid()).isNotEqualTo(before.getMetadata().getUid());
              assertThat(ready(p)).as("%s Ready", name).isTrue();
            });
    Pod after = client.pods().inNamespace(NS).withName(name).get();
    // The same claim (not a new one), on the same volume.
    assertThat(
            after.getSpec().getVolumes().stream()
                .filter(v -> v.getPersistentVolumeClaim() != null)
                .map(v -> v.getPersistentVolumeClaim().getClaimName()))
        .containsExactly("data-" + name);
    assertThat(
            client
                .persistentVolumeClaims()
                .inNamespace(NS)
                .withName("data-" + name)
                .get()
                .getMetadata()
                .getUid())
        .isEqualTo(claim.getMetadata().getUid());

    // It started from its disk as a voting member: no EMPTY or RECOVERING on the way.
    String log = log(name, "replica");
    assertThat(log).containsPattern("replica 1 of 3 serving /data/log on \\S+ \\(VOTING\\)");
    assertThat(log).doesNotContain("EMPTY").doesNotContain("RECOVERING");
    assertThat(metrics(name)).containsPattern(gauge("kmesos_replica_status", "VOTING", "1.0"));

    // Registry changes are still admitted ...
    client
        .resources(Quota.class)
        .resource(
            quota("batch", Map.of("cpus", 1.0, "mem", 1024.0), Map.of("cpus", 2.0, "mem", 4096.0)))
        .create();
    await().atMost(LONG).untilAsserted(() -> assertInRegistry(Quota.class, "batch"));
    // ... and reach the replica again. The writer sends each write to every replica and needs a
    // quorum: a write made before its channel found the new Pod (a new IP behind the same DNS name,
    // which gRPC and CoreDNS cache for up to 30 s each) reached the other two only, and nothing
    // resends a committed write. So: one more change each round until the replica saw one.
    AtomicInteger weight = new AtomicInteger(10);
    await()
        .atMost(LONG)
        .pollInterval(Duration.ofSeconds(5))
        .untilAsserted(
            () -> {
              double writes = counter(metrics(name), "kmesos_replica_write_seconds_count");
              if (writes == 0) {
                kubectl(
                    "patch",
                    "weights.kmesos.io",
                    "batch",
                    "--type=merge",
                    "-p",
                    "{\"spec\":{\"weight\":" + weight.incrementAndGet() + "}}");
              }
              assertThat(writes)
                  .as("write requests %s answered since it came back", name)
                  .isPositive();
            });
    await().atMost(LONG).untilAsserted(() -> assertInRegistry(Weight.class, "batch"));
    assertThat(client.apps().statefulSets().inNamespace(NS).withName("kmesos-replica").get())
        .satisfies(s -> assertThat(s.getStatus().getReadyReplicas()).isEqualTo(3));
  }

  /**
   * The agents' DaemonSet rolled to a new image tag (the same image under another name, which is
   * all a rollout sees): the new agent Pod runs it, registers with the master as the same agent
   * (the Agent keeps its uid, which is the agent's ID), and stays admitted. A checkpointing
   * framework's task, launched before, outlives the old Pod (docs/agent-recovery.md, "Outliving the
   * agent's Pod"): the very same process (pid and start time, read in the node's /proc, which is
   * this machine's) runs on in a cgroup of its own, the new agent re-adopts it, the framework sees
   * it RUNNING after the roll and never anything else, and a kill through the master ends it with
   * TASK_KILLED reaching the framework, leaving no process, zombie or cgroup behind. Beside it, a
   * task of the same kind run through the image's example executor ({@code --executor
   * kmesos-executor}, docs/executors.md): the executor and its task outlive the old Pod in the
   * executor's cgroup, the executor re-subscribes to the new agent, the task is RUNNING after the
   * roll and is killed through the master likewise.
   */
  @Test
  @Order(5)
  void theAgentRollsToANewImageTagAndKeepsItsIdentityAndItsTasks() throws Exception {
    node.tagImage(IMAGE, ROLLED_IMAGE);
    String uid = agentUid();
    String oldPod = agentPod();
    String task = "long-1";
    startLongTask(task);
    String viaExecutor = "long-x";
    startLongTask(viaExecutor, LONG_TASK_SECONDS + 1, "kmesos-executor");
    String jobPod =
        await()
            .atMost(LONG)
            .pollInterval(Duration.ofSeconds(1))
            .ignoreExceptions() // no log while its container is created
            .until(
                () -> jobPod(task),
                p -> p != null && jobLog("demo", task).contains(task + "  TASK_RUNNING"));
    // The task's command (sleep) and its shell, which the agent checkpointed as the run's process.
    long sleep =
        await().atMost(LONG).until(() -> processWith("sleep " + LONG_TASK_SECONDS), p -> p > 0);
    long shell = Long.parseLong(stat(sleep)[5]); // the session leader
    String shellStart = stat(shell)[21];
    String sleepStart = stat(sleep)[21];
    // Out of the agent's container: a cgroup of the run's own beside the kubelet's kubepods.
    String memoryCgroup = cgroup(sleep, "memory");
    assertThat(memoryCgroup).contains("/kmesos-tasks/").doesNotContain("kubepods");
    assertThat(cgroup(shell, "memory")).isEqualTo(memoryCgroup);
    // The executor's task (in the executor's session) and the executor, in the executor's cgroup.
    String xJobPod =
        await()
            .atMost(LONG)
            .pollInterval(Duration.ofSeconds(1))
            .ignoreExceptions()
            .until(
                () -> jobPod(viaExecutor),
                p ->
                    p != null
                        && jobLog("demo", viaExecutor).contains(viaExecutor + "  TASK_RUNNING"));
    long xSleep =
        await()
            .atMost(LONG)
            .until(() -> processWith("sleep " + (LONG_TASK_SECONDS + 1)), p -> p > 0);
    long executor = Long.parseLong(stat(xSleep)[5]); // the executor leads the session
    String executorStart = stat(executor)[21];
    String xSleepStart = stat(xSleep)[21];
    String executorCgroup = cgroup(executor, "memory");
    assertThat(executorCgroup).contains("/kmesos-tasks/").doesNotContain("kubepods");
    assertThat(cgroup(xSleep, "memory")).isEqualTo(executorCgroup);

    kubectl(
        "-n",
        NS,
        "set",
        "image",
        "daemonset/kmesos-agent",
        "own-work-dir=" + ROLLED_IMAGE,
        "agent=" + ROLLED_IMAGE);

    await()
        .atMost(LONG)
        .pollInterval(Duration.ofSeconds(2))
        .untilAsserted(
            () -> {
              DaemonSet ds = agentDaemonSet();
              assertThat(ds.getStatus().getObservedGeneration())
                  .isEqualTo(ds.getMetadata().getGeneration());
              assertThat(ds.getStatus().getUpdatedNumberScheduled()).isEqualTo(1);
              assertThat(ds.getStatus().getNumberReady()).isEqualTo(1);
              assertThat(ds.getStatus().getNumberAvailable()).isEqualTo(1);
              assertThat(agentPods()).singleElement().isNotEqualTo(oldPod);
            });
    Pod rolled = client.pods().inNamespace(NS).withName(agentPod()).get();
    // (Not the containers' status.image: with two tags on one image, containerd reports either.)
    assertThat(rolled.getSpec().getInitContainers())
        .extracting(Container::getImage)
        .containsExactly(ROLLED_IMAGE);
    assertThat(rolled.getSpec().getContainers())
        .extracting(Container::getImage)
        .containsExactly(ROLLED_IMAGE);

    // The new agent process registers as the node's agent: the same ID as before the roll.
    await()
        .atMost(LONG)
        .untilAsserted(
            () ->
                assertThat(log(rolled.getMetadata().getName(), "agent"))
                    .containsPattern(
                        "registered with master " + Pattern.quote(MASTER) + " as agent " + uid));
    int registeredAt = jobLog("demo", task).length();
    int xRegisteredAt = jobLog("demo", viaExecutor).length();

    // The task outlived the old Pod (gone, its containers stopped: the shim kills what is left in
    // a container's cgroups when its first process ends, in the node's PID namespace), as the same
    // processes, re-adopted by the new agent.
    await().atMost(LONG).until(() -> client.pods().inNamespace(NS).withName(oldPod).get() == null);
    assertThat(stat(shell)[21]).as("the task's shell's start time").isEqualTo(shellStart);
    assertThat(stat(sleep)[21]).as("the task's command's start time").isEqualTo(sleepStart);
    assertThat(stat(sleep)[2]).as("its state").isNotEqualTo("Z");
    assertThat(log(rolled.getMetadata().getName(), "agent"))
        .contains("task " + task + " of framework ")
        .contains("re-adopted its process " + shell);
    assertThat(stat(executor)[21]).as("the executor's start time").isEqualTo(executorStart);
    assertThat(stat(xSleep)[21]).as("the executor's task's start time").isEqualTo(xSleepStart);
    await()
        .atMost(LONG)
        .untilAsserted(
            () ->
                assertThat(log(rolled.getMetadata().getName(), "agent"))
                    .contains("re-adopted its process " + executor)
                    .containsPattern(
                        "executor " + viaExecutor + " of framework \\S+: re-subscribed"));
    // The framework asks for its state every 2 s; the answer after the re-registration: RUNNING.
    await()
        .atMost(LONG)
        .ignoreExceptions()
        .untilAsserted(
            () ->
                assertThat(jobLog("demo", task).substring(registeredAt))
                    .contains(task + "  TASK_RUNNING"));
    await()
        .atMost(LONG)
        .ignoreExceptions()
        .untilAsserted(
            () ->
                assertThat(jobLog("demo", viaExecutor).substring(xRegisteredAt))
                    .contains(viaExecutor + "  TASK_RUNNING"));
    assertThat(agentUid()).isEqualTo(uid);
    assertThat(client.resources(Agent.class).withName(RealNode.NODE_NAME).get().getStatus())
        .satisfies(s -> assertThat(s.getState()).isEqualTo("Admitted"));
    assertInRegistry(Agent.class, RealNode.NODE_NAME);
    await()
        .atMost(LONG)
        .untilAsserted(
            () ->
                assertThat(metrics(rolled.getMetadata().getName()))
                    .containsPattern(
                        Pattern.compile("(?m)^kmesos_agent_registered(\\{[^}]*\\})? 1\\.0")));

    // The framework kills its task (kmesos-execute on SIGTERM: a kill through the master, then
    // it waits for the terminal update).
    kubectl("-n", "demo", "exec", jobPod, "--", "kill", "-TERM", "1");
    kubectl("-n", "demo", "exec", xJobPod, "--", "kill", "-TERM", "1");
    for (String t : List.of(task, viaExecutor)) {
      await().atMost(LONG).until(() -> jobDone("demo", t), d -> d != null);
      String log = jobLog("demo", t);
      assertThat(log).contains(t + "  TASK_KILLED");
      assertThat(log)
          .as("the framework's view of its task " + t)
          .doesNotContain(
              "TASK_FAILED",
              "TASK_LOST",
              "TASK_UNREACHABLE",
              "TASK_GONE",
              "TASK_DROPPED",
              "TASK_ERROR");
      System.out.printf("RealNodeIT: the updates of task %s:%n%s%n", t, log);
    }
    // Nothing of it stays: neither process (no zombie: /proc/<pid> goes once reaped), nor its
    // cgroup.
    await()
        .atMost(LONG)
        .untilAsserted(
            () -> {
              assertThat(Path.of("/proc", Long.toString(sleep))).doesNotExist();
              assertThat(Path.of("/proc", Long.toString(shell))).doesNotExist();
              assertThat(Path.of("/sys/fs/cgroup/memory" + memoryCgroup)).doesNotExist();
              assertThat(Path.of("/proc", Long.toString(xSleep))).doesNotExist();
              assertThat(Path.of("/proc", Long.toString(executor))).doesNotExist();
              assertThat(Path.of("/sys/fs/cgroup/memory" + executorCgroup)).doesNotExist();
            });
  }

  /** How long the long task sleeps: also how the test finds its process. */
  static final int LONG_TASK_SECONDS = 86_417;

  /**
   * A checkpointing framework (kmesos-execute --checkpoint) in a Job of demo/demo-framework, with a
   * task that sleeps for a day; it asks the master for its task's state every 2 s.
   */
  static void startLongTask(String name) {
    startLongTask(name, LONG_TASK_SECONDS, null);
  }

  /** As above, sleeping {@code seconds}, through {@code executor} if not null. */
  static void startLongTask(String name, int seconds, String executor) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "--checkpoint",
                "--reconcile-every=2s",
                "--grace=5s",
                "--command=sleep " + seconds));
    if (executor != null) {
      args.add("--executor=" + executor);
    }
    // A minute to stop: the framework kills its task on SIGTERM and waits for the update.
    createExecuteJob(name, args, 60);
  }

  /**
   * Creates a Job in demo/demo-framework that runs kmesos-execute with the role analytics and the
   * task ID {@code name}, as a user would, with {@code args} after the common ones; {@code
   * gracePeriodSeconds} is the Pod's termination grace period, or null for Kubernetes's default.
   */
  static void createExecuteJob(String name, List<String> args, Integer gracePeriodSeconds) {
    String grace =
        gracePeriodSeconds == null
            ? ""
            : "\n      terminationGracePeriodSeconds: " + gracePeriodSeconds;
    String extra =
        args.stream()
            .map(a -> ", \"" + a.replace("\"", "\\\"") + "\"")
            .collect(Collectors.joining());
    client
        .resource(
            """
            apiVersion: batch/v1
            kind: Job
            metadata: {name: %1$s, namespace: demo}
            spec:
              backoffLimit: 0
              template:
                spec:
                  serviceAccountName: demo-framework
                  restartPolicy: Never
                  enableServiceLinks: false%4$s
                  securityContext: {runAsNonRoot: true, runAsUser: 10001}
                  containers:
                  - name: execute
                    image: %2$s
                    imagePullPolicy: Never
                    args: [kmesos-execute, --master=%3$s, --tls-dir=/etc/kmesos-ca, --role=analytics,
                      --name=%1$s, --task-id=%1$s, "--resources=cpus:0.1;mem:32"%5$s]
                    securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
                      capabilities: {drop: [ALL]}}
                    volumeMounts:
                    - {name: ca, mountPath: /etc/kmesos-ca, readOnly: true}
                    - {name: tmp, mountPath: /tmp}
                  volumes:
                  - {name: ca, configMap: {name: kmesos-ca}}
                  - {name: tmp, emptyDir: {}}
            """
                .formatted(name, IMAGE, MASTER, grace, extra))
        .create();
  }

  /** The Job's Pod, once it has one. */
  static String jobPod(String job) {
    return client.pods().inNamespace("demo").withLabel("job-name", job).list().getItems().stream()
        .map(p -> p.getMetadata().getName())
        .findFirst()
        .orElse(null);
  }

  /** The pid of the live process whose command line is exactly {@code command}, or 0. */
  static long processWith(String command) throws IOException {
    try (var procs = Files.list(Path.of("/proc"))) {
      for (Path p : procs.toList()) {
        String name = p.getFileName().toString();
        if (!name.chars().allMatch(Character::isDigit)) {
          continue;
        }
        try {
          String cmd = Files.readString(p.resolve("cmdline")).replace('\0', ' ').strip();
          if (cmd.equals(command) && !stat(Long.parseLong(name))[2].equals("Z")) {
            return Long.parseLong(name);
          }
        } catch (IOException gone) {
          // ended meanwhile
        }
      }
    }
    return 0;
  }

  /** /proc/<pid>/stat's fields, 0-based (the command, field 1, without its parentheses). */
  static String[] stat(long pid) throws IOException {
    String s = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
    int close = s.lastIndexOf(')');
    String[] rest = s.substring(close + 2).split(" ");
    String[] f = new String[rest.length + 2];
    f[0] = s.substring(0, s.indexOf(' '));
    f[1] = s.substring(s.indexOf('(') + 1, close);
    System.arraycopy(rest, 0, f, 2, rest.length);
    return f;
  }

  /** The process's cgroup in a v1 hierarchy (from /proc/<pid>/cgroup). */
  static String cgroup(long pid, String controller) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "cgroup"))) {
      String[] f = line.split(":", 3);
      if (List.of(f[1].split(",")).contains(controller)) {
        return f[2];
      }
    }
    throw new AssertionError("no " + controller + " cgroup for process " + pid);
  }

  /**
   * The certificates every component uses are the install Job's: the Secrets it made (its labels,
   * made while it ran, issued by the CA it keeps in kmesos-ca), mounted by every workload, the very
   * files in the containers. The renewal CronJob, run once now, finds nothing to renew and leaves
   * everything Ready.
   */
  @Test
  @Order(6)
  void everyComponentUsesTheCertificatesOfTheInstallJob() throws Exception {
    Job install = client.batch().v1().jobs().inNamespace(NS).withName("kmesos-certs").get();
    Instant jobStart = Instant.parse(install.getStatus().getStartTime());
    Instant jobEnd = Instant.parse(install.getStatus().getCompletionTime());
    Secret ca = client.secrets().inNamespace(NS).withName("kmesos-ca").get();
    X509Certificate caCert = certificate(decode(ca, "tls.crt"));

    Map<String, String> secretOf = new LinkedHashMap<>();
    secretOf.put("kmesos-replica", "kmesos-replica-tls");
    secretOf.put("kmesos-controller", "kmesos-controller-tls");
    secretOf.put("kmesos-agent", "kmesos-agent-tls");
    secretOf.put("kmesos-log-initialize", "kmesos-admin-tls");
    Map<String, String> certificates = new TreeMap<>();
    for (String name :
        List.of(
            "kmesos-ca",
            "kmesos-replica-tls",
            "kmesos-controller-tls",
            "kmesos-admin-tls",
            "kmesos-agent-tls")) {
      Secret s = client.secrets().inNamespace(NS).withName(name).get();
      assertThat(s).as(name).isNotNull();
      assertThat(s.getType()).as(name).isEqualTo("kubernetes.io/tls");
      assertThat(s.getMetadata().getLabels())
          .as(name)
          .containsEntry("app.kubernetes.io/managed-by", "kmesos-certs")
          .containsEntry("app.kubernetes.io/part-of", "kmesos");
      // Made while the install Job ran (timestamps are whole seconds).
      Instant created = Instant.parse(s.getMetadata().getCreationTimestamp());
      assertThat(created).as(name).isBetween(jobStart.minusSeconds(1), jobEnd.plusSeconds(1));
      assertThat(decode(s, "ca.crt")).as(name).isEqualTo(decode(ca, "tls.crt"));
      X509Certificate cert = certificate(decode(s, "tls.crt"));
      cert.verify(caCert.getPublicKey()); // throws unless the CA issued it
      certificates.put(name, decode(s, "tls.crt"));
    }

    // Every Pod of each workload mounts its component's Secret.
    for (Map.Entry<String, String> e : secretOf.entrySet()) {
      List<Pod> pods =
          client
              .pods()
              .inNamespace(NS)
              .withLabel("app.kubernetes.io/name", e.getKey())
              .list()
              .getItems();
      assertThat(pods).as(e.getKey()).isNotEmpty();
      for (Pod p : pods) {
        assertThat(
                p.getSpec().getVolumes().stream()
                    .filter(v -> v.getSecret() != null)
                    .map((Volume v) -> v.getSecret().getSecretName()))
            .as(p.getMetadata().getName())
            .containsExactly(e.getValue());
      }
    }
    // ... and what the running containers read is that Secret's certificate.
    Map<String, String> componentOf =
        Map.of("kmesos-replica-0", "replica", leaseHolder(), "controller", agentPod(), "agent");
    for (Map.Entry<String, String> e : componentOf.entrySet()) {
      String pod = e.getKey();
      String component = e.getValue(); // also the container's name
      assertThat(
              kubectl(
                  "-n", NS, "exec", pod, "-c", component, "--", "cat", "/etc/kmesos/tls/tls.crt"))
          .as(pod)
          .isEqualTo(certificates.get("kmesos-" + component + "-tls"));
    }

    // The renewal CronJob, once: nothing is due (30 days, renewed in the last third), so it
    // succeeds and keeps every certificate.
    kubectl(
        "-n", NS, "create", "job", "kmesos-certs-renew-now", "--from=cronjob/kmesos-certs-renew");
    String renewal = awaitJob(NS, "kmesos-certs-renew-now");
    assertThat(renewal).contains("kept CA in Secret kmesos/kmesos-ca");
    for (String component : List.of("replica", "controller", "admin", "agent")) {
      assertThat(renewal)
          .contains(
              "kept " + component + " certificate in Secret kmesos/kmesos-" + component + "-tls");
    }
    for (Map.Entry<String, String> e : certificates.entrySet()) {
      assertThat(decode(client.secrets().inNamespace(NS).withName(e.getKey()).get(), "tls.crt"))
          .as(e.getKey())
          .isEqualTo(e.getValue());
    }
    assertThat(podsNotDone()).isEmpty();
    assertThat(readiness()).allSatisfy((k, v) -> assertThat(v).as(k).isEqualTo("True InRegistry"));
  }

  /**
   * kmesos' NetworkPolicies are in force (the node runs kube-router's policy controller, as a
   * cluster with a policy-enforcing network plugin does): a Pod in another namespace, even one
   * labelled as a log client, cannot open a connection to a replica's log port (7001), while it
   * reaches the replica's probe port (7002) and the master's port (5050), which the policies open
   * to every namespace; the controller still reaches the log port.
   */
  @Test
  @Order(7)
  void theNetworkPoliciesKeepOtherNamespacesOffTheLog() throws Exception {
    String prober = "outsider";
    kubectl("create", "namespace", prober);
    kubectl(
        "-n",
        prober,
        "run",
        "prober",
        "--image=kmesos.local/busybox:1",
        "--restart=Never",
        "--labels=kmesos.io/log-client=true",
        "--",
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do sleep 1; done");
    kubectl("-n", prober, "wait", "--for=condition=Ready", "pod/prober", "--timeout=240s");
    String replica = podIp("kmesos-replica-0");
    String leader = leaseHolder();

    // The path is there: the probe port is open to anyone, the master's port to every namespace.
    await()
        .atMost(Duration.ofMinutes(2))
        .pollInterval(Duration.ofSeconds(2))
        .until(() -> connect(prober, "prober", null, replica, 7002), "open"::equals);
    await()
        .atMost(Duration.ofMinutes(2))
        .pollInterval(Duration.ofSeconds(2))
        .until(() -> connect(prober, "prober", null, podIp(leader), 5050), "open"::equals);
    // The log's port is not, from another namespace (the policy admits log clients of kmesos' own).
    await()
        .atMost(Duration.ofMinutes(2))
        .pollInterval(Duration.ofSeconds(2))
        .until(() -> connect(prober, "prober", null, replica, 7001), "closed"::equals);
    for (int i = 0; i < 3; i++) {
      assertThat(connect(prober, "prober", null, replica, 7001))
          .as("a Pod of namespace %s -> %s:7001 (kmesos-replica-0's log port)", prober, replica)
          .isEqualTo("closed");
    }
    // ... while the leading controller reaches it.
    assertThat(connect(NS, leader, "controller", replica, 7001))
        .as("%s -> %s:7001", leader, replica)
        .isEqualTo("open");
    kubectl("delete", "namespace", prober, "--wait=false");
  }

  // ---------------------------------------------------------------------------------------------

  /** What kmesos-execute's Job printed, and the framework it subscribed as. */
  record Execution(String taskId, String frameworkId, String log) {}

  static final Pattern SUBSCRIBED = Pattern.compile("subscribed as framework (\\S+)");

  /**
   * Runs kmesos-execute in a Job of demo/demo-framework with the role analytics, as a user would,
   * and waits until it succeeded: its task finished on an agent.
   */
  static Execution execute(String name) throws Exception {
    createExecuteJob(name, List.of("--command=echo hello from a real node on `hostname`"), null);
    String log = awaitJob("demo", name);
    // kmesos-execute prints each status update of its task: running, then finished.
    assertThat(log).containsSubsequence(name + "  TASK_RUNNING", name + "  TASK_FINISHED");
    Matcher m = SUBSCRIBED.matcher(log);
    assertThat(m.find()).as("framework ID in:%n%s", log).isTrue();
    return new Execution(name, m.group(1), log);
  }

  /** The task's stdout in its sandbox, read inside the agent's Pod (as an operator would). */
  static String sandboxStdout(Execution run) throws Exception {
    return kubectl(
        "-n",
        NS,
        "exec",
        agentPod(),
        "-c",
        "agent",
        "--",
        "sh",
        "-c",
        "cat /var/lib/kmesos-agent/sandboxes/" + run.frameworkId + "/" + run.taskId + "/*/stdout");
  }

  /** Waits until the Job is done, asserts it succeeded, and returns its Pods' log. */
  static String awaitJob(String namespace, String name) {
    String done =
        await()
            .atMost(LONG)
            .pollInterval(Duration.ofSeconds(2))
            .until(() -> jobDone(namespace, name), d -> d != null);
    String log = jobLog(namespace, name);
    assertThat(done).as("Job %s/%s; its log:%n%s", namespace, name, log).isEqualTo("succeeded");
    return log;
  }

  /** "succeeded", "failed", or null while the Job runs. */
  static String jobDone(String namespace, String name) {
    JobStatus s =
        client.batch().v1().jobs().inNamespace(namespace).withName(name).get().getStatus();
    if (s != null && s.getSucceeded() != null && s.getSucceeded() > 0) {
      return "succeeded";
    }
    if (s != null && s.getFailed() != null && s.getFailed() > 0) {
      return "failed";
    }
    return null;
  }

  static String jobLog(String namespace, String name) {
    return client
        .pods()
        .inNamespace(namespace)
        .withLabel("job-name", name)
        .list()
        .getItems()
        .stream()
        .map(p -> client.pods().inNamespace(namespace).resource(p).getLog())
        .collect(Collectors.joining("\n"));
  }

  static String log(String pod, String container) {
    return client.pods().inNamespace(NS).withName(pod).inContainer(container).getLog();
  }

  /** A pod's /metrics (port 8081), through the API server's proxy. */
  static String metrics(String pod) throws Exception {
    return kubectl(
        "get", "--raw", "/api/v1/namespaces/" + NS + "/pods/" + pod + ":8081/proxy/metrics");
  }

  static Pattern gauge(String name, String status, String value) {
    return Pattern.compile(
        "(?m)^" + name + "\\{[^}]*status=\"" + status + "\"[^}]*\\} " + Pattern.quote(value));
  }

  static double counter(String metrics, String name) {
    Matcher m = Pattern.compile("(?m)^" + name + "(\\{[^}]*\\})? (\\S+)").matcher(metrics);
    double sum = 0;
    while (m.find()) {
      sum += Double.parseDouble(m.group(2));
    }
    return sum;
  }

  static String podIp(String pod) {
    return client.pods().inNamespace(NS).withName(pod).get().getStatus().getPodIP();
  }

  /**
   * "open" when a TCP connection from the Pod (busybox nc, 3 s) to ip:port succeeds, else "closed".
   */
  static String connect(String namespace, String pod, String container, String ip, int port)
      throws Exception {
    List<String> args = new ArrayList<>(List.of("-n", namespace, "exec", pod));
    if (container != null) {
      args.addAll(List.of("-c", container));
    }
    args.addAll(
        List.of(
            "--",
            "sh",
            "-c",
            "nc -w 3 " + ip + " " + port + " -e true && echo open || echo closed"));
    return kubectl(args.toArray(String[]::new)).strip();
  }

  static String leaseHolder() {
    return client
        .leases()
        .inNamespace(NS)
        .withName("kmesos-master")
        .get()
        .getSpec()
        .getHolderIdentity();
  }

  /** The addresses Service kmesos-master's EndpointSlices hold. */
  static List<String> masterEndpoints() {
    return client
        .discovery()
        .v1()
        .endpointSlices()
        .inNamespace(NS)
        .withLabel("kubernetes.io/service-name", "kmesos-master")
        .list()
        .getItems()
        .stream()
        .flatMap(s -> s.getEndpoints().stream())
        .map(Endpoint::getAddresses)
        .flatMap(List::stream)
        .toList();
  }

  static DaemonSet agentDaemonSet() {
    return client.apps().daemonSets().inNamespace(NS).withName("kmesos-agent").get();
  }

  /** The agent Pods that are not being deleted. */
  static List<String> agentPods() {
    return client
        .pods()
        .inNamespace(NS)
        .withLabel("app.kubernetes.io/name", "kmesos-agent")
        .list()
        .getItems()
        .stream()
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
        .map(p -> p.getMetadata().getName())
        .toList();
  }

  static String agentPod() {
    List<String> pods = agentPods();
    assertThat(pods).as("agent pods").hasSize(1);
    return pods.get(0);
  }

  /** The node's Agent's uid: the agent's ID. */
  static String agentUid() {
    return client.resources(Agent.class).withName(RealNode.NODE_NAME).get().getMetadata().getUid();
  }

  /** Ready Pods of a workload (label app.kubernetes.io/name), not being deleted. */
  static List<String> readyPods(String app) {
    return client
        .pods()
        .inNamespace(NS)
        .withLabel("app.kubernetes.io/name", app)
        .list()
        .getItems()
        .stream()
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null && ready(p))
        .map(p -> p.getMetadata().getName())
        .toList();
  }

  static boolean ready(Pod p) {
    return p.getStatus() != null
        && p.getStatus().getConditions().stream()
            .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
  }

  /** Pods of kmesos that are neither Ready nor Succeeded, with their phase; empty once all are. */
  static Map<String, String> podsNotDone() {
    List<Pod> pods = client.pods().inNamespace(NS).list().getItems();
    assertThat(pods).as("kmesos' pods").hasSizeGreaterThanOrEqualTo(8);
    Map<String, String> notDone = new TreeMap<>();
    for (Pod p : pods) {
      if (!ready(p) && !"Succeeded".equals(p.getStatus().getPhase())) {
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

  /** The resource's Ready is True InRegistry for its current spec (generation). */
  static <R extends CustomResource<?, ? extends RegistryStatus>> void assertInRegistry(
      Class<R> type, String name) {
    R r = client.resources(type).withName(name).get();
    RegistryStatus s = r.getStatus();
    assertThat(s).as("%s status", name).isNotNull();
    assertThat(s.getObservedGeneration()).as(name).isEqualTo(r.getMetadata().getGeneration());
    assertThat(readinessOf(r)).as(name).isEqualTo("True InRegistry");
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
      ready.put(r.getKind() + "/" + r.getMetadata().getName(), readinessOf(r));
    }
  }

  static String readinessOf(CustomResource<?, ? extends RegistryStatus> r) {
    RegistryStatus s = r.getStatus();
    return s == null || s.getConditions() == null
        ? "no status"
        : s.getConditions().stream()
            .filter(c -> "Ready".equals(c.getType()))
            .map(c -> c.getStatus() + " " + c.getReason())
            .findFirst()
            .orElse("no Ready condition");
  }

  static Quota quota(String role, Map<String, Double> guarantees, Map<String, Double> limits) {
    Quota q = new Quota();
    q.getMetadata().setName(role);
    q.setSpec(new QuotaSpec());
    q.getSpec().setRole(role);
    q.getSpec().setGuarantees(guarantees);
    q.getSpec().setLimits(limits);
    return q;
  }

  static String decode(Secret s, String key) {
    return new String(Base64.getDecoder().decode(s.getData().get(key)), StandardCharsets.UTF_8);
  }

  static X509Certificate certificate(String pem) throws Exception {
    return (X509Certificate)
        CertificateFactory.getInstance("X.509")
            .generateCertificate(new ByteArrayInputStream(pem.getBytes(StandardCharsets.UTF_8)));
  }

  /**
   * kubectl (of scripts/kube-test-binaries.sh) against the node, from the checkout's root; its
   * stdout.
   */
  static String kubectl(String... args) throws IOException, InterruptedException {
    List<String> cmd =
        new ArrayList<>(
            List.of(LocalKubeApiServer.binaryDirectory().resolve("kubectl").toString()));
    cmd.addAll(List.of(args));
    Path out = Files.createTempFile("kubectl", ".out");
    Path err = Files.createTempFile("kubectl", ".err");
    try {
      ProcessBuilder pb =
          new ProcessBuilder(cmd)
              .directory(ROOT.toFile())
              .redirectOutput(out.toFile())
              .redirectError(err.toFile());
      pb.environment().put("KUBECONFIG", node.kubeconfig().toString());
      Process p = pb.start();
      assertThat(p.waitFor(2, TimeUnit.MINUTES)).as("kubectl %s finished", args[0]).isTrue();
      assertThat(p.exitValue())
          .as("kubectl %s:%n%s%s", cmd, Files.readString(out), Files.readString(err))
          .isZero();
      return Files.readString(out);
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }
}
