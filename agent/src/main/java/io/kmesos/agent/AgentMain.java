package io.kmesos.agent;

import com.sun.management.OperatingSystemMXBean;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.kmesos.agent.checkpoint.CheckpointStore;
import io.kmesos.agent.executors.ExecutorServer;
import io.kmesos.agent.gc.GarbageCollector;
import io.kmesos.agent.gc.Sandboxes;
import io.kmesos.agent.recovery.AgentRecovery;
import io.kmesos.agent.recovery.TaskCheckpoints;
import io.kmesos.agent.session.MasterSession;
import io.kmesos.agent.session.SessionSettings;
import io.kmesos.agent.status.AgentStatusReporter;
import io.kmesos.agent.tasks.TaskCgroups;
import io.kmesos.agent.updates.RetryTimer;
import io.kmesos.agent.updates.StatusUpdateQueues;
import io.kmesos.api.admin.AdminServer;
import io.kmesos.api.admin.ProcessMetrics;
import io.kmesos.api.cli.Durations;
import io.kmesos.api.cli.Failures;
import io.kmesos.api.cli.OneLineErrors;
import io.kmesos.api.cli.VersionProvider;
import io.kmesos.api.tls.MutualTls;
import io.kmesos.api.tls.TlsOptions;
import io.kmesos.crds.v1alpha1.Agent;
import io.kmesos.crds.v1alpha1.AgentSpec;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code kmesos-agent}: the node daemon of a kmesos cluster (one per node, from a DaemonSet). It
 * registers its node: it server-side applies the Agent named after the node, with the resources it
 * finds, which the master admits into the registry; then it follows its Agent's status. With {@code
 * --master} it also keeps a session with the leading master once admitted ({@link MasterSession}),
 * runs the tasks the master sends ({@link TaskAgent}) and shows what it runs in its Agent's status
 * ({@link AgentStatusReporter}). The tasks of frameworks with {@code checkpoint} are checkpointed
 * under the work directory and outlive the agent: a restarted agent recovers them ({@link
 * AgentRecovery}) before it re-registers.
 */
@Command(
    name = "kmesos-agent",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description =
        "The kmesos agent: registers its node's Agent, runs tasks (with --master), checkpoints those "
            + "of checkpointing frameworks under its work directory and recovers them after a restart.")
public final class AgentMain implements Callable<Integer> {
  static final String FIELD_MANAGER = "kmesos-agent";

  @Option(
      names = "--node-name",
      defaultValue = "${env:NODE_NAME}",
      description =
          "The node this agent runs on; its Agent has this name (default: $NODE_NAME, from spec.nodeName).")
  String nodeName;

  @Option(
      names = "--work-dir",
      defaultValue = "/var/lib/kmesos-agent",
      description = "Where the agent keeps its checkpoints (default: ${DEFAULT-VALUE}).")
  Path workDir;

  @Option(
      names = "--kubeconfig",
      description = "Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster).")
  Path kubeconfig;

  @Option(names = "--register-only", description = "Register the Agent and exit.")
  boolean registerOnly;

  @Option(
      names = "--metrics-port",
      defaultValue = "8081",
      paramLabel = "PORT",
      description =
          "Serve Prometheus metrics at http://<any address>:PORT/metrics; 0 for none (default: ${DEFAULT-VALUE}).")
  int metricsPort;

  @Option(
      names = "--master",
      split = ",",
      paramLabel = "HOST:PORT",
      description =
          "The masters (controllers that may lead), comma-separated host:port, tried in turn; a standby's "
              + "hint leads to the leader. Without it the agent only registers its node and runs no tasks.")
  List<String> masters = new ArrayList<>();

  @Option(
      names = "--token-file",
      defaultValue = "/var/run/secrets/kubernetes.io/serviceaccount/token",
      description =
          "The service account token sent to the master (authorization: Bearer), read again on every "
              + "connect (default: ${DEFAULT-VALUE}).")
  Path tokenFile;

