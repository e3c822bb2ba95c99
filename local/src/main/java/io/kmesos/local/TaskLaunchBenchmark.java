package io.kmesos.local;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.kmesos.api.cli.OneLineErrors;
import io.kmesos.api.cli.VersionProvider;
import io.kmesos.api.tls.CertificateDirectory;
import io.kmesos.api.tls.ClusterCertificates;
import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.ServerTrust;
import io.kmesos.api.tls.TlsSettings;
import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.Filters;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Offer;
import io.kmesos.api.v1.Resource;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStates;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.crds.KmesosCrds;
import io.kmesos.crds.v1alpha1.Agent;
import io.kmesos.devcluster.LocalKubeApiServer;
import io.kmesos.devcluster.ServiceAccountTokens;
import io.kmesos.framework.FrameworkClient;
import io.kmesos.framework.FrameworkSettings;
import io.kmesos.framework.Protos;
import io.kmesos.framework.ResourceText;
import io.kmesos.framework.Scheduler;
import io.kmesos.replica.local.LocalReplicas;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * How fast kmesos runs short tasks, next to the floor the machine sets. One agent, one framework
 * (in this JVM, on {@link FrameworkClient}), N tasks of {@code true}: tasks per second from the
 * first Accept to the last FINISHED acknowledged, and the Accept→RUNNING latency. The floor is the
 * same N processes started and reaped by a plain Java loop on the same machine, with 1 and K in
 * flight, both as the agent starts them ({@code setsid /bin/sh -c true}) and bare ({@code true}).
 * The kmesos side is all real: kube-apiserver, a replicated log, one controller process (the
 * master), one agent process with its pod-bound token and certificate, and a framework token of a
 * ServiceAccount allowed to {@code use} its role.
 */
@Command(
    name = "kmesos-task-launch-benchmark",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = "Times N tasks of `true` through kmesos next to a plain Java process loop.")
public final class TaskLaunchBenchmark implements Callable<Integer> {
  static final String NODE = "bench-node";
  static final String ROLE = "bench";
  static final String FRAMEWORK_NAMESPACE = "bench";
  static final String FRAMEWORK_ACCOUNT = "bench-framework";

  @Option(
      names = "--tasks",
      defaultValue = "2000",
      description = "Tasks per run (default: ${DEFAULT-VALUE}).")
  int tasks;

  @Option(
      names = "--repeats",
      defaultValue = "3",
      description = "Runs of each kind, interleaved (default: ${DEFAULT-VALUE}).")
  int repeats;

  @Option(
      names = "--warmup",
      defaultValue = "2000",
      description =
          "Tasks of a first kmesos run that warms the JVMs up and is not reported (default:"
              + " ${DEFAULT-VALUE}; 0: none).")
  int warmup;

  @Option(
      names = "--replicas",
      defaultValue = "1",
      description = "Replicas of the log (default: ${DEFAULT-VALUE}).")
  int replicas;

  @Option(
      names = "--allocation-interval",
      defaultValue = "50ms",
      description = "The controller's --allocation-interval (default: ${DEFAULT-VALUE}).")
  String allocationInterval;

  @Option(
      names = "--task-resources",
      defaultValue = "cpus:0.01;mem:1",
      description = "What each task asks for (default: ${DEFAULT-VALUE}).")
  String taskResources;

  @Option(
      names = "--max-per-accept",
      defaultValue = "0",
      description =
          "At most this many tasks per Accept (default: ${DEFAULT-VALUE}, as many as the offer holds).")
  int maxPerAccept;

  @Option(
      names = "--floor-in-flight",
      defaultValue = "1,200",
      split = ",",
      description =
          "Processes in flight in the floor's runs, one run each (default: ${DEFAULT-VALUE}; 200 is"
              + " what a 2-CPU agent holds of 0.01-CPU tasks).")
  List<Integer> floorInFlight;

  @Option(
      names = "--timeline",
      description =
          "Also write each measured task's times here (epoch ms: accept, starting, running, finished"
              + " received, finished acknowledged), one file per run, for stage breakdowns.")
  Path timeline;

  @Option(
      names = "--work-dir",
      description = "Where the cluster's files go (default: a new temporary directory).")
  Path workDir;

