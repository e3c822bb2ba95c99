package io.kmesos.local;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.kmesos.api.cli.Durations;
import io.kmesos.api.cli.OneLineErrors;
import io.kmesos.api.cli.VersionProvider;
import io.kmesos.api.scheduler.v1.ReconcileRequest;
import io.kmesos.api.v1.Resource;
import io.kmesos.framework.FrameworkClient;
import io.kmesos.framework.ResourceText;
import io.kmesos.replica.local.LocalReplicas;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Master failover at scale: AGENTS simulated agents ({@link SimulatedAgents}: real sessions over
 * mutual TLS, each an admitted Agent with a pod-bound token) and TASKS tasks launched through a
 * framework, on two controllers (real JVMs), a 3-replica log and a real kube-apiserver. The leader
 * is killed (kill -9); from then on the benchmark times: the standby holding the Lease; its master
 * port serving; the framework subscribed again; every agent re-registered with the new master (and
 * half, 90 % of them); and an explicit reconciliation of all TASKS tasks answered TASK_RUNNING for
 * every one. The framework reconciles as soon as it is subscribed again, at most {@link
 * #RECONCILE_BATCH} tasks per request; once a request is answered it asks again after a second (at
 * once when the last agent is back, and the next batch at once) for the tasks not yet answered
 * RUNNING. After a failover a new standby is started where the old leader was, for the next one.
 */
@Command(
    name = "kmesos-failover-scale-benchmark",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description =
        "Times master failover (kill -9 of the leader) with many simulated agents and tasks: until"
            + " every agent re-registered and a reconciliation of every task is answered.")
public final class FailoverScaleBenchmark implements Callable<Integer> {
  static final int RECONCILE_BATCH = 2000;

  @Option(
      names = "--agents",
      defaultValue = "1000",
      description = "Simulated agents (default: ${DEFAULT-VALUE}).")
  int agents;

  @Option(
      names = "--tasks",
      defaultValue = "10000",
      description = "Tasks, spread evenly over the agents (default: ${DEFAULT-VALUE}).")
  int tasks;

  @Option(
      names = "--lease",
      defaultValue = "15s/10s/2s",
      description =
          "The controllers' Lease, duration/renew-deadline/retry-period (default: ${DEFAULT-VALUE}).")
  String lease;

  @Option(
      names = "--failovers",
      defaultValue = "1",
      description = "Failovers to time, one after the other (default: ${DEFAULT-VALUE}).")
  int failovers;

  @Option(
      names = "--task-resources",
      defaultValue = "cpus:0.1;mem:16",
      description = "What each task asks for (default: ${DEFAULT-VALUE}).")
  String taskResources;

  @Option(
      names = "--timeout",
      defaultValue = "20m",
      converter = Durations.class,
      description =
          "The longest any phase (setting up the agents, launching, one failover) may take (default:"
              + " ${DEFAULT-VALUE}).")
  Duration timeout;

  @Option(
      names = "--work-dir",
      description = "Where the cluster's files and the controllers' logs go (default: a new one).")
  Path workDir;

