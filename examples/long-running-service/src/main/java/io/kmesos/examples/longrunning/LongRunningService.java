package io.kmesos.examples.longrunning;

import io.kmesos.api.cli.Durations;
import io.kmesos.api.cli.Failures;
import io.kmesos.api.cli.OneLineErrors;
import io.kmesos.api.cli.VersionProvider;
import io.kmesos.api.scheduler.v1.ReconcileRequest;
import io.kmesos.api.tls.ServerTrust;
import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.Filters;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.MasterInfo;
import io.kmesos.api.v1.Offer;
import io.kmesos.api.v1.Resource;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.framework.FrameworkClient;
import io.kmesos.framework.FrameworkSettings;
import io.kmesos.framework.MasterConnection;
import io.kmesos.framework.Protos;
import io.kmesos.framework.ResourceText;
import io.kmesos.framework.Scheduler;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * An example framework: keeps {@code --instances} copies of a command running. It launches them on
 * offers, replaces one that ends (failed, killed, lost, gone) or whose agent is out of reach,
 * declines offers it does not need with a refuse filter, suppresses offers while all instances run
 * and revives them when one is missing. It is a good citizen of recovery: its tasks are
 * checkpointed (they outlive their agent's restarts), it is PARTITION_AWARE, it reconciles what it
 * is unsure of every {@code --reconcile-every}, and it kills the newest instances when an
 * unreachable one comes back and more than {@code --instances} run ({@link Instances}).
 */
@Command(
    name = "long-running-service",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    sortOptions = false,
    description =
        "Keeps N instances of a command running on a kmesos cluster (an example framework).")
public final class LongRunningService implements Callable<Integer>, Scheduler {
  static final DateTimeFormatter TIME =
      DateTimeFormatter.ofPattern("HH:mm:ss.SSS").withZone(ZoneOffset.UTC);

  @Spec CommandSpec spec;

  @Mixin MasterConnection connection;

  @Option(
      names = "--name",
      defaultValue = "long-running-service",
      description = "The framework's name, and its tasks' (default: ${DEFAULT-VALUE}).")
  String name;

  @Option(
      names = "--instances",
      required = true,
      description = "How many instances to keep running.")
  int instances;

  @Option(names = "--command", required = true, description = "The command (run with /bin/sh -c).")
  String command;

  @Option(
      names = "--resources",
      defaultValue = "cpus:0.1;mem:32",
      description = "What each instance needs (default: ${DEFAULT-VALUE}).")
  String resources;

  @Option(
      names = "--role",
      defaultValue = "*",
      description = "The role to be offered resources for (default: ${DEFAULT-VALUE}).")
  String role;

  @Option(
      names = "--refuse",
      defaultValue = "30s",
      converter = Durations.class,
      description =
          "How long the master should not offer an agent's declined resources again (default:"
              + " ${DEFAULT-VALUE}).")
  Duration refuse;

  @Option(
      names = "--failover-timeout",
      defaultValue = "5m",
      converter = Durations.class,
      description =
          "How long the master keeps the framework and its tasks while it is disconnected (default:"
              + " ${DEFAULT-VALUE}).")
  Duration failoverTimeout;

  @Option(
      names = "--checkpoint",
      negatable = true,
      defaultValue = "true",
      fallbackValue = "true",
      description =
          "Checkpointed tasks (checkpoint: true): they keep running while their agent restarts"
              + " (default: ${DEFAULT-VALUE}; --no-checkpoint: an agent that stops kills them).")
  boolean checkpoint;

  @Option(
      names = "--reconcile-every",
      defaultValue = "30s",
      converter = Durations.class,
      description =
          "How often to ask the master about the instances it is unsure of: out of reach, being"
              + " killed, launched before a reconnection (default: ${DEFAULT-VALUE}).")
  Duration reconcileEvery;

  private Instances state;
  private PrintWriter out;
  private boolean suppressed;
  private String lastSummary = "";

  public static void main(String[] args) {
    System.exit(OneLineErrors.commandLine(new LongRunningService()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    if (instances < 1) {
      throw new ParameterException(spec.commandLine(), "--instances must be at least 1");
    }
    if (reconcileEvery.isZero() || reconcileEvery.isNegative()) {
      throw new ParameterException(spec.commandLine(), "--reconcile-every must be positive");
    }
    List<Resource> perInstance;
    try {
      perInstance = ResourceText.parse(resources);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), "--resources: " + e.getMessage());
    }
    List<String> masters = connection.masters();
    out = spec.commandLine().getOut();
    state =
        new Instances(
            name,
            instances,
            role,
            perInstance,
            CommandInfo.newBuilder().setShell(true).setValue(command).build());
    FrameworkInfo info =
        FrameworkInfo.newBuilder()
            .setName(name)
            .addRoles(role)
            .setFailoverTimeout(Protos.duration(failoverTimeout))
            .setCheckpoint(checkpoint)
            .addCapabilities(FrameworkInfo.Capability.PARTITION_AWARE)
            .build();
    try (ServerTrust trust = connection.serverTrust()) {
      FrameworkClient client;
      try {
        client =
            FrameworkClient.start(
                FrameworkSettings.of(
                    masters, info, trust.channelCredentials(), connection.tokenFile()),
                this);
      } catch (IllegalArgumentException e) {
        throw new ParameterException(spec.commandLine(), e.getMessage());
      }
      Runtime.getRuntime().addShutdownHook(new Thread(client::close, "shutdown"));
      ScheduledExecutorService timer =
          Executors.newSingleThreadScheduledExecutor(
              r -> {
                Thread t = new Thread(r, "reconcile");
                t.setDaemon(true);
                return t;
              });
      long every = reconcileEvery.toMillis();
      timer.scheduleWithFixedDelay(() -> reconcile(client), every, every, TimeUnit.MILLISECONDS);
      try {
        client.stopped().join(); // until the master ends the framework, or Ctrl-C
      } finally {
        timer.shutdownNow();
      }
      return 1;
    }
  }

  /** Asks the master about the instances the service is unsure of (see Instances.toReconcile). */
  private synchronized void reconcile(FrameworkClient client) {
    if (!client.subscribed()) {
      return; // the client reconciles by itself once subscribed again
    }
    List<ReconcileRequest.Task> tasks =
        state.toReconcile().stream()
            .map(
                k ->
                    ReconcileRequest.Task.newBuilder()
                        .setTaskId(k.taskId())
                        .setAgentId(k.agentId())
                        .build())
            .toList();
    if (!tasks.isEmpty()) {
      client
          .reconcile(tasks)
          .exceptionally(
              e -> {
                say("reconciliation failed: " + Failures.oneLine(e));
                return null;
              });
    }
  }

  /** Prints the service's view when it changed. */
  private void summary() {
    String now = state.summary();
    if (!now.equals(lastSummary)) {
      lastSummary = now;
      say(now);
    }
  }

  private void say(String message) {
    out.println(TIME.format(Instant.now()) + "  " + message);
    out.flush();
  }

  @Override
  public synchronized void subscribed(
      FrameworkClient client, String frameworkId, MasterInfo master, boolean resubscribed) {
    state.onSubscribed();
    say(
        (resubscribed ? "subscribed again" : "subscribed")
            + " as framework "
            + frameworkId
            + " at "
            + client.masterAddress()
            + "; "
            + state.live()
            + " of "
            + instances
            + " instances known");
    // A subscription starts unsuppressed.
    if (state.missing() > 0) {
      suppressed = false;
      client.revive(List.of()); // clears old filters too
    } else {
      suppressed = true;
      client.suppress(List.of());
    }
  }

  @Override
  public synchronized void offers(FrameworkClient client, List<Offer> offers) {
    Instances.OfferPlan plan = state.onOffers(offers);
    plan.launches()
        .forEach(
            (offerId, tasks) -> {
              say(
                  "launching "
                      + String.join(", ", tasks.stream().map(TaskInfo::getTaskId).toList())
                      + " on agent "
                      + tasks.get(0).getAgentId());
              client
                  .launch(List.of(offerId), tasks, filters())
                  .exceptionally(
                      e -> {
                        say("launch refused: " + Failures.oneLine(e));
                        return null;
                      });
            });
    if (!plan.declines().isEmpty()) {
      client.decline(plan.declines(), filters());
    }
    if (plan.suppress() && !suppressed) {
      suppressed = true;
      say("all " + instances + " instances launched; suppressing offers");
      client.suppress(List.of());
    }
    summary();
  }

  private Filters filters() {
    return Filters.newBuilder().setRefuse(Protos.duration(refuse)).build();
  }

  @Override
  public synchronized void update(FrameworkClient client, TaskStatus status) {
    Instances.UpdatePlan plan = state.onUpdate(status);
    if (plan.message() != null) {
      say(plan.message());
    }
    for (Instances.Kill kill : plan.kill()) {
      client
          .kill(kill.taskId(), kill.agentId(), null)
          .exceptionally(
              e -> {
                say("killing " + kill.taskId() + " failed: " + Failures.oneLine(e));
                return null;
              });
    }
    if (plan.revive() && suppressed) {
      suppressed = false;
      say("reviving offers");
      client.revive(List.of());
    }
    summary();
  }

  @Override
  public synchronized void disconnected(FrameworkClient client, String reason) {
    say("disconnected (" + reason + "); reconnecting");
  }

  @Override
  public synchronized void error(FrameworkClient client, String message) {
    say("stopped by the master: " + message);
  }
}
