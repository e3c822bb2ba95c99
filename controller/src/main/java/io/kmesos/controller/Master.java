package io.kmesos.controller;

import com.google.protobuf.util.Timestamps;
import io.kmesos.api.KmesosVersion;
import io.kmesos.api.admin.ProcessMetrics;
import io.kmesos.api.cli.Failures;
import io.kmesos.api.log.v1.ReplicaStatus;
import io.kmesos.api.registry.v1.MasterInfo;
import io.kmesos.api.tls.MutualTls;
import io.kmesos.registry.Registrar;
import io.kmesos.registry.RegistryContents;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.client.Reader;
import io.kmesos.replica.state.State;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Mastership of one controller process. When its Lease is won it becomes the registry's only
 * writer: it starts a {@link Registrar} (which fences every earlier one on the log itself, so a
 * Lease is never trusted for safety) and only then lets reconcilers write. When the Lease is lost,
 * or a store fails because another master took over the log, it gives up for good: it calls the
 * fatal handler (the process exits and, in Kubernetes, comes back as a follower).
 */
public final class Master implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Master.class);

  private final Log logClient;
  private final MasterInfo info;
  private final Duration timeout;
  private final Consumer<String> fatal;
  private final State.Settings settings;
  private final CompletableFuture<Registrar> registrar = new CompletableFuture<>();
  private volatile boolean leading;
  private boolean campaigned;
  private volatile boolean stopping;
  private volatile boolean closed;
  static final Duration STANDBY_PING = Duration.ofSeconds(10);
  private final MeterRegistry metrics;

  /** A standby's view of the log: its last status round found a quorum of VOTING replicas. */
  private volatile boolean standbySeesQuorum;

  /**
   * When the background loop ({@link #warmUp}) last went round, for liveness; 0 before it started.
   */
  private volatile long loopRanAtNanos;

  private volatile Thread loop;

  /**
   * @param fatal called once mastership is lost for good, with why; it should end the process
   */
  public Master(
      List<String> peers,
      MutualTls tls,
      String identity,
      String address,
      Duration timeout,
      Consumer<String> fatal) {
    this(peers, tls, identity, address, timeout, State.Settings.DEFAULT, fatal);
  }

  /**
   * @param tls the controller's certificate, with which it reaches the replicas
   * @param settings when the registry's State snapshots (and so how much a new master reads back)
   * @param fatal called once mastership is lost for good, with why; it should end the process
   */
  public Master(
      List<String> peers,
      MutualTls tls,
      String identity,
      String address,
      Duration timeout,
      State.Settings settings,
      Consumer<String> fatal) {
    this(peers, tls, identity, address, timeout, settings, fatal, ProcessMetrics.none());
  }

  /**
   * @param tls the controller's certificate, with which it reaches the replicas
   * @param metrics where mastership, the log client and the registrar are measured (see
   *     docs/operations.md, "Metrics")
   */
  public Master(
      List<String> peers,
      MutualTls tls,
      String identity,
      String address,
      Duration timeout,
      State.Settings settings,
      Consumer<String> fatal,
      MeterRegistry metrics) {
    this.settings = settings;
    this.metrics = metrics;
    this.logClient = new Log(peers, Log.REQUEST_DEADLINE, tls, metrics);
    this.info =
        MasterInfo.newBuilder()
            .setId(identity + "-" + UUID.randomUUID().toString().substring(0, 8))
            .setHostname(identity)
            .setAddress(address)
            .setVersion(KmesosVersion.version())
            .build();
    this.timeout = timeout;
    this.fatal = fatal;
    Gauge.builder("kmesos.master.elected", this, m -> m.leading ? 1 : 0)
        .description(
            "1 while this controller holds the Lease and is the master (Mesos master/elected)")
        .strongReference(true)
        .register(metrics);
    Gauge.builder("kmesos.log.recovered", this, m -> m.logRecovered() ? 1 : 0)
        .description(
            "1 when the log serves this controller: as master, its registry is recovered; as standby, a "
                + "quorum of replicas answered VOTING (Mesos registrar/log/recovered)")
        .strongReference(true)
        .register(metrics);
  }

  public MasterInfo info() {
    return info;
  }

  /**
   * Gets a standby ready to take over fast: connects to the replicas and reads the registry once,
   * as a reader (never the writer), in the background. A controller that wins the Lease later then
   * finds its channels open and the log, protobuf and registry code loaded; without this its first
   * start as master spends about a second in cold code. While it stands by it then asks the
   * replicas for their status every {@link #STANDBY_PING}, so that the channels stay connected
   * (gRPC lets an unused channel go idle). Failures are only logged: the replicas may not be up
   * yet, and nothing depends on this. Each round also tells /metrics whether a quorum of replicas
   * is VOTING, and /healthz that this loop runs.
   */
  public void warmUp() {
    warmUp(contents -> {});
  }

  /**
   * As {@link #warmUp()}, and hands what the standby read to {@code whenRead} (on the warm-up's
   * thread), for the master's own warm-up ({@link MasterPort#warmUp}). Not called if the read
   * failed.
   */
  public void warmUp(Consumer<RegistryContents> whenRead) {
    loopRanAtNanos = System.nanoTime();
    Thread t =
        new Thread(
            () -> {
              try {
                standbySeesQuorum = votingQuorum(logClient.reader().status());
                State.Contents read = State.read(logClient, timeout);
                RegistryContents contents = RegistryContents.of(read.variables(), read.sequence());
                log.info(
                    "master {}: standing by, the registry read once (version {})",
                    info.getId(),
                    read.sequence());
                if (!leading && !closed) {
                  whenRead.accept(contents);
                }
              } catch (Exception e) {
                log.info(
                    "master {}: could not read the registry while standing by: {}",
                    info.getId(),
                    e.getMessage());
              }
              while (!leading && !closed) {
                loopRanAtNanos = System.nanoTime();
                try {
                  Thread.sleep(STANDBY_PING.toMillis());
                  if (!leading && !closed) {
                    standbySeesQuorum = votingQuorum(logClient.reader().status());
                  }
                } catch (InterruptedException e) {
                  return;
                } catch (RuntimeException e) {
                  log.debug(
                      "master {}: status while standing by: {}", info.getId(), e.getMessage());
                }
              }
            },
            "master-warm-up");
    t.setDaemon(true);
    loop = t;
    t.start();
  }

  private boolean votingQuorum(List<Reader.ReplicaState> states) {
    long voting =
        states.stream()
            .filter(s -> s.status() != null && s.status().getStatus() == ReplicaStatus.VOTING)
            .count();
    return voting >= logClient.replicas() / 2 + 1;
  }

  /**
   * Why this controller's own loop is not running as it should, or null if it is: a standby's loop
   * must go round every {@link #STANDBY_PING} (its status calls are bounded by their deadline); the
   * master's ends by design once it leads.
   */
  public String loopProblem() {
    Thread t = loop;
    if (t == null || leading || closed) {
      return null;
    }
    if (!t.isAlive()) {
      return "the standby's log loop (thread " + t.getName() + ") has died";
    }
    long quiet = System.nanoTime() - loopRanAtNanos;
    // The first round reads the whole registry (up to the timeout); later ones only ask for status.
    long limit =
        timeout.toNanos()
            + 3 * STANDBY_PING.toNanos()
            + logClient.replicas() * Log.REQUEST_DEADLINE.toNanos();
    return quiet > limit
        ? "the standby's log loop has not gone round for " + quiet / 1_000_000_000 + " s"
        : null;
  }

  /** Whether this is the master and has recovered the registry (its registrar works). */
  public boolean recovered() {
    if (!leading || !registrar.isDone() || registrar.isCompletedExceptionally()) {
      return false;
    }
    return registrar.join().failure() == null;
  }

  /** Whether the log serves this controller in its role (the gauge kmesos_log_recovered). */
  boolean logRecovered() {
    return leading ? recovered() : standbySeesQuorum;
  }

  /** The registrar's version once recovered, for probes' details; -1 before. */
  public long registryVersion() {
    return recovered() ? registrar.join().version() : -1;
  }

  /**
   * The Lease was won: become the registry's writer (in the background; reconcilers wait for it).
   */
  public void lead() {
    synchronized (this) {
      // Called twice when the Lease was taken the moment it was seen free (LeaseTaker) and then
      // the leader elector's poll found this controller holding it; and mastership is once per
      // process: after lose() it never comes back.
      if (campaigned || stopping || closed) {
        return;
      }
      campaigned = true;
      leading = true;
    }
    log.info("master {}: holds the Lease; becoming the log's writer", info.getId());
    Thread t =
        new Thread(
            () -> {
              try {
                MasterInfo elected =
                    info.toBuilder()
                        .setElectedAt(Timestamps.fromMillis(System.currentTimeMillis()))
                        .build();
                long started = System.nanoTime();
                // Campaign only once a quorum of replicas votes: an election asked of a log that
                // is still being initialized cannot succeed anyway, and a promise made by the
                // first replicas while a quorum already votes would send the last one through
                // recovery instead of the initialize (the log itself no longer takes a lone
                // promise for use: docs/replicated-log.md, "Initialization").
                // A standby whose last round saw a voting quorum skips this round of status calls
                // (a few hundred ms on a busy machine, in the handover's path): once a quorum
                // voted the log is initialized for good, and the election itself waits for
                // replicas that are down.
                long noteAt = 0;
                while (leading
                    && !standbySeesQuorum
                    && !votingQuorum(logClient.reader().status())) {
                  if (System.nanoTime() >= noteAt) {
                    log.info(
                        "master {}: waiting until a quorum of the log's replicas votes (is the log"
                            + " initialized?) before becoming its writer",
                        info.getId());
                    noteAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                  }
                  Thread.sleep(500);
                }
                if (!leading) {
                  return;
                }
                // The handover's phases (docs/operations.md, "Master handover"): the Lease taken,
                // then the quorum seen, then the election and the registry's replay.
                long quorumMillis = (System.nanoTime() - started) / 1_000_000;
                Registrar r = Registrar.start(logClient, elected, settings, metrics);
                synchronized (this) {
                  if (!leading) {
                    // Mastership ended while recovering (lose() already failed the future): this
                    // registrar
                    // must not linger as a writer nobody uses.
                    r.close();
                    return;
                  }
                  registrar.complete(r);
                }
                log.info(
                    "master {}: the registry is recovered (version {}, {} entries) in {} ms after"
                        + " the Lease was won ({} ms to see a voting quorum); reconciling",
                    info.getId(),
                    r.version(),
                    r.size(),
                    (System.nanoTime() - started) / 1_000_000,
                    quorumMillis);
                r.onFailure(e -> lose("the registry can no longer be written: " + e.getMessage()));
              } catch (Exception e) {
                Throwable why =
                    e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
                registrar.completeExceptionally(why);
                lose("could not become the registry's writer: " + why.getMessage());
              }
            },
            "master-elect");
    t.setDaemon(true);
    t.start();
  }

  /**
   * The process is being stopped on purpose (SIGTERM): mastership will end, and that is no failure.
   *
   * @return whether this process was the master
   */
  public boolean stop() {
    boolean was;
    synchronized (this) {
      stopping = true;
      was = leading;
    }
    // Nothing more is acknowledged by this master: new operations (reconcilers', the master
    // port's) are refused from now on, so that handing the Lease over needs no wait for them.
    registrar.thenAccept(r -> r.stopAccepting(STOPPING));
    return was;
  }

  static final String STOPPING = "this master is stopping (the Lease is handed over)";

  /**
   * After {@link #stop}: waits (at most {@code max}) until the registrar's store in flight, if any,
   * has ended, committed or failed. Not needed for safety (the next writer's election fences this
   * one's appends on the log, and commits what a quorum accepted); it spares the store a fencing
   * that would fail it, and the log an election racing it.
   *
   * @return whether it ended within {@code max} (true if there was none)
   */
  public boolean awaitStoreInFlight(Duration max) throws InterruptedException {
    if (!registrar.isDone() || registrar.isCompletedExceptionally()) {
      return true; // not recovered yet: its start (the master's record) is fenced if it races
    }
    try {
      registrar.join().stopAccepting(STOPPING).get(max.toMillis(), TimeUnit.MILLISECONDS);
      return true;
    } catch (TimeoutException e) {
      return false;
    } catch (ExecutionException e) {
      return true;
    }
  }

  /**
   * Mastership is over (Lease lost, or fenced on the log): never write again. Unless the process is
   * stopping, that is a failure the fatal handler hears of.
   */
  public void lose(String why) {
    synchronized (this) {
      if (!leading) {
        return;
      }
      leading = false;
      registrar.completeExceptionally(new IllegalStateException("no longer the master: " + why));
    }
    if (stopping) {
      log.info("master {}: stopping; gave up mastership ({})", info.getId(), why);
      return;
    }
    log.error("master {}: {}; giving up mastership", info.getId(), why);
    fatal.accept(why);
  }

  /**
   * Calls {@code action} (once, on the thread that recovered the registry) when this process has
   * become the master and recovered the registry; never if it does not. The master's gRPC port
   * serves from then on.
   */
  public void whenRecovered(Consumer<Registrar> action) {
    registrar.thenAccept(
        r -> {
          if (leading && r.failure() == null) {
            action.accept(r);
          }
        });
  }

  /** The registrar, once this process is the master and has recovered the registry. */
  public Registrar registrar() throws InterruptedException, TimeoutException, ExecutionException {
    if (!leading && !registrar.isDone()) {
      throw new IllegalStateException("not the master");
    }
    Registrar r;
    try {
      r = registrar.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      // Said in a resource's Synced condition: why the reconcile waits, not a bare
      // TimeoutException.
      throw new IllegalStateException(
          "the master has not recovered the registry within "
              + Failures.human(timeout)
              + ": it is still becoming the log's writer (is a quorum of the log's replicas up?)");
    }
    if (!leading || r.failure() != null) {
      throw new IllegalStateException("no longer the master");
    }
    return r;
  }

  /** Whether the process is being stopped on purpose ({@link #stop}). */
  public boolean stopping() {
    return stopping;
  }

  public boolean leading() {
    return leading;
  }

  @Override
  public void close() {
    closed = true;
    registrar.thenAccept(Registrar::close);
    logClient.close();
  }
}
