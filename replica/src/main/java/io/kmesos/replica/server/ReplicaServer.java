package io.kmesos.replica.server;

import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.kmesos.api.InfoService;
import io.kmesos.api.log.v1.Envelope;
import io.kmesos.api.log.v1.ReplicaGrpc;
import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.MutualTls;
import io.kmesos.replica.core.Effects;
import io.kmesos.replica.core.ReplicaCore;
import io.kmesos.replica.storage.CorruptRecordException;
import io.kmesos.replica.storage.RocksStorage;
import io.kmesos.replica.storage.StorageException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The shell around a {@link ReplicaCore}: RocksDB, gRPC and a timer.
 *
 * <p>One thread owns the core. It takes every queued input (requests, peers' answers, ticks), steps
 * the core through all of them, writes all their storage updates as one RocksDB batch (synced once,
 * if any needs it: group commit), and only then answers. A request that waited past its deadline, or
 * longer than its age limit whatever its deadline ({@link Config#maxRequestAge()}, more for a large
 * request: {@link Transport#budget}), is refused, never applied: this bound is what the recovery
 * grace period relies on. The queue is bounded in count and bytes; when it is full, callers
 * get RESOURCE_EXHAUSTED.
 */
public final class ReplicaServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ReplicaServer.class);

  /**
   * Who may call a replica (with a certificate of the cluster's CA): the other replicas, the
   * controllers (the master writes, standbys read), and operators' tools. Agents and frameworks
   * never talk to the log.
   */
  public static final java.util.Set<Identity> CLIENTS = java.util.EnumSet.of(Identity.REPLICA, Identity.CONTROLLER,
      Identity.ADMIN);

  /** Settings of one replica process. */
  public record Config(int id, List<String> peers, Path dataDir, String expectedClusterId,
      Duration tick, Duration maxRequestAge, int queueLimit, String listen) {
    public static Config of(int id, List<String> peers, Path dataDir) {
      return new Config(id, peers, dataDir, "", Duration.ofMillis(10), Duration.ofSeconds(2), 10_000, "");
    }

    /** Where to listen: {@code listen} if set (e.g. 0.0.0.0:7001 in a pod), else this replica's peer address. */
    InetSocketAddress listenAddress() {
      return Addresses.parse(listen.isEmpty() ? peers.get(id) : listen);
    }

    /** The longest any request may live here: the age limit of the largest (see {@link Transport#budget}). */
    Duration longestRequestAge() {
      return Transport.budget(maxRequestAge, Long.MAX_VALUE);
    }

    /** Core timers in ticks: the recovery grace is longer than any request may live. */
    ReplicaCore.Config core() {
      int ticksPerSecond = (int) Math.max(1, 1000 / tick.toMillis());
      int grace = (int) (longestRequestAge().toMillis() / tick.toMillis()) + ticksPerSecond;
      return new ReplicaCore.Config(Math.max(1, ticksPerSecond / 10), grace, ticksPerSecond / 2, 1000, 16L << 20);
    }
  }

  private sealed interface Input permits Request, PeerAnswer, Tick {}

  private record Request(Envelope envelope, StreamObserver<Envelope> answer, long expiresAtNanos, int bytes)
      implements Input {}

  private record PeerAnswer(Envelope envelope, int bytes) implements Input {}

  /**
   * The most message bytes waiting in the queue: its count bound alone would let 10,000 large
   * writes or fetch answers pile up. Past it, requests get RESOURCE_EXHAUSTED and peers' answers are
   * dropped (the protocol retries, as for a lost message).
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
  private final java.util.concurrent.atomic.AtomicLong queuedBytes = new java.util.concurrent.atomic.AtomicLong();
  private final List<ManagedChannel> channels = new ArrayList<>();
  private final List<ReplicaGrpc.ReplicaStub> peers = new ArrayList<>();
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "replica-timer"));
  private final Thread loop;
  private final Server server;
  private volatile boolean running = true;

  private ReplicaServer(Config config, MutualTls tls, RocksStorage storage) throws IOException {
    this.config = config;
    this.storage = storage;
    if (!config.expectedClusterId().isEmpty() && storage.metadata() != null
        && !storage.metadata().getClusterId().isEmpty()
        && !storage.metadata().getClusterId().equals(config.expectedClusterId())) {
      throw new StorageException(config.dataDir() + " holds replica " + storage.metadata().getReplicaId()
          + " of log " + storage.metadata().getClusterId() + ", not of log " + config.expectedClusterId()
          + "; refusing to serve it");
    }
    this.core = new ReplicaCore(config.id(), config.peers().size(), storage, config.core(), new SecureRandom().nextLong());
    this.queue = new ArrayBlockingQueue<>(config.queueLimit());
    for (int i = 0; i < config.peers().size(); i++) {
      ManagedChannel ch = Transport.channel(config.peers().get(i), tls);
      channels.add(ch);
      peers.add(ReplicaGrpc.newStub(ch));
    }
    InetSocketAddress listen = config.listenAddress();
    // The handler only validates and enqueues: run it on the I/O thread, no hand-off.
    this.server = NettyServerBuilder.forAddress(listen, tls.serverCredentials()).directExecutor()
        .intercept(MutualTls.identityCheck(CLIENTS))
        .maxInboundMessageSize(Transport.MAX_MESSAGE_BYTES).addService(new Service())
        .addService(new InfoService("replica")).build().start();
    this.loop = new Thread(this::run, "replica-" + config.id());
    loop.start();
    long tickMillis = config.tick().toMillis();
    timer.scheduleAtFixedRate(() -> queue.offer(new Tick()), tickMillis, tickMillis, TimeUnit.MILLISECONDS);
    log.info("replica {} of {} serving {} on {} ({})", config.id(), config.peers().size(), config.dataDir(), listen,
        core.describe().getStatus());
  }

  /** Opens the storage, refuses another log's data, and starts serving over mutual TLS ({@code tls}: the replica's certificate). */
  public static ReplicaServer start(Config config, MutualTls tls) throws IOException {
    ExpectedDisconnects.install();
    if (config.id() < 0 || config.id() >= config.peers().size()) {
      throw new IllegalArgumentException("replica id " + config.id() + " is not an index into the " + config.peers().size() + " peers");
    }
    RocksStorage storage = RocksStorage.open(config.dataDir());
    try {
      return new ReplicaServer(config, tls, storage);
    } catch (IOException | RuntimeException e) {
      storage.close();
      throw e;
    }
  }

  public int port() {
    return server.getPort();
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
      long expires = now + Transport.budget(config.maxRequestAge(), request.getSerializedSize()).toNanos();
      Deadline deadline = Context.current().getDeadline();
      if (deadline != null) {
        expires = Math.min(expires, now + deadline.timeRemaining(TimeUnit.NANOSECONDS));
      }
      if (!running) {
        answer.onError(Status.UNAVAILABLE.withDescription("replica " + config.id() + " is shutting down").asRuntimeException());
      } else if (!enqueue(new Request(request, answer, expires, request.getSerializedSize()))) {
        answer.onError(Status.RESOURCE_EXHAUSTED.withDescription("replica " + config.id() + " is overloaded; retry later").asRuntimeException());
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
        log.error("replica {}: storage failed, stopping: {}", config.id(), e.getMessage());
        running = false;
      } catch (RuntimeException e) {
        log.error("replica {}: unexpected failure, stopping", config.id(), e);
        running = false;
      }
    }
    for (Input in : queue) {
      if (in instanceof Request r) {
        r.answer().onError(Status.UNAVAILABLE.withDescription("replica " + config.id() + " stopped").asRuntimeException());
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
            r.answer().onError(Status.DEADLINE_EXCEEDED
                .withDescription("the request waited past its deadline in replica " + config.id() + " and was not applied")
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
          r.answer().onError(Status.DATA_LOSS.withDescription("replica " + config.id() + ": " + ex.getMessage()).asRuntimeException());
          answered[i] = true;
        }
      }
      results.add(e);
      writes.addAll(e.persist());
    }
    storage.apply(writes); // one batch, one sync: every reply below follows the writes it reports
    for (int i = 0; i < batch.size(); i++) {
      Input in = batch.get(i);
      Envelope reply = null;
      for (Envelope m : results.get(i).messages()) {
        if (reply == null && in instanceof Request r && m.getTo() == r.envelope().getFrom() && Requests.isReply(m)) {
          reply = m;
        } else {
          sendToPeer(m);
        }
      }
      if (in instanceof Request r && !answered[i] && !cancelled(r)) {
        r.answer().onNext(reply != null ? reply
            : Envelope.newBuilder().setFrom(config.id()).setTo(r.envelope().getFrom()).build());
        r.answer().onCompleted();
      }
    }
  }

  /**
   * Whether the caller gave up on {@code r} (its deadline passed, or it cancelled): its answer would
   * only be serialized to be thrown away. What the request changed is durable either way.
   */
  private static boolean cancelled(Request r) {
    return r.answer() instanceof ServerCallStreamObserver<Envelope> call && call.isCancelled();
  }

  private void sendToPeer(Envelope m) {
    long to = m.getTo();
    if (to < 0 || to >= peers.size() || to == config.id()) {
      return; // answers to clients travel back on their own calls
    }
    peers.get((int) to).withDeadlineAfter(config.maxRequestAge().toMillis(), TimeUnit.MILLISECONDS)
        .call(m, new StreamObserver<>() {
          @Override
          public void onNext(Envelope answer) {
            if (answer.getBodyCase() != Envelope.BodyCase.BODY_NOT_SET) {
              enqueue(new PeerAnswer(answer, answer.getSerializedSize()));
            }
          }

          @Override
          public void onError(Throwable t) {
            log.debug("replica {}: peer {} did not answer: {}", config.id(), to, t.getMessage());
          }

          @Override
          public void onCompleted() {}
        });
  }

  @Override
  public void close() {
    running = false;
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
  }

  private static Thread daemon(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }
}
