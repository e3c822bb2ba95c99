package io.kmesos.replica.server;

import io.grpc.BindableService;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.kmesos.api.admin.ProcessMetrics;
import io.kmesos.api.grpc.DisabledEndpoints;
import io.kmesos.api.grpc.StandardServices;
import io.kmesos.api.log.v1.Envelope;
import io.kmesos.api.log.v1.ReplicaGrpc;
import io.kmesos.api.log.v1.ReplicaStatus;
import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.MutualTls;
import io.kmesos.replica.core.Effects;
import io.kmesos.replica.core.Event;
import io.kmesos.replica.core.ReplicaCore;
import io.kmesos.replica.storage.CorruptRecordException;
import io.kmesos.replica.storage.RocksStorage;
import io.kmesos.replica.storage.StorageException;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The shell around a {@link ReplicaCore}: RocksDB, gRPC and a timer.
 *
 * <p>One thread owns the core. It takes every queued input (requests, peers' answers, ticks), steps
 * the core through all of them, writes all their storage updates as one RocksDB batch (synced once,
 * if any needs it: group commit), and only then answers. A request that waited past its deadline,
 * or longer than its age limit whatever its deadline ({@link Config#maxRequestAge()}, more for a
 * large request: {@link Transport#budget}), is refused, never applied: this bound is what the
 * recovery grace period relies on. The queue is bounded in count and bytes; when it is full,
 * callers get RESOURCE_EXHAUSTED.
 *
 * <p>Besides the replica protocol it serves the standard gRPC health service: SERVING while the
 * loop runs; NOT_SERVING once it stopped, for a close or because the storage or the core failed.
 * Such a failure also completes {@link #failure()}: the replica command then exits non-zero, so
 * that Kubernetes restarts the pod. Every status transition and every truncation is logged.
 */
public final class ReplicaServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ReplicaServer.class);

  /**
   * Who may call a replica (with a certificate of the cluster's CA): the other replicas, the
   * controllers (the master writes, standbys read), and operators' tools. Agents and frameworks
   * never talk to the log.
   */
  public static final Set<Identity> CLIENTS =
      EnumSet.of(Identity.REPLICA, Identity.CONTROLLER, Identity.ADMIN);

  /**
   * Settings of one replica process, validated when made. Times are {@code Duration}s; {@link
   * #core()} turns them into the core's ticks, once.
   */
  public record Config(
      int id,
      List<String> peers,
      Path dataDir,
      String expectedClusterId,
      Duration tick,
      Duration maxRequestAge,
      int queueLimit,
      String listen,
      DisabledEndpoints disabledEndpoints) {
    /** How often a voting replica asks its peers whether it missed anything. */
    static final Duration CATCH_UP_INTERVAL = Duration.ofMillis(100);

    /** How long the core waits for an answer before it asks again. */
    static final Duration RETRY_INTERVAL = Duration.ofMillis(500);

    /** The most actions, and payload bytes beyond the first action, one fetch answer carries. */
    static final int FETCH_BATCH = 1000;

    static final long FETCH_BYTES = 16L << 20;

    public Config {
      if (peers.isEmpty()) {
        throw new IllegalArgumentException("a log needs at least one replica address (peers)");
      }
      if (id < 0 || id >= peers.size()) {
        throw new IllegalArgumentException(
            "replica id " + id + " is not an index into the " + peers.size() + " peers");
      }
      if (tick.isNegative() || tick.toMillis() < 1) {
        throw new IllegalArgumentException("tick must be at least 1ms, got " + tick);
      }
      if (maxRequestAge.isNegative() || maxRequestAge.isZero()) {
        throw new IllegalArgumentException("maxRequestAge must be positive, got " + maxRequestAge);
      }
      if (queueLimit < 1) {
        throw new IllegalArgumentException("queueLimit must be positive, got " + queueLimit);
      }
      if (disabledEndpoints == null) {
        throw new IllegalArgumentException(
            "disabledEndpoints must be given (DisabledEndpoints.NONE for none)");
      }
    }

    public static Config of(int id, List<String> peers, Path dataDir) {
      return new Config(
          id,
          peers,
          dataDir,
          "",
          Duration.ofMillis(10),
          Duration.ofSeconds(2),
          10_000,
          "",
          DisabledEndpoints.NONE);
    }

    /**
     * Where to listen: {@code listen} if set (e.g. 0.0.0.0:7001 in a pod), else this replica's peer
     * address.
     */
    InetSocketAddress listenAddress() {
      return Addresses.parse(listen.isEmpty() ? peers.get(id) : listen);
    }

    /**
     * The longest any request may live here: the age limit of the largest (see {@link
     * Transport#budget}).
     */
    Duration longestRequestAge() {
      return Transport.budget(maxRequestAge, Long.MAX_VALUE);
    }

    /** The core's tunables in ticks: the recovery grace outlasts any request by a second. */
    ReplicaCore.Config core() {
      return new ReplicaCore.Config(
          ticks(CATCH_UP_INTERVAL),
          ticks(longestRequestAge().plusSeconds(1)),
          ticks(RETRY_INTERVAL),
          FETCH_BATCH,
          FETCH_BYTES);
    }

    private int ticks(Duration d) {
      return (int) Math.max(1, d.toMillis() / tick.toMillis());
    }
  }

  private sealed interface Input permits Request, PeerAnswer, Tick {}

  private record Request(
      Envelope envelope,
      StreamObserver<Envelope> answer,
      long expiresAtNanos,
      int bytes,
      long arrivedNanos)
      implements Input {}

  private record PeerAnswer(Envelope envelope, int bytes) implements Input {}

  /**
   * The most message bytes waiting in the queue: its count bound alone would let 10,000 large
   * writes or fetch answers pile up. Past it, requests get RESOURCE_EXHAUSTED and peers' answers
   * are dropped (the protocol retries, as for a lost message).
   */
  static final long MAX_QUEUED_BYTES = 256L << 20;

  private record Tick() implements Input {}

  /**
   * How often the write-ahead log files whose writes RocksDB has flushed into table files are
   * deleted (see {@code WalChain}): what they take on disk is about this long's worth of writes.
   */
  static final Duration WAL_PRUNE_INTERVAL = Duration.ofSeconds(30);

  private final Config config;
  private final RocksStorage storage;
  private final ReplicaCore core;
  private final BlockingQueue<Input> queue;
  private final AtomicLong queuedBytes = new AtomicLong();
  private final List<ManagedChannel> channels = new ArrayList<>();
  private final List<ReplicaGrpc.ReplicaStub> peers = new ArrayList<>();
  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "replica-timer"));
  private final Thread loop;
  private final Server server;
  private final StandardServices standard;
  private volatile boolean running = true;

  /**
   * Completed with the cause when the replica stopped serving on its own (not by {@link #close}).
   */
  private final CompletableFuture<String> failure = new CompletableFuture<>();

  /** The core's status after the last step, for /metrics (the core itself is the loop's alone). */
  private volatile ReplicaStatus status;

  /** From a write request's arrival to its answer: queueing, the step, and the synced write. */
  private final Timer writeLatency;

  private final MeterRegistry metrics;
  private final List<Meter> gauges = new ArrayList<>();

  private ReplicaServer(Config config, MutualTls tls, RocksStorage storage, MeterRegistry metrics)
      throws IOException {
    this.config = config;
    this.storage = storage;
    if (!config.expectedClusterId().isEmpty()
        && storage.metadata() != null
        && !storage.metadata().getClusterId().isEmpty()
        && !storage.metadata().getClusterId().equals(config.expectedClusterId())) {
      throw new StorageException(
          config.dataDir()
              + " holds replica "
              + storage.metadata().getReplicaId()
              + " of log "
              + storage.metadata().getClusterId()
              + ", not of log "
              + config.expectedClusterId()
              + "; refusing to serve it");
    }
    this.core =
        new ReplicaCore(
            config.id(),
            config.peers().size(),
            storage,
            config.core(),
            new SecureRandom().nextLong());
    this.queue = new ArrayBlockingQueue<>(config.queueLimit());
    this.status = core.replicaStatus();
    this.metrics = metrics;
    this.writeLatency =
        ProcessMetrics.latency(
            metrics,
            "kmesos.replica.write",
            "From a write (Paxos accept) request's arrival to its answer, its synced write included");
    storage.measureSyncedWrites(
        ProcessMetrics.latency(
            metrics,
            "kmesos.replica.fsync",
            "How long a synced RocksDB write takes to be durable (group commit: one per batch of requests)"));
    for (int i = 0; i < config.peers().size(); i++) {
      ManagedChannel ch = Transport.channel(config.peers().get(i), tls);
      channels.add(ch);
      peers.add(ReplicaGrpc.newStub(ch));
    }
    InetSocketAddress listen = config.listenAddress();
    // The handler only validates and enqueues: run it on the I/O thread, no hand-off.
    NettyServerBuilder builder =
        NettyServerBuilder.forAddress(listen, tls.serverCredentials())
            .directExecutor()
            .intercept(MutualTls.identityCheck(CLIENTS))
            .maxInboundMessageSize(Transport.MAX_MESSAGE_BYTES);
    this.standard =
        StandardServices.addTo(builder, "replica", config.disabledEndpoints(), new Service());
    this.server = builder.build().start();
    registerGauges(); // once serving: a replica that failed to start leaves none behind
    standard
        .serving(); // before the loop starts, so that a failure of the loop is never overwritten
    this.loop = new Thread(this::run, "replica-" + config.id());
    loop.start();
    long tickMillis = config.tick().toMillis();
    timer.scheduleAtFixedRate(
        () -> queue.offer(new Tick()), tickMillis, tickMillis, TimeUnit.MILLISECONDS);
    log.info(
        "replica {} of {} serving {} on {} ({}){}",
        config.id(),
        config.peers().size(),
        config.dataDir(),
        listen,
        core.replicaStatus(),
        config.disabledEndpoints().methods().isEmpty()
            ? ""
            : "; disabled endpoints: " + String.join(", ", config.disabledEndpoints().methods()));
  }

  /**
   * Opens the storage, refuses another log's data, and starts serving over mutual TLS ({@code tls}:
   * the replica's certificate).
   */
  public static ReplicaServer start(Config config, MutualTls tls) throws IOException {
    return start(config, tls, ProcessMetrics.none());
  }

  /**
   * As {@link #start(Config, MutualTls)}, measured in {@code metrics} (see docs/operations.md,
   * "Metrics").
   */
  public static ReplicaServer start(Config config, MutualTls tls, MeterRegistry metrics)
      throws IOException {
    ExpectedDisconnects.install();
    RocksStorage storage = RocksStorage.open(config.dataDir());
    try {
      return new ReplicaServer(config, tls, storage, metrics);
    } catch (IOException | RuntimeException e) {
      storage.close();
      throw e;
    }
  }

  public int port() {
    return server.getPort();
  }

  /**
   * The standard health service of this replica, to serve also on a port of its own without TLS:
   * Kubernetes' {@code grpc} probes present no client certificate, and the service tells nothing
   * but SERVING or NOT_SERVING.
   */
  public BindableService healthService() {
    return standard.healthService();
  }

  /**
   * Completes, with the cause as one line, if this replica stops serving on its own: its storage
   * failed or its core did. It then answers nothing but UNAVAILABLE and its health is NOT_SERVING;
   * what to do (exit, so that Kubernetes restarts it) is the caller's decision.
   */
  public CompletableFuture<String> failure() {
    return failure;
  }

  /**
   * The replica's status as one gauge per status (1 for the current one: Prometheus's way of an
   * enum) and the depth of the input queue that every request and peer answer waits in.
   */
  private void registerGauges() {
    for (ReplicaStatus s : ReplicaStatus.values()) {
      if (s != ReplicaStatus.UNRECOGNIZED && s != ReplicaStatus.REPLICA_STATUS_UNSPECIFIED) {
        gauges.add(
            Gauge.builder("kmesos.replica.status", this, r -> r.status == s ? 1 : 0)
                .description(
                    "1 for this replica's status (EMPTY, RECOVERING or VOTING), 0 for the others")
                .tag("status", s.name())
                .strongReference(true)
                .register(metrics));
      }
    }
    gauges.add(
        Gauge.builder("kmesos.replica.queue.depth", queue, BlockingQueue::size)
            .description(
                "Requests, peers' answers and ticks waiting for the replica's loop (the write queue)")
            .strongReference(true)
            .register(metrics));
    gauges.add(
        Gauge.builder("kmesos.replica.queue.size", queuedBytes, AtomicLong::get)
            .baseUnit("bytes")
            .description("Message bytes waiting in that queue (bounded at 256 MiB)")
            .strongReference(true)
            .register(metrics));
  }

  private final class Service extends ReplicaGrpc.ReplicaImplBase {
    @Override
    public void call(Envelope request, StreamObserver<Envelope> answer) {
      String problem = Requests.problem(request, config.id());
      if (problem != null) {
        answer.onError(Status.INVALID_ARGUMENT.withDescription(problem).asRuntimeException());
        return;
      }
      long now = System.nanoTime();
      long expires =
          now + Transport.budget(config.maxRequestAge(), request.getSerializedSize()).toNanos();
      Deadline deadline = Context.current().getDeadline();
      if (deadline != null) {
        expires = Math.min(expires, now + deadline.timeRemaining(TimeUnit.NANOSECONDS));
      }
      if (!running) {
        String why = failure.isDone() ? " has stopped: " + failure.join() : " is shutting down";
        answer.onError(
            Status.UNAVAILABLE
                .withDescription("replica " + config.id() + why)
                .asRuntimeException());
      } else if (!enqueue(
          new Request(request, answer, expires, request.getSerializedSize(), now))) {
        answer.onError(
            Status.RESOURCE_EXHAUSTED
                .withDescription("replica " + config.id() + " is overloaded; retry later")
                .asRuntimeException());
      }
    }
  }

  /** Queues {@code in} if both the count and the byte bound allow it. */
  private boolean enqueue(Input in) {
    long size = bytes(in);
    if (queuedBytes.addAndGet(size) > MAX_QUEUED_BYTES && size > 0) {
      queuedBytes.addAndGet(-size);
      return false;
    }
    if (!queue.offer(in)) {
      queuedBytes.addAndGet(-size);
      return false;
    }
    return true;
  }

  private static int bytes(Input in) {
    if (in instanceof Request r) {
      return r.bytes();
    }
    return in instanceof PeerAnswer a ? a.bytes() : 0;
  }

  private void run() {
    try {
      serve();
    } catch (Throwable t) { // an Error too: the loop thread must not die without a word
      stopServing("unexpected failure: " + t, t);
    } finally {
      if (running) {
        stopServing("the replica loop ended", null);
      }
      standard.notServing();
    }
  }

  /**
   * The replica cannot go on: NOT_SERVING, one ERROR naming the cause, and {@link #failure}
   * completes.
   */
  private void stopServing(String cause, Throwable t) {
    running = false;
    standard.notServing();
    if (t == null) {
      log.error("replica {} stopped serving: {}", config.id(), cause);
    } else {
      log.error("replica {} stopped serving: {}", config.id(), cause, t);
    }
    failure.complete(cause);
  }

  private void serve() {
    List<Input> batch = new ArrayList<>();
    long nextPrune = System.nanoTime() + WAL_PRUNE_INTERVAL.toNanos();
    while (running) {
      try {
        if (System.nanoTime() > nextPrune) {
          storage.pruneWalArchive();
          nextPrune = System.nanoTime() + WAL_PRUNE_INTERVAL.toNanos();
        }
        Input first = queue.poll(100, TimeUnit.MILLISECONDS);
        if (first == null) {
          continue;
        }
        batch.clear();
        batch.add(first);
        queue.drainTo(batch, 1000);
        for (Input in : batch) {
          queuedBytes.addAndGet(-bytes(in));
        }
        step(batch);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (StorageException e) {
        if (e instanceof CorruptRecordException) {
          continue; // answered with DATA_LOSS in step(); the replica goes on serving the rest
        }
        stopServing("storage failed: " + e.getMessage(), null);
      } catch (RuntimeException e) {
        stopServing("unexpected failure: " + e, e);
      }
    }
    for (Input in : queue) {
      if (in instanceof Request r) {
        r.answer()
            .onError(
                Status.UNAVAILABLE
                    .withDescription("replica " + config.id() + " stopped")
                    .asRuntimeException());
      }
    }
  }

  private void step(List<Input> batch) {
    List<Effects> results = new ArrayList<>(batch.size());
    boolean[] answered = new boolean[batch.size()];
    List<Effects.Persist> writes = new ArrayList<>();
    long now = System.nanoTime();
    for (int i = 0; i < batch.size(); i++) {
      Input in = batch.get(i);
      Effects e = new Effects();
      try {
        if (in instanceof Request r) {
          if (now > r.expiresAtNanos()) {
            r.answer()
                .onError(
                    Status.DEADLINE_EXCEEDED
                        .withDescription(
                            "the request waited past its deadline in replica "
                                + config.id()
                                + " and was not applied")
                        .asRuntimeException());
            answered[i] = true;
          } else {
            if (ReplicaCore.readsStorage(r.envelope()) && !writes.isEmpty()) {
              // The core reads what is stored: write what this batch deferred first (its replies
              // still wait for the end of the batch, after the last write).
              storage.apply(writes);
              writes.clear();
            }
            e = core.handle(r.envelope());
          }
        } else if (in instanceof PeerAnswer a) {
          e = core.handle(a.envelope());
        } else {
          e = core.tick();
        }
      } catch (CorruptRecordException ex) {
        log.error("replica {}: {}", config.id(), ex.getMessage());
        if (in instanceof Request r) {
          r.answer()
              .onError(
                  Status.DATA_LOSS
                      .withDescription("replica " + config.id() + ": " + ex.getMessage())
                      .asRuntimeException());
          answered[i] = true;
        }
      }
      results.add(e);
      writes.addAll(e.persist());
    }
    storage.apply(writes); // one batch, one sync: every reply below follows the writes it reports
    status = core.replicaStatus();
    long applied = System.nanoTime();
    for (int i = 0; i < batch.size(); i++) {
      Input in = batch.get(i);
      logTransitions(results.get(i));
      Envelope reply = null;
      for (Envelope m : results.get(i).messages()) {
        if (reply == null
            && in instanceof Request r
            && m.getTo() == r.envelope().getFrom()
            && Requests.isReply(m)) {
          reply = m;
        } else {
          sendToPeer(m);
        }
      }
      if (in instanceof Request r && !answered[i] && r.envelope().hasWriteRequest()) {
        writeLatency.record(applied - r.arrivedNanos(), TimeUnit.NANOSECONDS);
      }
      if (in instanceof Request r && !answered[i] && !cancelled(r)) {
        r.answer()
            .onNext(
                reply != null
                    ? reply
                    : Envelope.newBuilder()
                        .setFrom(config.id())
                        .setTo(r.envelope().getFrom())
                        .build());
        r.answer().onCompleted();
      }
    }
  }

  /**
   * Status changes and truncations, once they are durable: one line each (see {@link
   * Event.Transition}).
   */
  private void logTransitions(Effects e) {
    for (Event ev : e.events()) {
      if (ev instanceof Event.Transition t) {
        log.info("replica {}: {}", config.id(), t.describe());
      }
    }
  }

  /**
   * Whether the caller gave up on {@code r} (its deadline passed, or it cancelled): its answer
   * would only be serialized to be thrown away. What the request changed is durable either way.
   */
  private static boolean cancelled(Request r) {
    return r.answer() instanceof ServerCallStreamObserver<Envelope> call && call.isCancelled();
  }

  private void sendToPeer(Envelope m) {
    long to = m.getTo();
    if (to < 0 || to >= peers.size() || to == config.id()) {
      return; // answers to clients travel back on their own calls
    }
    peers
        .get((int) to)
        .withDeadlineAfter(config.maxRequestAge().toMillis(), TimeUnit.MILLISECONDS)
        .call(
            m,
            new StreamObserver<>() {
              @Override
              public void onNext(Envelope answer) {
                if (answer.getBodyCase() != Envelope.BodyCase.BODY_NOT_SET) {
                  enqueue(new PeerAnswer(answer, answer.getSerializedSize()));
                }
              }

              @Override
              public void onError(Throwable t) {
                log.debug(
                    "replica {}: peer {} did not answer: {}", config.id(), to, t.getMessage());
              }

              @Override
              public void onCompleted() {}
            });
  }

  @Override
  public void close() {
    running = false;
    standard.notServing();
    timer.shutdownNow();
    server.shutdown();
    try {
      loop.join(5000);
      server.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    server.shutdownNow();
    channels.forEach(ManagedChannel::shutdownNow);
    storage.close();
    gauges.forEach(
        metrics::remove); // they read this server: a later one in the process registers its own
  }

  private static Thread daemon(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }
}
