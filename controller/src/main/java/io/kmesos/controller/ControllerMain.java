package io.kmesos.controller;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.javaoperatorsdk.operator.LeaderElectionManager;
import io.javaoperatorsdk.operator.Operator;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfiguration;
import io.javaoperatorsdk.operator.monitoring.micrometer.MicrometerMetrics;
import io.kmesos.api.admin.AdminServer;
import io.kmesos.api.admin.ProcessMetrics;
import io.kmesos.api.cli.Durations;
import io.kmesos.api.cli.OneLineErrors;
import io.kmesos.api.cli.VersionProvider;
import io.kmesos.api.tls.MutualTls;
import io.kmesos.controller.master.KubernetesAuthenticator;
import io.kmesos.controller.reconcile.AgentReconciler;
import io.kmesos.controller.reconcile.MaintenanceScheduleReconciler;
import io.kmesos.controller.reconcile.QuotaReconciler;
import io.kmesos.controller.reconcile.RemovalRateLimit;
import io.kmesos.controller.reconcile.WeightReconciler;
import io.kmesos.master.auth.Authenticator;
import io.kmesos.master.server.MasterServerSettings;
import io.kmesos.replica.state.State;
import io.kmesos.replica.tool.PeersOption;
import io.micrometer.core.instrument.MeterRegistry;
import java.lang.reflect.Field;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code kmesos-controller}: the kmesos master. The controller that holds the Lease is the master
 * and the registry's only writer; the others stand by with warm caches (their informers run, their
 * reconcilers do not). Losing the Lease, or being fenced on the log by a newer master, ends the
 * process: in Kubernetes it restarts as a follower.
 */
@Command(
    name = "kmesos-controller",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description =
        "The kmesos master: elected through a Kubernetes Lease, it reconciles Agent, Quota, Weight and "
            + "MaintenanceSchedule resources into the registry on the replicated log, and serves the "
            + "Scheduler, AgentSession and Operator APIs on --master-port.")
