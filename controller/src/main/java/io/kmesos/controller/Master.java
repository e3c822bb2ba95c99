package io.kmesos.controller;

import com.google.protobuf.util.Timestamps;
import io.kmesos.api.KmesosVersion;
import io.kmesos.api.registry.v1.MasterInfo;
import io.kmesos.registry.Registrar;
import io.kmesos.registry.RegistryContents;
import io.kmesos.api.tls.MutualTls;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.state.State;
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
  private volatile boolean stopping;
  private volatile boolean closed;
  static final Duration STANDBY_PING = Duration.ofSeconds(10);

  /**
   * @param fatal called once mastership is lost for good, with why; it should end the process
   */
  public Master(List<String> peers, MutualTls tls, String identity, String address, Duration timeout,
      Consumer<String> fatal) {
    this(peers, tls, identity, address, timeout, State.Settings.DEFAULT, fatal);
  }

  /**
   * @param tls the controller's certificate, with which it reaches the replicas
   * @param settings when the registry's State snapshots (and so how much a new master reads back)
   * @param fatal called once mastership is lost for good, with why; it should end the process
   */
  public Master(List<String> peers, MutualTls tls, String identity, String address, Duration timeout,
      State.Settings settings, Consumer<String> fatal) {
    this.settings = settings;
    this.logClient = new Log(peers, tls);
    this.info = MasterInfo.newBuilder().setId(identity + "-" + UUID.randomUUID().toString().substring(0, 8))
        .setHostname(identity).setAddress(address).setVersion(KmesosVersion.version()).build();
    this.timeout = timeout;
    this.fatal = fatal;
  }

  public MasterInfo info() {
    return info;
  }

  /**
   * Gets a standby ready to take over fast: connects to the replicas and reads the registry once, as
   * a reader (never the writer), in the background. A controller that wins the Lease later then
   * finds its channels open and the log, protobuf and registry code loaded; without this its first
   * start as master spends about a second in cold code. While it stands by it then asks the replicas
   * for their status every {@link #STANDBY_PING}, so that the channels stay connected (gRPC lets an
   * unused channel go idle). Failures are only logged: the replicas may not be up yet, and nothing
   * depends on this.
   */
  public void warmUp() {
    Thread t = new Thread(() -> {
      try {
        logClient.reader().status();
        State.Contents read = State.read(logClient, timeout);
        RegistryContents.of(read.variables(), read.sequence());
        log.info("master {}: standing by, the registry read once (version {})", info.getId(), read.sequence());
      } catch (Exception e) {
        log.info("master {}: could not read the registry while standing by: {}", info.getId(), e.getMessage());
      }
      while (!leading && !closed) {
        try {
          Thread.sleep(STANDBY_PING.toMillis());
          if (!leading && !closed) {
            logClient.reader().status();
          }
        } catch (InterruptedException e) {
          return;
        } catch (RuntimeException e) {
          log.debug("master {}: status while standing by: {}", info.getId(), e.getMessage());
        }
      }
    }, "master-warm-up");
    t.setDaemon(true);
    t.start();
  }

  /** The Lease was won: become the registry's writer (in the background; reconcilers wait for it). */
  public void lead() {
    leading = true;
    Thread t = new Thread(() -> {
      try {
        MasterInfo elected = info.toBuilder().setElectedAt(Timestamps.fromMillis(System.currentTimeMillis())).build();
        long started = System.nanoTime();
        Registrar r = Registrar.start(logClient, elected, settings);
        synchronized (this) {
          if (!leading) {
            // Mastership ended while recovering (lose() already failed the future): this registrar
            // must not linger as a writer nobody uses.
            r.close();
            return;
          }
          registrar.complete(r);
        }
        log.info("master {}: the registry is recovered (version {}, {} entries) in {} ms; reconciling", info.getId(),
            r.version(), r.size(), (System.nanoTime() - started) / 1_000_000);
        r.onFailure(e -> lose("the registry can no longer be written: " + e.getMessage()));
      } catch (Exception e) {
        Throwable why = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
        registrar.completeExceptionally(why);
        lose("could not become the registry's writer: " + why.getMessage());
      }
    }, "master-elect");
    t.setDaemon(true);
    t.start();
  }

  /**
   * The process is being stopped on purpose (SIGTERM): mastership will end, and that is no failure.
   *
   * @return whether this process was the master
   */
  public boolean stop() {
    stopping = true;
    return leading;
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

  /** The registrar, once this process is the master and has recovered the registry. */
  public Registrar registrar() throws InterruptedException, TimeoutException, ExecutionException {
    if (!leading && !registrar.isDone()) {
      throw new IllegalStateException("not the master");
    }
    Registrar r = registrar.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    if (!leading || r.failure() != null) {
      throw new IllegalStateException("no longer the master");
    }
    return r;
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