  public static void main(String[] args) {
    if (System.getProperty("logback.configurationFile") == null) {
      System.setProperty("logback.configurationFile", "kmesos-local-logback.xml");
    }
    System.exit(OneLineErrors.commandLine(new FailoverScaleBenchmark()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    if (agents < 1 || tasks < 0 || failovers < 1) {
      throw new IllegalArgumentException(
          "--agents and --failovers must be at least 1, --tasks at least 0");
    }
    List<String> leaseSettings = List.of(lease.split("/"));
    if (leaseSettings.size() != 3) {
      throw new IllegalArgumentException(
          "--lease: duration/renew-deadline/retry-period, not '" + lease + "'");
    }
    List<Resource> perTask = ResourceText.parse(taskResources);
    int perAgent = (tasks + agents - 1) / agents;
    Path work = workDir != null ? workDir : Files.createTempDirectory("kmesos-failover-scale");
    System.out.printf(
        "setup agents=%d tasks=%d per_agent=%d lease=%s cores=%d work=%s%n",
        agents, tasks, perAgent, lease, Runtime.getRuntime().availableProcessors(), work);
    System.out.flush();
    try (FailoverRig rig = new FailoverRig(work);
        LocalReplicas replicas =
            new LocalReplicas(work.resolve("log"), 3, List.of("-Xmx256m"), rig.certs)
                .dieWithLauncher()
                .startAll()) {
      KubernetesClient client = rig.admin;
      replicas.initialize("failover-scale", Duration.ofSeconds(60));
      String[] address = {
        "127.0.0.1:" + FailoverRig.freePort(), "127.0.0.1:" + FailoverRig.freePort()
      };
      FailoverRig.AdminChannel[] channel = {rig.channel(address[0]), rig.channel(address[1])};
      Process[] controller = new Process[2];
      String[] ids = {"c0", "c1"};
      SimulatedAgents sim = null;
      FrameworkClient framework = null;
      try {
        controller[0] = startController(rig, replicas, work, "c0", leaseSettings, address[0]);
        FailoverRig.await(
            () -> "c0".equals(LocalCluster.leader(client)) && FailoverRig.serves(channel[0]),
            Duration.ofSeconds(120),
            "the first controller to lead and serve");
        controller[1] = startController(rig, replicas, work, "c1", leaseSettings, address[1]);

        long began = System.nanoTime();
        sim =
            new SimulatedAgents(
                    client,
                    LocalCluster.NAMESPACE,
                    work.resolve("agents"),
                    rig.agentTls,
                    List.of(address))
                .start(
                    "sim", agents, Map.of("cpus", 16.0, "mem", 65536.0, "disk", 100000.0), timeout);
        long admitted = System.nanoTime();
        SimulatedAgents all = sim;
        FailoverRig.await(
            () -> all.upWith(address[0]) == agents, timeout, "every agent registered");
        long registered = System.nanoTime();
        FailoverFramework scheduler = new FailoverFramework(tasks, perAgent, perTask);
        framework = rig.framework("failover-scale", List.of(address), scheduler);
        FailoverRig.await(
            () -> {
              if (scheduler.error != null) {
                throw new IllegalStateException(scheduler.error);
              }
              return scheduler.running() == tasks && all.runningTasks() == tasks;
            },
            timeout,
            tasks + " tasks running");
        long launched = System.nanoTime();
        System.out.printf(
            "setup agents_admitted_s=%.1f agents_registered_s=%.1f tasks_running_s=%.1f%n",
            (admitted - began) / 1e9, (registered - admitted) / 1e9, (launched - registered) / 1e9);
        System.out.flush();

        int leader = 0;
        for (int f = 1; f <= failovers; f++) {
          int next = 1 - leader;
          FailoverRig.await(
              () -> FailoverRig.standsBy(channel[next]),
              Duration.ofSeconds(120),
              "the standby to answer as one");
          Thread.sleep(5000); // acknowledgements settle; the standby's caches are warm
          System.out.println(
              failover(
                  f,
                  client,
                  controller[leader],
                  ids[next],
                  address[next],
                  channel[next],
                  sim,
                  framework,
                  scheduler));
          System.out.flush();
          if (f < failovers) {
            // A new standby where the old leader was, for the next failover.
            ids[leader] = "c" + (f + 1);
            controller[leader] =
                startController(rig, replicas, work, ids[leader], leaseSettings, address[leader]);
          }
          leader = next;
        }
      } finally {
        if (framework != null) {
          framework.close();
        }
        if (sim != null) {
          sim.close();
        }
        for (Process p : controller) {
          if (p != null) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
          }
        }
        for (FailoverRig.AdminChannel c : channel) {
          c.close();
        }
      }
    }
    return 0;
  }

  private Process startController(
      FailoverRig rig,
      LocalReplicas replicas,
      Path work,
      String identity,
      List<String> leaseSettings,
      String address)
      throws Exception {
    return Controllers.start(
        identity,
        replicas,
        rig.kubeconfig,
        LocalCluster.NAMESPACE,
        leaseSettings,
        Integer.parseInt(address.substring(address.lastIndexOf(':') + 1)),
        List.of(),
        work.resolve(identity + ".log"));
  }

  private String failover(
      int f,
      KubernetesClient client,
      Process leader,
      String next,
      String nextAddress,
      FailoverRig.AdminChannel nextChannel,
      SimulatedAgents sim,
      FrameworkClient framework,
      FailoverFramework scheduler)
      throws Exception {
    long killed = System.nanoTime();
    leader.destroyForcibly(); // kill -9
    AtomicBoolean over = new AtomicBoolean();
    AtomicLong leaseMs = new AtomicLong(-1);
    AtomicLong servingMs = new AtomicLong(-1);
    Thread leasePoll =
        poller(() -> next.equals(LocalCluster.leader(client)), killed, leaseMs, over, 10);
    Thread servingPoll =
        poller(() -> FailoverRig.passesStandby(nextChannel), killed, servingMs, over, 10);
    long frameworkMs = -1;
    long agentsHalfMs = -1;
    long agents90Ms = -1;
    long agentsMs = -1;
    long reconciledMs = -1;
    long lastReconcile = 0;
    int reconcileCalls = 0;
    int asked = 0;
    boolean truncated = false;
    long deadline = killed + timeout.toNanos();
    try {
      while (agentsMs < 0 || reconciledMs < 0 || leaseMs.get() < 0 || servingMs.get() < 0) {
        long now = System.nanoTime();
        if (now > deadline) {
          throw new IllegalStateException(
              String.format(
                  "failover %d not complete after %s: lease %d ms, serving %d ms, framework %d ms,"
                      + " %d of %d agents back, %d of %d tasks reconciled",
                  f,
                  timeout,
                  leaseMs.get(),
                  servingMs.get(),
                  frameworkMs,
                  sim.upWith(nextAddress),
                  sim.size(),
                  scheduler.reconciled(),
                  tasks));
        }
        int up = sim.upWith(nextAddress);
        if (agentsHalfMs < 0 && up * 2 >= sim.size()) {
          agentsHalfMs = millis(killed, now);
        }
        if (agents90Ms < 0 && up * 10 >= sim.size() * 9) {
          agents90Ms = millis(killed, now);
        }
        boolean allBack = up == sim.size();
        boolean justAllBack = false;
        if (agentsMs < 0 && allBack) {
          agentsMs = millis(killed, now);
          justAllBack = true;
        }
        if (frameworkMs < 0
            && nextAddress.equals(scheduler.master())
            && scheduler.subscribedAt() > killed) {
          frameworkMs = millis(killed, scheduler.subscribedAt());
          scheduler.countReconciliation();
        }
        if (frameworkMs >= 0 && reconciledMs < 0) {
          if (scheduler.reconciled() >= tasks) {
            reconciledMs = millis(killed, now);
          } else if (lastReconcile == 0
              || (scheduler.reconciled() + scheduler.otherAnswers() >= asked
                  && (justAllBack
                      || truncated
                      || now - lastReconcile > TimeUnit.SECONDS.toNanos(1)))
              || now - lastReconcile > TimeUnit.SECONDS.toNanos(10)) {
            // Asked again only once the last request is answered (or after 10 s), as a framework
            // should: thousands of answers per request must not outrun its event stream.
            // At most RECONCILE_BATCH tasks per request: the master queues at most 10,000 events
            // for a framework's stream and ends a subscription that falls that far behind.
            List<ReconcileRequest.Task> unanswered = scheduler.unreconciled();
            truncated = unanswered.size() > RECONCILE_BATCH;
            unanswered = unanswered.subList(0, Math.min(RECONCILE_BATCH, unanswered.size()));
            asked = scheduler.reconciled() + scheduler.otherAnswers() + unanswered.size();
            framework.reconcile(unanswered);
            lastReconcile = now;
            reconcileCalls++;
          }
        }
        Thread.sleep(5);
      }
    } finally {
      over.set(true);
      leasePoll.join(5000);
      servingPoll.join(5000);
    }
    return String.format(
        "failover=%d agents=%d tasks=%d lease=%s lease_ms=%d serving_ms=%d framework_ms=%d"
            + " agents_half_ms=%d agents_90_ms=%d agents_ms=%d reconciled_ms=%d reconcile_calls=%d"
            + " other_answers=%d other_states=%s",
        f,
        sim.size(),
        tasks,
        lease,
        leaseMs.get(),
        servingMs.get(),
        frameworkMs,
        agentsHalfMs,
        agents90Ms,
        agentsMs,
        reconciledMs,
        reconcileCalls,
        scheduler.otherAnswers(),
        scheduler.otherStates());
  }

  private static Thread poller(
      FailoverRig.Check check, long start, AtomicLong result, AtomicBoolean over, long everyMs) {
    Thread t =
        new Thread(
            () -> {
              while (!over.get()) {
                try {
                  if (check.ok()) {
                    result.set(millis(start, System.nanoTime()));
                    return;
                  }
                } catch (Exception e) {
                  // not yet (e.g. a slow answer): ask again
                }
                try {
                  Thread.sleep(everyMs);
                } catch (InterruptedException e) {
                  return;
                }
              }
            },
            "failover-poll");
    t.setDaemon(true);
    t.start();
    return t;
  }

  private static long millis(long from, long to) {
    return (to - from) / 1_000_000;
  }
}