  @Option(
      names = "--ping-interval",
      defaultValue = "15s",
      converter = Durations.class,
      description = "How often the agent pings the master (default: ${DEFAULT-VALUE}).")
  Duration pingInterval;

  @Option(
      names = "--master-timeout",
      defaultValue = "75s",
      converter = Durations.class,
      description =
          "A session without any message from the master this long is taken as dead, and the agent "
              + "connects again (default: ${DEFAULT-VALUE}).")
  Duration masterTimeout;

  @Option(
      names = "--kill-grace-period",
      defaultValue = "3s",
      converter = Durations.class,
      description =
          "Between SIGTERM and SIGKILL when a task is killed, unless the task or the kill says "
              + "(default: ${DEFAULT-VALUE}).")
  Duration killGracePeriod;

  @Option(
      names = "--status-interval",
      defaultValue = "5s",
      converter = Durations.class,
      description =
          "How often at most the Agent's status shows what the agent runs (default: ${DEFAULT-VALUE}).")
  Duration statusInterval;

  @Option(
      names = "--recover",
      defaultValue = "reconnect",
      paramLabel = "reconnect|cleanup",
      description =
          "What a restarted agent does with the tasks of checkpointing frameworks that still run: "
              + "reconnect re-adopts them, cleanup kills them and reports them killed (for an "
              + "incompatible upgrade) (default: ${DEFAULT-VALUE}).")
  String recover;

  @Option(
      names = "--strict",
      defaultValue = "true",
      arity = "1",
      paramLabel = "true|false",
      description =
          "Stop at a damaged checkpoint, naming the file (true), or recover what is intact and "
              + "report what was skipped (false) (default: ${DEFAULT-VALUE}).")
  boolean strict;

  @Option(
      names = "--gc-delay",
      defaultValue = "7d",
      converter = Durations.class,
      description =
          "How long a finished task's sandbox and checkpoints are kept before they are removed, "
              + "at most: less when the disk runs short, see --gc-disk-headroom "
              + "(default: ${DEFAULT-VALUE}).")
  Duration gcDelay;

  @Option(
      names = "--gc-disk-headroom",
      defaultValue = "0.1",
      paramLabel = "FRACTION",
      description =
          "The fraction of the work directory's file system to keep free, between 0 and 1: at a "
              + "usage u the GC delay is shortened to max(0, 1 - headroom - u) * --gc-delay and "
              + "what is older goes at once (default: ${DEFAULT-VALUE}).")
  double gcDiskHeadroom;

  @Option(
      names = "--disk-watch-interval",
      defaultValue = "1m",
      converter = Durations.class,
      description =
          "How often the work directory's disk usage is checked for --gc-disk-headroom "
              + "(default: ${DEFAULT-VALUE}).")
  Duration diskWatchInterval;

  @Option(
      names = "--recovery-timeout",
      defaultValue = "15m",
      converter = Durations.class,
      description =
          "Told to custom executors: how long one waits for its agent to come back after the agent "
              + "went away, before it exits by itself (default: ${DEFAULT-VALUE}).")
  Duration recoveryTimeout;

  @Option(
      names = "--executor-reregistration-timeout",
      defaultValue = "10s",
      converter = Durations.class,
      description =
          "After a restart, how long a custom executor that still runs has to re-subscribe before "
              + "it is destroyed and its tasks fail with REASON_EXECUTOR_REREGISTRATION_TIMEOUT "
              + "(default: ${DEFAULT-VALUE}).")
  Duration executorReregistrationTimeout;

  @Option(
      names = "--boot-id",
      paramLabel = "ID",
      description =
          "The host's boot ID, which tells a restart of the agent from a reboot of the host "
              + "(default: /proc/sys/kernel/random/boot_id). Set it only where that file is missing "
              + "or to test a reboot.")
  String bootIdOverride;

  @Option(
      names = "--task-cgroups",
      paramLabel = "PATH",
      description =
          "Give every task and custom executor of a checkpointing framework a cgroup of its own,"
              + " PATH/<run id> in every hierarchy, outside the agent's container, so that it"
              + " outlives the agent's Pod. A relative PATH is taken beside the kubelet's kubepods"
              + " cgroup (default: none; tasks stay in the agent's cgroup).")
  String taskCgroups;