  public static void main(String[] args) {
    if (System.getProperty("logback.configurationFile") == null) {
      System.setProperty("logback.configurationFile", "kmesos-local-logback.xml");
    }
    System.exit(OneLineErrors.commandLine(new TaskLaunchBenchmark()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    if (tasks < 1 || repeats < 1 || replicas < 1) {
      throw new IllegalArgumentException("--tasks, --repeats and --replicas must be at least 1");
    }
    List<Resource> perTask = ResourceText.parse(taskResources);
    Path work = workDir != null ? workDir : Files.createTempDirectory("kmesos-tasks");
    Files.createDirectories(work);
    System.out.printf(
        "setup tasks=%d warmup=%d replicas=%d allocation_interval=%s task_resources=%s max_per_accept=%s"
            + " cores=%d work=%s%n",
        tasks,
        warmup,
        replicas,
        allocationInterval,
        taskResources,
        maxPerAccept > 0 ? Integer.toString(maxPerAccept) : "all",
        Runtime.getRuntime().availableProcessors(),
        work);
    System.out.flush();
    try (LocalKubeApiServer server = LocalKubeApiServer.start()) {
      Path kubeconfig = server.writeKubeConfig(work.resolve("kubeconfig"));
      KubernetesClient admin = server.newClient();
      KmesosCrds.install(admin, Duration.ofSeconds(60));
      admin
          .namespaces()
          .resource(
              new NamespaceBuilder()
                  .withNewMetadata()
                  .withName(LocalCluster.NAMESPACE)
                  .endMetadata()
                  .build())
          .serverSideApply();
      CertificateDirectory certs = new CertificateDirectory(work.resolve("certs"));
      ClusterCertificates.ensure(
          certs,
          new ClusterCertificates.Settings(
              List.of(Identity.REPLICA, Identity.CONTROLLER, Identity.ADMIN, Identity.AGENT),
              Map.of(Identity.REPLICA, List.of("127.0.0.1", "localhost")),
              ClusterCertificates.Settings.DEFAULT_CA_VALIDITY,
              ClusterCertificates.Settings.DEFAULT_VALIDITY,
              false),
          Instant.now());
      ServiceAccountTokens tokens = new ServiceAccountTokens(admin);
      Path agentToken =
          Files.writeString(
              work.resolve("agent.token"),
              tokens.podBoundToken(LocalCluster.NAMESPACE, "kmesos-agent", NODE));
      Path frameworkToken =
          Files.writeString(work.resolve("framework.token"), frameworkToken(admin, tokens));
      int masterPort = freePort();
      String master = "127.0.0.1:" + masterPort;
      try (LocalReplicas log =
          new LocalReplicas(work.resolve("log"), replicas, List.of(), certs)
              .dieWithLauncher()
              .startAll()) {
        log.initialize("tasks", Duration.ofSeconds(60));
        Process controller =
            Controllers.start(
                "bench",
                log,
                kubeconfig,
                LocalCluster.NAMESPACE,
                List.of(),
                masterPort,
                List.of("--allocation-interval", allocationInterval),
                work.resolve("controller.log"));
        Process agent = null;
        try {
          await(
              () -> "bench".equals(LocalCluster.leader(admin)),
              Duration.ofSeconds(60),
              "the controller to lead");
          agent =
              Agents.start(
                  NODE,
                  List.of(master),
                  kubeconfig,
                  certs.dir(Identity.AGENT),
                  agentToken,
                  work.resolve("agent"),
                  work.resolve("agent.log"));
          await(
              () -> {
                Agent a = admin.resources(Agent.class).withName(NODE).get();
                return a != null
                    && a.getStatus() != null
                    && "Admitted".equals(a.getStatus().getState());
              },
              Duration.ofSeconds(60),
              "the agent to be admitted");
          try (ServerTrust trust =
              ServerTrust.load(
                  certs.dir(Identity.CONTROLLER).resolve("ca.crt"),
                  Identity.CONTROLLER,
                  TlsSettings.DEFAULT_RELOAD)) {
            if (warmup > 0) {
              // The JVMs' JIT compilers and the agent's first process starts, not measured.
              print(floor(0, "setsid-sh", 1, "/usr/bin/setsid", "/bin/sh", "-c", "true"));
              print(kmesos("warmup", warmup, 0, List.of(master), trust, frameworkToken, perTask));
            }
            for (int rep = 1; rep <= repeats; rep++) {
              for (int k : floorInFlight) {
                print(floor(rep, "setsid-sh", k, "/usr/bin/setsid", "/bin/sh", "-c", "true"));
                print(floor(rep, "true", k, "true"));
              }
              print(kmesos("kmesos", tasks, rep, List.of(master), trust, frameworkToken, perTask));
            }
          }
        } finally {
          if (agent != null) {
            agent.destroy();
            agent.waitFor(10, TimeUnit.SECONDS);
          }
          controller.destroy();
          controller.waitFor(10, TimeUnit.SECONDS);
        }
      }
    }
    return 0;
  }

  private static void print(String line) {
    System.out.println(line);
    System.out.flush();
  }

  // ---- the floor --------------------------------------------------------------------------------

  /** {@code tasks} processes of {@code argv}, started and reaped with {@code inFlight} at once. */
  private String floor(int rep, String shape, int inFlight, String... argv) throws Exception {
    AtomicInteger next = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    long[] latencies = new long[tasks];
    ExecutorService threads = Executors.newFixedThreadPool(inFlight);
    CountDownLatch done = new CountDownLatch(inFlight);
    List<String> command = Arrays.asList(argv);
    long start = System.nanoTime();
    for (int t = 0; t < inFlight; t++) {
      threads.execute(
          () -> {
            try {
              int i;
              while ((i = next.getAndIncrement()) < tasks) {
                long begin = System.nanoTime();
                try {
                  Process p =
                      new ProcessBuilder(command)
                          .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                          .redirectError(ProcessBuilder.Redirect.DISCARD)
                          .start();
                  latencies[i] = System.nanoTime() - begin;
                  if (p.waitFor() != 0) {
                    failed.incrementAndGet();
                  }
                } catch (IOException | InterruptedException e) {
                  failed.incrementAndGet();
                }
              }
            } finally {
              done.countDown();
            }
          });
    }
    done.await();
    long elapsed = System.nanoTime() - start;
    threads.shutdown();
    Arrays.sort(latencies);
    return String.format(
        "run=floor rep=%d shape=%s in_flight=%d tasks=%d failed=%d seconds=%.3f tasks_per_s=%.1f"
            + " start_p50_ms=%.2f start_p99_ms=%.2f",
        rep,
        shape,
        inFlight,
        tasks,
        failed.get(),
        elapsed / 1e9,
        tasks / (elapsed / 1e9),
        percentile(latencies, 50) / 1e6,
        percentile(latencies, 99) / 1e6);
  }

  // ---- kmesos -----------------------------------------------------------------------------------

  /**
   * One framework launching {@code n} tasks of {@code true} as offers come; {@code kind} names the
   * run.
   */
  private String kmesos(
      String kind,
      int n,
      int rep,
      List<String> masters,
      ServerTrust trust,
      Path tokenFile,
      List<Resource> perTask)
      throws Exception {
    Launcher launcher =
        new Launcher(n, rep, perTask, maxPerAccept > 0 ? maxPerAccept : Integer.MAX_VALUE);
    FrameworkSettings settings =
        FrameworkSettings.of(
                masters,
                FrameworkInfo.newBuilder()
                    .setName("task-launch-benchmark-" + rep)
                    .addRoles(ROLE)
                    .build(),
                trust.channelCredentials(),
                tokenFile)
            .withExplicitAcknowledgements(true);
    FrameworkClient client = FrameworkClient.start(settings, launcher);
    try {
      if (!launcher.done.await(10, TimeUnit.MINUTES)) {
        throw new IllegalStateException(
            "run "
                + rep
                + ": after 10 minutes, "
                + launcher.acked.get()
                + " of "
                + n
                + " tasks acknowledged FINISHED");
      }
      if (launcher.error != null) {
        throw new IllegalStateException("run " + rep + ": " + launcher.error);
      }
    } finally {
      try {
        client.teardown().get(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        // The next framework gets the agent's resources once this one is gone, either way.
      }
      client.close();
    }
    if (timeline != null) {
      writeTimeline(kind, rep, launcher);
    }
    long[] starting = new long[n];
    long[] running = new long[n];
    long firstAccept = Long.MAX_VALUE;
    long lastAck = Long.MIN_VALUE;
    for (int i = 0; i < n; i++) {
      starting[i] =
          (launcher.startingAt[i] != 0 ? launcher.startingAt[i] : launcher.runningAt[i])
              - launcher.acceptAt[i];
      running[i] = launcher.runningAt[i] - launcher.acceptAt[i];
      firstAccept = Math.min(firstAccept, launcher.acceptAt[i]);
      lastAck = Math.max(lastAck, launcher.ackedAt[i]);
    }
    Arrays.sort(starting);
    Arrays.sort(running);
    long[] finished = new long[n];
    for (int i = 0; i < n; i++) {
      finished[i] = launcher.ackedAt[i] - launcher.acceptAt[i];
    }
    Arrays.sort(finished);
    double seconds = (lastAck - firstAccept) / 1e9;
    return String.format(
        "run=%s rep=%d tasks=%d failed=%d seconds=%.3f tasks_per_s=%.1f starting_p50_ms=%.2f"
            + " starting_p99_ms=%.2f running_p50_ms=%.2f"
            + " running_p99_ms=%.2f acked_p50_ms=%.2f acked_p99_ms=%.2f accepts=%d"
            + " max_per_accept=%d max_in_flight=%d",
        kind,
        rep,
        n,
        launcher.failed.get(),
        seconds,
        n / seconds,
        percentile(starting, 50) / 1e6,
        percentile(starting, 99) / 1e6,
        percentile(running, 50) / 1e6,
        percentile(running, 99) / 1e6,
        percentile(finished, 50) / 1e6,
        percentile(finished, 99) / 1e6,
        launcher.accepts,
        launcher.maxPerAccept,
        launcher.maxInFlight);
  }

  /** One line per task: its ID, then its times as epoch milliseconds (0: never seen). */
  private void writeTimeline(String kind, int rep, Launcher launcher) throws IOException {
    Files.createDirectories(timeline);
    List<String> lines = new ArrayList<>();
    lines.add("task accept starting running finished acked");
    for (int i = 0; i < launcher.total; i++) {
      lines.add(
          String.format(
              "%d-%d %.3f %.3f %.3f %.3f %.3f",
              rep,
              i,
              launcher.epochMs(launcher.acceptAt[i]),
              launcher.epochMs(launcher.startingAt[i]),
              launcher.epochMs(launcher.runningAt[i]),
              launcher.epochMs(launcher.finishedAt[i]),
              launcher.epochMs(launcher.ackedAt[i])));
    }
    Files.write(timeline.resolve(kind + "-" + rep + ".txt"), lines);
  }

  /**
   * The framework: launches as many tasks as each offer holds until all are launched, then
   * declines; acknowledges each update itself so that the FINISHED acknowledgement is timed.
   */
  static final class Launcher implements Scheduler {
    final int total;
    final int rep;
    final List<Resource> perTask;
    final int perAccept;
    final long[] acceptAt;
    final long[] startingAt;
    final long[] runningAt;
    final long[] finishedAt;
    final long[] ackedAt;

    /** A nanoTime and the wall clock at the same moment, to turn the former into the latter. */
    final long baseNanos = System.nanoTime();

    final long baseEpochMicros = Instant.now().toEpochMilli() * 1000;
    final AtomicInteger acked = new AtomicInteger();
    final AtomicInteger failed = new AtomicInteger();
    final CountDownLatch done = new CountDownLatch(1);
    final Filters noFilter = Filters.newBuilder().setRefuse(Protos.duration(Duration.ZERO)).build();
    final Filters longFilter =
        Filters.newBuilder().setRefuse(Protos.duration(Duration.ofHours(1))).build();
    volatile String error;
    int launched;
    int finishedCount;
    int accepts;
    int maxPerAccept;
    int maxInFlight;

    Launcher(int total, int rep, List<Resource> perTask, int perAccept) {
      this.total = total;
      this.rep = rep;
      this.perTask = perTask;
      this.perAccept = perAccept;
      this.acceptAt = new long[total];
      this.startingAt = new long[total];
      this.runningAt = new long[total];
      this.finishedAt = new long[total];
      this.ackedAt = new long[total];
    }

    double epochMs(long nanos) {
      return nanos == 0 ? 0 : (baseEpochMicros + (nanos - baseNanos) / 1000) / 1000.0;
    }

    @Override
    public void offers(FrameworkClient client, List<Offer> offers) {
      for (Offer offer : offers) {
        int fit = launched < total ? fits(offer) : 0;
        if (fit == 0) {
          client.decline(List.of(offer.getId()), launched < total ? noFilter : longFilter);
          continue;
        }
        int n = Math.min(Math.min(fit, perAccept), total - launched);
        List<TaskInfo> batch = new ArrayList<>(n);
        for (int j = 0; j < n; j++) {
          batch.add(
              TaskInfo.newBuilder()
                  .setTaskId(rep + "-" + (launched + j))
                  .setName("true")
                  .setAgentId(offer.getAgentId())
                  .addAllResources(perTask)
                  .setCommand(CommandInfo.newBuilder().setShell(true).setValue("true"))
                  .build());
        }
        long now = System.nanoTime();
        for (int j = 0; j < n; j++) {
          acceptAt[launched + j] = now;
        }
        launched += n;
        accepts++;
        maxPerAccept = Math.max(maxPerAccept, n);
        maxInFlight = Math.max(maxInFlight, launched - finishedCount);
        client
            .launch(List.of(offer.getId()), batch, noFilter)
            .whenComplete(
                (ok, e) -> {
                  if (e != null) {
                    fail("Accept refused: " + e);
                  }
                });
      }
    }

    /** How many tasks of {@link #perTask} the offer holds. */
    int fits(Offer offer) {
      int n = Integer.MAX_VALUE;
      for (Resource wanted : perTask) {
        double have = 0;
        for (Resource r : offer.getResourcesList()) {
          if (r.getName().equals(wanted.getName()) && r.hasScalar()) {
            have += r.getScalar();
          }
        }
        // The master rounds scalars to 3 decimals, as Mesos does; so does this division.
        n = Math.min(n, (int) Math.floor(have / wanted.getScalar() + 1e-6));
      }
      return n;
    }

    @Override
    public void update(FrameworkClient client, TaskStatus status) {
      long now = System.nanoTime();
      int i = index(status.getTaskId());
      if (i < 0) {
        if (!status.getUuid().isEmpty()) {
          client.acknowledge(status);
        }
        return;
      }
      if (status.getUuid().isEmpty() && !TaskStates.isTerminal(status.getState())) {
        // The master's answer to the client's implicit reconciliation, which may cross an Accept
        // (e.g. TASK_STAGING): it says nothing new and needs no acknowledgement.
        return;
      }
      switch (status.getState()) {
        case TASK_RUNNING -> runningAt[i] = now;
        case TASK_STARTING -> startingAt[i] = now;
        case TASK_FINISHED -> {
          finishedAt[i] = now;
          finishedCount++;
          if (runningAt[i] == 0) {
            runningAt[i] = now; // an update the agent folded away; FINISHED implies it ran
          }
        }
        default -> {
          failed.incrementAndGet();
          fail("task " + status.getTaskId() + ": " + status.getState() + " " + status.getMessage());
        }
      }
      boolean finished = status.getState() == TaskState.TASK_FINISHED;
      client
          .acknowledge(status)
          .whenComplete(
              (ok, e) -> {
                if (e != null) {
                  fail("Acknowledge refused: " + e);
                } else if (finished) {
                  ackedAt[i] = System.nanoTime();
                  if (acked.incrementAndGet() == total) {
                    done.countDown();
                  }
                }
              });
    }

    private int index(String taskId) {
      String prefix = rep + "-";
      if (!taskId.startsWith(prefix)) {
        return -1;
      }
      try {
        int i = Integer.parseInt(taskId.substring(prefix.length()));
        return i >= 0 && i < total ? i : -1;
      } catch (NumberFormatException e) {
        return -1;
      }
    }

    @Override
    public void error(FrameworkClient client, String message) {
      fail("the master ended the framework: " + message);
    }

    private void fail(String why) {
      if (error == null) {
        error = why;
      }
      done.countDown();
    }
  }

  static long percentile(long[] sorted, int p) {
    if (sorted.length == 0) {
      return 0;
    }
    int rank = (int) Math.ceil(p / 100.0 * sorted.length);
    return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
  }

  // ---- the processes ----------------------------------------------------------------------------

  static String frameworkToken(KubernetesClient admin, ServiceAccountTokens tokens) {
    tokens.ensureServiceAccount(FRAMEWORK_NAMESPACE, FRAMEWORK_ACCOUNT);
    // As examples/rbac/demo-framework.yaml: the account may `use` the role it subscribes with.
    admin
        .rbac()
        .clusterRoles()
        .resource(
            new ClusterRoleBuilder()
                .withNewMetadata()
                .withName("kmesos-framework-bench")
                .endMetadata()
                .addNewRule()
                .withApiGroups("kmesos.io")
                .withResources("roles")
                .withResourceNames(ROLE)
                .withVerbs("use")
                .endRule()
                .build())
        .serverSideApply();
    admin
        .rbac()
        .roleBindings()
        .inNamespace(FRAMEWORK_NAMESPACE)
        .resource(
            new RoleBindingBuilder()
                .withNewMetadata()
                .withName("bench-framework-roles")
                .withNamespace(FRAMEWORK_NAMESPACE)
                .endMetadata()
                .withNewRoleRef()
                .withApiGroup("rbac.authorization.k8s.io")
                .withKind("ClusterRole")
                .withName("kmesos-framework-bench")
                .endRoleRef()
                .addNewSubject()
                .withKind("ServiceAccount")
                .withName(FRAMEWORK_ACCOUNT)
                .withNamespace(FRAMEWORK_NAMESPACE)
                .endSubject()
                .build())
        .serverSideApply();
    return tokens.token(FRAMEWORK_NAMESPACE, FRAMEWORK_ACCOUNT);
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
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