public final class ControllerMain implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(ControllerMain.class);

  @Mixin PeersOption peers;

  @Option(
      names = "--kubeconfig",
      description = "Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster).")
  Path kubeconfig;

  @Option(
      names = "--lease-namespace",
      defaultValue = "${env:POD_NAMESPACE:-kmesos}",
      description = "Namespace of the Lease (default: $POD_NAMESPACE, else ${DEFAULT-VALUE}).")
  String leaseNamespace;

  @Option(
      names = "--lease-name",
      defaultValue = "kmesos-master",
      description = "The Lease (default: ${DEFAULT-VALUE}).")
  String leaseName;

  @Option(
      names = "--identity",
      defaultValue = "${env:POD_NAME}",
      description = "This controller's name in the Lease (default: $POD_NAME, else the hostname).")
  String identity;

  @Option(
      names = "--advertise-address",
      defaultValue = "",
      description =
          "Where frameworks and agents reach this master (host:port), recorded in the registry.")
  String advertiseAddress;

  @Option(
      names = "--lease-duration",
      defaultValue = "15s",
      converter = Durations.class,
      description = "How long a Lease holds without renewal (default: ${DEFAULT-VALUE}).")
  Duration leaseDuration;

  @Option(
      names = "--renew-deadline",
      defaultValue = "10s",
      converter = Durations.class,
      description =
          "How long the leader keeps trying to renew before it gives up (default: ${DEFAULT-VALUE}).")
  Duration renewDeadline;

  @Option(
      names = "--retry-period",
      defaultValue = "2s",
      converter = Durations.class,
      description = "How often candidates try to take the Lease (default: ${DEFAULT-VALUE}).")
  Duration retryPeriod;

  @Option(
      names = "--metrics-port",
      defaultValue = "8081",
      paramLabel = "PORT",
      description =
          "Port of the admin HTTP server: /metrics (Prometheus), /healthz and /readyz (Kubernetes probes); "
              + "0 for none (default: ${DEFAULT-VALUE}).")
  int metricsPort;

  @Option(
      names = "--snapshot-min-bytes",
      defaultValue = "4194304",
      description =
          "The registry snapshots once the changes since the last snapshot exceed both the registry's size "
              + "and this many bytes (default: ${DEFAULT-VALUE}).")
  long snapshotMinBytes;

  @Option(
      names = "--snapshot-max-changes",
      defaultValue = "100000",
      description =
          "... or once there are more than this many changes since the last snapshot (default: ${DEFAULT-VALUE}).")
  int snapshotMaxChanges;

  @Option(
      names = "--log-election-deadline",
      defaultValue = "60s",
      converter = Durations.class,
      description =
          "How long the new master keeps trying to become the log's writer (replicas that restart are "
              + "waited for) before it gives up and exits (default: ${DEFAULT-VALUE}).")
  Duration logElectionDeadline;

  @Option(
      names = "--registry-wait",
      defaultValue = "60s",
      converter = Durations.class,
      description =
          "How long a reconcile waits for this master to recover the registry before it fails, says "
              + "why in the resource's Synced condition, and is retried (default: ${DEFAULT-VALUE}).")
  Duration registryWait;

  @Option(
      names = "--agent-removal-rate-limit",
      description =
          "At most this many agent removals per period, e.g. 1/10m "
              + "(Mesos --agent_removal_rate_limit; default: no limit).")
  String removalRateLimit;

  @Option(
      names = "--master-port",
      defaultValue = "5050",
      paramLabel = "PORT",
      description =
          "Port of the master's gRPC API (Scheduler, AgentSession, Operator; TLS); 0 picks a free one. "
              + "A standby answers there too, naming the leader (default: ${DEFAULT-VALUE}).")
  int masterPort;

  @Option(
      names = "--allocation-interval",
      defaultValue = "1s",
      converter = Durations.class,
      description =
          "How often the master allocates (makes offers) and checks its timeouts; it also does soon after "
              + "resources are freed or added (Mesos --allocation_interval; default: ${DEFAULT-VALUE}).")
  Duration allocationInterval;

  @Option(
      names = "--offer-timeout",
      converter = Durations.class,
      description =
          "An offer not accepted or declined within this is rescinded (Mesos --offer_timeout; "
              + "default: never).")
  Duration offerTimeout;

  @Option(
      names = "--heartbeat-interval",
      defaultValue = "15s",
      converter = Durations.class,
      description =
          "A framework's subscription that carried no event for this long gets a heartbeat "
              + "(default: ${DEFAULT-VALUE}).")
  Duration heartbeatInterval;

  @Option(
      names = "--agent-ping-interval",
      defaultValue = "15s",
      converter = Durations.class,
      description = "How often the master pings each agent (default: ${DEFAULT-VALUE}).")
  Duration agentPingInterval;

  @Option(
      names = "--agent-ping-timeout",
      defaultValue = "15s",
      converter = Durations.class,
      description =
          "How long each ping waits for the agent's pong; not shorter than the ping interval "
              + "(Mesos --agent_ping_timeout; default: ${DEFAULT-VALUE}).")
  Duration agentPingTimeout;

  @Option(
      names = "--max-agent-ping-timeouts",
      defaultValue = "5",
      description =
          "After this many ping timeouts in a row (timeout × this without a word from the agent, "
              + "connected or not) the agent is marked unreachable in the registry, through the "
              + "agent removal rate limit: its tasks become TASK_UNREACHABLE, TASK_LOST for frameworks "
              + "that are not PARTITION_AWARE (Mesos --max_agent_ping_timeouts; default: "
              + "${DEFAULT-VALUE}).")
  int maxAgentPingTimeouts;

  @Option(
      names = "--agent-reregister-timeout",
      defaultValue = "10m",
      converter = Durations.class,
      description =
          "After a failover, an agent the registry admits that has not re-registered with the new "
              + "master within this is marked unreachable (Mesos --agent_reregister_timeout; default: "
              + "${DEFAULT-VALUE}).")
  Duration agentReregisterTimeout;

  @Option(
      names = "--agent-recovery-factor",
      defaultValue = "0.8",
      description =
          "After a failover, the master makes no offers until this fraction (0..1) of the agents the "
              + "registry admits re-registered, or --allocation-hold-off passed, so that it cannot "
              + "offer resources that tasks it does not know yet use (Mesos's allocator: 0.8; default: "
              + "${DEFAULT-VALUE}).")
  double agentRecoveryFactor;

  @Option(
      names = "--allocation-hold-off",
      defaultValue = "10m",
      converter = Durations.class,
      description =
          "After a failover, the longest the master holds offers back waiting for "
              + "--agent-recovery-factor of the agents; 0s: no wait (default: ${DEFAULT-VALUE}).")
  Duration allocationHoldOff;

  public static void main(String[] args) {
    System.exit(OneLineErrors.commandLine(new ControllerMain()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    if (identity == null || identity.isBlank()) {
      identity = InetAddress.getLocalHost().getHostName();
    }
    RemovalRateLimit removals =
        removalRateLimit == null
            ? RemovalRateLimit.unlimited()
            : RemovalRateLimit.parse(removalRateLimit);
    KubernetesClient client =
        kubeconfig != null
            ? new KubernetesClientBuilder()
                .withConfig(Config.fromKubeconfig(Files.readString(kubeconfig)))
                .build()
            : new KubernetesClientBuilder().build();
    if (snapshotMinBytes < 1 || snapshotMaxChanges < 1) {
      throw new CommandLine.ParameterException(
          new CommandLine(this),
          "--snapshot-min-bytes and --snapshot-max-changes must be positive");
    }
    if (registryWait.isNegative() || registryWait.isZero()) {
      throw new CommandLine.ParameterException(
          new CommandLine(this), "--registry-wait must be positive, not " + registryWait);
    }
    if (metricsPort < 0 || metricsPort > 65535) {
      throw new CommandLine.ParameterException(
          new CommandLine(this),
          "--metrics-port must be a port number (0 for none), not " + metricsPort);
    }
    MasterServerSettings masterSettings;
    try {
      masterSettings =
          MasterServerSettings.defaults()
              .withListen("0.0.0.0", masterPort)
              .withAllocationInterval(allocationInterval)
              .withOfferTimeout(offerTimeout)
              .withHeartbeatInterval(heartbeatInterval)
              .withAgentPing(agentPingInterval, agentPingTimeout, maxAgentPingTimeouts)
              .withFailover(agentReregisterTimeout, agentRecoveryFactor, allocationHoldOff);
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(new CommandLine(this), e.getMessage());
    }
    State.Settings settings =
        new State.Settings(
                snapshotMinBytes,
                snapshotMaxChanges,
                State.Settings.DEFAULT.snapshotChunkBytes(),
                State.Settings.DEFAULT.recoveryTimeout())
            .withElectionDeadline(logElectionDeadline);
    // Without a port nothing is kept (kmesos-local's controllers): no Prometheus code to load.
    var prometheus = metricsPort == 0 ? null : ProcessMetrics.prometheus();
    MeterRegistry metrics = prometheus == null ? ProcessMetrics.none() : prometheus;
    MutualTls tls = peers.tls.load();
    // The master's port is up from the start: as a standby it tells clients where the leader is.
    MasterPort masterPort =
        new MasterPort(
            client,
            leaseNamespace,
            leaseName,
            masterSettings,
            tls,
            authenticator(client),
            removals,
            metrics);
    String address =
        advertiseAddress.isBlank()
            ? InetAddress.getLocalHost().getHostAddress() + ":" + masterPort.port()
            : advertiseAddress;
    Master master =
        new Master(
            peers.list(),
            tls,
            identity,
            address,
            registryWait,
            settings,
            ControllerMain::exit,
            metrics);
    master.whenRecovered(
        r -> {
          try {
            masterPort.lead(r, master.info().getId(), address, identity, master::lose);
          } catch (RuntimeException e) {
            // A master that cannot serve its port is no master: let a standby take over.
            master.lose("could not serve the master's port: " + e);
          }
        });
    LeaderCallbacks callbacks =
        new LeaderCallbacks(
            master::lead,
            () -> master.lose("lost the Lease " + leaseNamespace + "/" + leaseName),
            leader ->
                log.info(
                    "controller {}: {}",
                    identity,
                    leader == null || leader.isEmpty()
                        ? "no master at the moment"
                        : "the master is now " + leader));
    // Reconcile counts and durations per controller (kind), not per resource: one series per CR
    // would
    // grow with the cluster.
    Operator operator =
        new Operator(
            o ->
                o.withKubernetesClient(client)
                    .withCloseClientOnStop(false)
                    .withMetrics(MicrometerMetrics.withoutPerResourceMetrics(metrics))
                    .withLeaderElectionConfiguration(
                        new LeaderElectionConfiguration(
                            leaseName,
                            leaseNamespace,
                            leaseDuration,
                            renewDeadline,
                            retryPeriod,
                            identity,
                            callbacks,
                            false)));
    operator.register(new AgentReconciler(master, removals));
    operator.register(new QuotaReconciler(master));
    operator.register(new WeightReconciler(master));
    operator.register(new MaintenanceScheduleReconciler(master));
    // Served before the operator starts: /readyz says "starting" meanwhile, and /metrics answers.
    ControllerProbes probes = new ControllerProbes(operator, master);
    AdminServer admin =
        prometheus == null
            ? null
            : AdminServer.start(
                metricsPort,
                AdminServer.routes(prometheus)
                    .probe(AdminServer.HEALTHZ, probes::liveness)
                    .probe(AdminServer.READYZ, probes::readiness));
    master.warmUp(masterPort::warmUp);
    operator.start();
    probes.operatorStarted();
    // A Lease released by a stopping master (or expired) is taken as soon as the watch sees it,
    // not at the elector's next poll (up to 2.2 retry periods later); see LeaseTaker.
    LeaseTaker taker =
        new LeaseTaker(
                client,
                leaseNamespace,
                leaseName,
                identity,
                leaseDuration,
                () -> !master.leading() && !master.stopping(),
                master::lead,
                metrics)
            .start();
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  log.info(
                      "controller {}: stopping ({})",
                      identity,
                      failing ? "after the failure above" : "signal");
                  long signalled = System.nanoTime();
                  // The Lease is handed over first, and everything else closes after it: a standby
                  // that takes it at once campaigns while this process still shuts down.
                  //
                  // Why that is safe (nothing acknowledged is lost, no two masters write): the
                  // Lease is never what fences a writer, the log is. The standby's election runs a
                  // Paxos promise round over a quorum with a higher ballot and then commits and
                  // reads everything a quorum accepted, so every store of this registrar that was
                  // acknowledged (its future completes only once a quorum accepted the entry) is in
                  // the registry the new master recovers; and once a quorum promised the higher
                  // ballot, any later append of this registrar is refused by it, so this one can no
                  // longer commit anything (it fails, unacknowledged). What this order must still
                  // ensure is that this process acknowledges nothing more and does not take the
                  // Lease back:
                  // 1. master.stop(): the registrar refuses every new operation (reconcilers and
                  //    the master port get "this master is stopping", not an acknowledgement);
                  // 2. the leader elector stops renewing (it would take a released Lease back);
                  // 3. the master port closes: the loop stops answering, streams end, agents and
                  //    frameworks look for the next master;
                  // 4. the store in flight, if any, ends (bounded; only spares it a fencing);
                  // 5. the Lease is released; then the reconcilers stop and the log client closes.
                  // A reconcile that runs meanwhile fails (its status is left alone: see
                  // RegistryReconciler#updateErrorStatus); the next master reconciles every
                  // resource when it starts. Its status writes carry the resourceVersion they were
                  // computed from, so they cannot overwrite the next master's.
                  boolean wasMaster = master.stop();
                  taker.close();
                  if (wasMaster) {
                    stopLeaderElection(operator);
                  }
                  masterPort.close();
                  long portClosed = System.nanoTime();
                  boolean storeEnded = true;
                  if (wasMaster) {
                    try {
                      storeEnded = master.awaitStoreInFlight(STORE_IN_FLIGHT_WAIT);
                    } catch (InterruptedException e) {
                      Thread.currentThread().interrupt();
                    }
                    releaseLease(client);
                  }
                  long released = System.nanoTime();
                  operator.stop();
                  long operatorStopped = System.nanoTime();
                  master.close();
                  if (admin != null) {
                    admin.close();
                  }
                  log.info(
                      "controller {}: stopped (ms after the signal: port closed {}, Lease released {}"
                          + "{}, reconcilers stopped {}, all {})",
                      identity,
                      (portClosed - signalled) / 1_000_000,
                      wasMaster ? (released - signalled) / 1_000_000 : "-",
                      storeEnded ? "" : " (a store was still in flight: it will be fenced)",
                      (operatorStopped - signalled) / 1_000_000,
                      (System.nanoTime() - signalled) / 1_000_000);
                  stopped.countDown();
                },
                "controller-stop"));
    // Logged once the hook is in place: a SIGTERM after this line is always a clean stop (tests
    // and operators wait for it before stopping the controller).
    log.info(
        "controller {} ({}): standing for the Lease {}/{} (duration {}, renew deadline {}, retry {}); log {}",
        identity,
        master.info().getId(),
        leaseNamespace,
        leaseName,
        leaseDuration,
        renewDeadline,
        retryPeriod,
        peers.list());
    stopped.await();
    return 0;
  }

  /** How long a stopping master waits for its store in flight before it releases the Lease. */
  static final Duration STORE_IN_FLIGHT_WAIT = Duration.ofSeconds(1);

  /**
   * Stops the operator's leader elector (its renewals) ahead of the rest of the operator: after the
   * release the elector would otherwise take the free Lease back at its next renewal, before the
   * standby's take. JOSDK keeps its LeaderElectionManager private and stops it last in {@code
   * Operator.stop()} (after waiting for the reconcilers); reached by reflection here, and if that
   * fails the whole operator is stopped first (slower, as safe).
   */
  static void stopLeaderElection(Operator operator) {
    try {
      Field f = Operator.class.getDeclaredField("leaderElectionManager");
      f.setAccessible(true);
      ((LeaderElectionManager) f.get(operator)).stop();
    } catch (ReflectiveOperationException | RuntimeException e) {
      log.info(
          "controller: could not stop the leader elector alone ({}); stopping the operator first",
          e.toString());
      operator.stop();
    }
  }

  /**
   * Hands the Lease over at once on a clean stop, as client-go's ReleaseOnCancel does: the master
   * acknowledges nothing more (and the log fences whatever it still has in flight), so a standby
   * need not wait out the Lease's duration. It writes what client-go and fabric8 write on release:
   * no holder, a lease duration of 1 s, the acquire and renew times now. One JSON patch whose
   * {@code test} makes it conditional on this controller still being the holder (a Lease someone
   * else took is left alone): one request, not a read and a conditional update, which on a busy API
   * server was the release's slowest part. If it fails, the Lease simply expires.
   */
  private void releaseLease(KubernetesClient client) {
    releaseLease(client, leaseNamespace, leaseName, identity);
  }

  /** As {@link #releaseLease(KubernetesClient)}, for {@code identity}. */
  static void releaseLease(
      KubernetesClient client, String leaseNamespace, String leaseName, String identity) {
    String now =
        DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX")
            .format(ZonedDateTime.now(ZoneOffset.UTC));
    String patch =
        "[{\"op\":\"test\",\"path\":\"/spec/holderIdentity\",\"value\":"
            + json(identity)
            + "},{\"op\":\"remove\",\"path\":\"/spec/holderIdentity\"}"
            + ",{\"op\":\"add\",\"path\":\"/spec/leaseDurationSeconds\",\"value\":1}"
            + ",{\"op\":\"add\",\"path\":\"/spec/acquireTime\",\"value\":\""
            + now
            + "\"},{\"op\":\"add\",\"path\":\"/spec/renewTime\",\"value\":\""
            + now
            + "\"}]";
    try {
      client
          .leases()
          .inNamespace(leaseNamespace)
          .withName(leaseName)
          .patch(PatchContext.of(PatchType.JSON), patch);
      log.info("controller {}: released the Lease {}/{}", identity, leaseNamespace, leaseName);
    } catch (RuntimeException e) {
      log.info(
          "controller {}: did not release the Lease {}/{} ({}); it expires on its own",
          identity,
          leaseNamespace,
          leaseName,
          e instanceof KubernetesClientException k && k.getCode() == 422
              ? "this controller no longer holds it"
              : e.getMessage());
    }
  }

  private static String json(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  /**
   * Who calls the master's port: the cluster says, through TokenReview and SubjectAccessReview
   * (docs/security.md).
   */
  static Authenticator authenticator(KubernetesClient client) {
    return new KubernetesAuthenticator(client);
  }

  /** Set when the process ends because mastership was lost, not because it was asked to stop. */
  private static volatile boolean failing;

  /** Mastership is lost for good: end the process now (a hung shutdown must not keep it alive). */
  private static void exit(String why) {
    failing = true;
    Thread halt =
        new Thread(
            () -> {
              try {
                Thread.sleep(5000);
              } catch (InterruptedException ignored) {
                // exiting anyway
              }
              Runtime.getRuntime().halt(1);
            },
            "controller-halt");
    halt.setDaemon(true);
    halt.start();
    new Thread(() -> System.exit(1), "controller-exit").start();
  }
}