  @Option(
      names = "--cgroup-fs",
      defaultValue = "/sys/fs/cgroup",
      paramLabel = "DIR",
      description =
          "Where the node's cgroup hierarchies are mounted, for --task-cgroups (default:"
              + " ${DEFAULT-VALUE}).")
  Path cgroupFs;

  @Mixin TlsOptions tls;

  /** Status updates are retried from 10 s, doubling to 10 min, as Mesos's agent does. */
  static final Duration UPDATE_RETRY_MIN = Duration.ofSeconds(10);

  static final Duration UPDATE_RETRY_MAX = Duration.ofMinutes(10);

  /**
   * Whether the registry holds this node's agent as admitted (Mesos slave/registered), from its
   * status.
   */
  private volatile boolean admitted;

  /** The Agent's UID while admitted: the agent's registry ID. */
  private volatile String admittedId;

  public static void main(String[] args) {
    System.exit(OneLineErrors.commandLine(new AgentMain()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    if (nodeName == null || nodeName.isBlank()) {
      throw new IllegalArgumentException(
          "--node-name is missing (in a pod: set $NODE_NAME from spec.nodeName)");
    }
    Files.createDirectories(workDir);
    if (!Files.isWritable(workDir)) {
      throw new IllegalArgumentException("--work-dir " + workDir + " is not writable");
    }
    if (metricsPort < 0 || metricsPort > 65535) {
      throw new IllegalArgumentException(
          "--metrics-port must be a port number (0 for none), not " + metricsPort);
    }
    AgentRecovery.Mode recoverMode =
        switch (recover) {
          case "reconnect" -> AgentRecovery.Mode.RECONNECT;
          case "cleanup" -> AgentRecovery.Mode.CLEANUP;
          default ->
              throw new IllegalArgumentException(
                  "--recover must be reconnect or cleanup, not '" + recover + "'");
        };
    GarbageCollector.Settings gcSettings =
        GarbageCollector.Settings.flags(gcDelay, gcDiskHeadroom, diskWatchInterval);
    workDir = workDir.toAbsolutePath().normalize();
    TaskCgroups cgroups =
        taskCgroups == null
            ? null
            : TaskCgroups.open(
                cgroupFs, taskCgroups, Files.readString(Path.of("/proc/self/cgroup")));
    if (recoveryTimeout.isNegative() || recoveryTimeout.isZero()) {
      throw new IllegalArgumentException(
          "--recovery-timeout must be positive, not " + recoveryTimeout);
    }
    if (executorReregistrationTimeout.isNegative() || executorReregistrationTimeout.isZero()) {
      throw new IllegalArgumentException(
          "--executor-reregistration-timeout must be positive, not "
              + executorReregistrationTimeout);
    }
    if (killGracePeriod.isNegative()) {
      throw new IllegalArgumentException(
          "--kill-grace-period must not be negative, not " + killGracePeriod);
    }
    SessionSettings sessionSettings =
        masters.isEmpty()
            ? null
            : new SessionSettings(
                masters,
                tokenFile,
                nodeName,
                bootIdOverride != null ? bootIdOverride : bootId(),
                pingInterval,
                masterTimeout,
                Duration.ofMillis(100),
                Duration.ofSeconds(5));
    MutualTls mutualTls = sessionSettings == null ? null : tls.load();
    try (KubernetesClient client =
        kubeconfig != null
            ? new KubernetesClientBuilder()
                .withConfig(Config.fromKubeconfig(Files.readString(kubeconfig)))
                .build()
            : new KubernetesClientBuilder().build()) {
      Agent agent = new Agent();
      agent.getMetadata().setName(nodeName);
      agent.setSpec(new AgentSpec());
      agent.getSpec().setHostname(nodeName);
      agent.getSpec().setResources(resources(workDir));
      Agent registered =
          client.resource(agent).fieldManager(FIELD_MANAGER).forceConflicts().serverSideApply();
      System.out.println(
          "kmesos-agent: registered Agent/" + nodeName + " " + registered.getSpec().getResources());
      if (registerOnly) {
        return 0;
      }
      AdminServer admin = null;
      PrometheusMeterRegistry metrics = null;
      if (metricsPort != 0) {
        metrics = ProcessMetrics.prometheus();
        Gauge.builder("kmesos.agent.registered", this, m -> m.admitted ? 1 : 0)
            .description(
                "1 while the registry holds this node's agent as admitted (Mesos slave/registered)")
            .register(metrics);
        admin = AdminServer.start(metricsPort, AdminServer.routes(metrics));
      }
      CountDownLatch stopped = new CountDownLatch(1);
      AtomicReference<String> gone = new AtomicReference<>();
      List<AutoCloseable> running = new ArrayList<>();
      if (sessionSettings != null) {
        ScheduledExecutorService timers =
            Executors.newScheduledThreadPool(
                2,
                r -> {
                  Thread t = new Thread(r, "agent-tasks");
                  t.setDaemon(true);
                  return t;
                });
        String agentUid = registered.getMetadata().getUid();
        // Collections and disk checks on a thread of their own: removing a large sandbox takes
        // a while, and the tasks' timers must not wait for it.
        ScheduledExecutorService gcThread =
            Executors.newSingleThreadScheduledExecutor(
                r -> {
                  Thread t = new Thread(r, "agent-gc");
                  t.setDaemon(true);
                  return t;
                });
        GarbageCollector gc =
            new GarbageCollector(
                gcSettings, Clock.systemUTC(), gcThread, GarbageCollector.DiskUsage.of(workDir));
        CheckpointStore checkpointStore = CheckpointStore.open(workDir);
        TaskCheckpoints checkpoints =
            new TaskCheckpoints(checkpointStore, workDir, sessionSettings.bootId(), gc);
        StatusUpdateQueues updates =
            new StatusUpdateQueues(
                RetryTimer.of(timers),
                UPDATE_RETRY_MIN,
                UPDATE_RETRY_MAX,
                checkpoints,
                AgentMain::checkpointFailed);
        TaskAgent tasks =
            new TaskAgent(
                workDir,
                registered.getSpec().getResources(),
                killGracePeriod,
                timers,
                updates,
                () -> Optional.ofNullable(admittedId),
                checkpoints,
                recoveryTimeout,
                executorReregistrationTimeout);
        if (metrics != null) {
          Gauge.builder("kmesos.agent.executors", tasks.executors(), e -> e.executors())
              .description("Custom executors whose process runs on this agent")
              .register(metrics);
          Gauge.builder("kmesos.agent.gc.pending", gc, GarbageCollector::pending)
              .description("Sandboxes and checkpoints scheduled for garbage collection")
              .register(metrics);
          FunctionCounter.builder("kmesos.agent.gc.collected", gc, GarbageCollector::collected)
              .description("Sandboxes and checkpoints garbage-collected since the agent started")
              .register(metrics);
          FunctionCounter.builder(
                  "kmesos.agent.gc.collected.early", gc, GarbageCollector::collectedEarly)
              .description("Of those, collected before their --gc-delay because the disk ran short")
              .register(metrics);
          Gauge.builder("kmesos.agent.disk.usage.ratio", gc, GarbageCollector::usage)
              .description(
                  "The fraction of the work directory's file system in use, at the last disk check")
              .register(metrics);
          Gauge.builder(
                  "kmesos.agent.gc.effective.delay",
                  gc,
                  g -> g.effectiveDelay().toMillis() / 1000.0)
              .baseUnit("seconds")
              .description("The GC delay in effect: --gc-delay, shortened when the disk runs short")
              .register(metrics);
        }
        // The sandboxes of frameworks without checkpoint: collected once their task ended and its
        // terminal update was acknowledged, never while a run, an executor or an update uses them.
        Sandboxes sandboxes =
            new Sandboxes(
                workDir,
                checkpointStore.layout(),
                gc,
                new Sandboxes.References() {
                  @Override
                  public boolean taskRuns(String frameworkId, String taskId) {
                    return tasks.runner().runs(frameworkId, taskId);
                  }

                  @Override
                  public boolean executorRuns(String frameworkId, String executorId) {
                    return tasks.executors().runs(frameworkId, executorId);
                  }

                  @Override
                  public boolean updatesPending(String frameworkId, String taskId) {
                    return updates.hasPending(frameworkId, taskId);
                  }
                },
                Clock.systemUTC(),
                gcThread);
        checkpoints.collectUncheckpointed(sandboxes);
        // Declared gone (spec.gone on its Agent): the tasks are killed; the agent stops, since it
        // never comes back under this ID.
        tasks.onGone(
            why -> {
              gone.set(why);
              stopped.countDown();
            });
        if (cgroups != null) {
          tasks.runner().useCgroups(cgroups);
          tasks.executors().useCgroups(cgroups);
        }
        // Recovered before the session starts: the first Reregister lists what survived.
        AgentRecovery.Outcome recovered =
            new AgentRecovery(
                    workDir,
                    recoverMode,
                    strict,
                    agentUid,
                    nodeName,
                    sessionSettings.bootId(),
                    gcSettings.delay(),
                    checkpoints,
                    tasks.runner(),
                    updates,
                    tasks.executors())
                .recover();
        System.out.println("kmesos-agent: recovered: " + recovered);
        if (cgroups != null) {
          // Those of runs that ended while no agent ran (a live task's cgroup cannot be removed).
          int removed = cgroups.removeEmpty();
          System.out.println(
              "kmesos-agent: tasks of checkpointing frameworks run in cgroups under "
                  + cgroups.root()
                  + " ("
                  + removed
                  + " empty ones of ended runs removed)");
        }
        // After recovery (which killed the processes no checkpoint accounts for): the sandboxes no
        // checkpoint names, left by an earlier agent, go after what is left of their GC delay.
        sandboxes.scheduleLeftovers();
        gc.start();
        System.out.println(
            "kmesos-agent: garbage collection: "
                + gc.pending()
                + " pending, delay "
                + gcSettings.delay()
                + ", disk headroom "
                + gcSettings.headroom()
                + ", disk checked every "
                + gcSettings.diskWatchInterval());
        // After recovery: a re-adopted executor that re-subscribes finds its token known.
        ExecutorServer executorApi = ExecutorServer.start(workDir, tasks.executors());
        running.add(checkpoints::close);
        running.add(gcThread::shutdownNow);
        running.add(gc);
        running.add(executorApi);
        running.add(tasks);
        running.add(
            new AgentStatusReporter(client, nodeName, tasks::report, Clock.systemUTC())
                .start(statusInterval));
        running.add(
            new MasterSession(
                    sessionSettings,
                    mutualTls,
                    tasks,
                    tasks.updates(),
                    recovered.registeredBefore())
                .start());
        running.add(mutualTls);
      }
      Runnable stopAll =
          () -> {
            // Last started, first stopped: the session, the reports, then the tasks.
            synchronized (running) {
              for (int i = running.size() - 1; i >= 0; i--) {
                try {
                  running.get(i).close();
                } catch (Exception e) {
                  System.out.println("kmesos-agent: stopping: " + Failures.oneLine(e));
                }
              }
              running.clear();
            }
          };
      Runtime.getRuntime()
          .addShutdownHook(
              new Thread(
                  () -> {
                    stopAll.run();
                    stopped.countDown();
                  }));
      try (Watch ignored =
          client
              .resources(Agent.class)
              .withName(nodeName)
              .watch(
                  new Watcher<>() {
                    private String last;

                    @Override
                    public void eventReceived(Action action, Agent a) {
                      // A status with conditions only (the controller's, before the registry
                      // decided) says nothing yet: not "null as null".
                      String now =
                          a.getStatus() == null || a.getStatus().getState() == null
                              ? null
                              : a.getStatus().getState() + " as " + a.getStatus().getAgentId();
                      admitted =
                          action != Action.DELETED
                              && a.getStatus() != null
                              && "Admitted".equals(a.getStatus().getState());
                      // An agent the master marked unreachable is still this agent: it connects
                      // and re-registers, and the master re-admits it with its tasks. One
                      // declared gone connects too: the master refuses it for good, with why,
                      // and it stops.
                      if (admitted
                          || (action != Action.DELETED
                              && a.getStatus() != null
                              && ("Unreachable".equals(a.getStatus().getState())
                                  || "Gone".equals(a.getStatus().getState())))) {
                        admittedId = a.getMetadata().getUid();
                      }
                      if (now != null && !now.equals(last)) {
                        last = now;
                        System.out.println(
                            "kmesos-agent: the registry holds this node's agent: " + now);
                      }
                    }

                    @Override
                    public void onClose(WatcherException cause) {
                      System.out.println(
                          "kmesos-agent: lost the watch on Agent/"
                              + nodeName
                              + ": "
                              + Failures.oneLine(cause));
                      stopped.countDown();
                    }
                  })) {
        stopped.await();
      } finally {
        stopAll.run();
        if (admin != null) {
          admin.close();
        }
      }
      if (gone.get() != null) {
        System.err.println(
            "kmesos-agent: this node's agent was declared gone by an operator (spec.gone on Agent/"
                + nodeName
                + "): its tasks are killed and it stops; delete Agent/"
                + nodeName
                + " to let this node come back as a new agent ("
                + gone.get()
                + ")");
        return EXIT_GONE;
      }
    }
    return 0;
  }

  /** The exit status of an agent declared gone (its Agent's spec.gone). */
  static final int EXIT_GONE = 3;

  /**
   * What this node offers: its processors, memory and the work directory's disk (MiB), as a Mesos
   * agent reports its machine's. In a pod the JVM's own figures are the container's limits
   * (cgroups), not the node's: /proc/cpuinfo and /proc/meminfo still show the machine's, so they
   * come first; the JVM's figures are the fallback off Linux.
   */
  static Map<String, Double> resources(Path workDir) throws IOException {
    Map<String, Double> r = new LinkedHashMap<>();
    r.put("cpus", (double) nodeCpus().orElse(Runtime.getRuntime().availableProcessors()));
    var os = (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    r.put("mem", (double) nodeMemoryMiB().orElse(os.getTotalMemorySize() >> 20));
    r.put("disk", (double) (Files.getFileStore(workDir).getTotalSpace() >> 20));
    return r;
  }

  /**
   * A checkpoint write failed (disk full, I/O error): the agent can no longer promise that what it
   * acknowledges survives a restart, so it stops, as Mesos's agent does; its checkpointed tasks
   * keep running and the next agent recovers them from what was written.
   */
  static void checkpointFailed(IOException e) {
    System.err.println(
        "kmesos-agent: cannot write a checkpoint ("
            + Failures.oneLine(e)
            + "); stopping, the tasks keep running for the next start to recover");
    new Thread(() -> System.exit(1), "checkpoint-failed").start();
  }

  /** The host's boot ID, to tell a restart from a reboot (empty off Linux). */
  static String bootId() {
    try {
      return Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).strip();
    } catch (IOException e) {
      return "";
    }
  }

  static Optional<Integer> nodeCpus() {
    try (var lines = Files.lines(Path.of("/proc/cpuinfo"))) {
      long n = lines.filter(l -> l.startsWith("processor")).count();
      return n > 0 ? Optional.of((int) n) : Optional.empty();
    } catch (IOException | UncheckedIOException e) {
      return Optional.empty();
    }
  }

  static Optional<Long> nodeMemoryMiB() {
    try (var lines = Files.lines(Path.of("/proc/meminfo"))) {
      return lines
          .filter(l -> l.startsWith("MemTotal:"))
          .findFirst()
          .map(l -> Long.parseLong(l.replaceAll("[^0-9]", "")) >> 10); // kB
    } catch (IOException | UncheckedIOException | NumberFormatException e) {
      return Optional.empty();
    }
  }
}
