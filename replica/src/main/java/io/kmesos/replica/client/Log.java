package io.kmesos.replica.client;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.kmesos.api.admin.ProcessMetrics;
import io.kmesos.api.cli.Failures;
import io.kmesos.api.log.v1.Envelope;
import io.kmesos.api.log.v1.InitializeRequest;
import io.kmesos.api.log.v1.ReplicaGrpc;
import io.kmesos.api.tls.MutualTls;
import io.kmesos.replica.server.Transport;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * A client of one replicated log: its replicas' addresses, channels to them, and factories for
 * {@link Writer}s and {@link Reader}s. Thread-safe; close it to release the channels.
 */
public final class Log implements AutoCloseable {
  /**
   * How long a request to a replica may take before the replica drops it (and the client gives up
   * on it).
   */
  public static final Duration REQUEST_DEADLINE = Duration.ofSeconds(2);

  private final List<String> peers;

  /**
   * How long a reader's question (status, read) or an initialization waits for each replica. A
   * writer's requests keep {@link #REQUEST_DEADLINE}: replicas drop older ones, and the recovery
   * grace period counts on that.
   */
  private final Duration questionTimeout;

  private final List<ManagedChannel> channels = new ArrayList<>();
  private final List<ReplicaGrpc.ReplicaStub> stubs = new ArrayList<>();
  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "log-timer");
            t.setDaemon(true);
            return t;
          });
  private final SecureRandom random = new SecureRandom();

  /** Why the last call to each replica failed; null once one succeeded since. */
  private final AtomicReferenceArray<String> lastErrors;

  /** 1 where the last call to that replica was answered, 0 where it failed or none was made yet. */
  private final AtomicIntegerArray answered;

  private final MeterRegistry metrics;
  private final Gauge ensembleSize;
  private final Timer appendLatency;

  /**
   * @param tls this client's certificate (a controller's, an admin's), with which it reaches the
   *     replicas
   */
  public Log(List<String> peers, MutualTls tls) {
    this(peers, REQUEST_DEADLINE, tls);
  }

  /**
   * @param questionTimeout how long a reader's or initialization's request waits for each replica
   */
  public Log(List<String> peers, Duration questionTimeout, MutualTls tls) {
    this(peers, questionTimeout, tls, ProcessMetrics.none());
  }

  /**
   * @param questionTimeout how long a reader's or initialization's request waits for each replica
   * @param tls this client's certificate, with which it reaches the replicas
   * @param metrics where this client's writers and reachability are measured (docs/operations.md)
   */
  public Log(List<String> peers, Duration questionTimeout, MutualTls tls, MeterRegistry metrics) {
    this.questionTimeout = questionTimeout;
    this.metrics = metrics;
    if (peers.isEmpty()) {
      throw new IllegalArgumentException("a log needs at least one replica address");
    }
    this.peers = List.copyOf(peers);
    this.lastErrors = new AtomicReferenceArray<>(peers.size());
    this.answered = new AtomicIntegerArray(peers.size());
    // Mesos's registrar/log/ensemble_size: the replicas this process reaches, of the configured
    // ones.
    this.ensembleSize =
        Gauge.builder("kmesos.log.ensemble.size", this, Log::reachable)
            .description(
                "Replicas of the log (of --peers) whose last call from this process was answered")
            .strongReference(true)
            .register(metrics);
    this.appendLatency =
        ProcessMetrics.latency(
            metrics,
            "kmesos.log.append",
            "From a writer's append to its commit by a quorum (the client's view of the log's latency)");
    for (String p : peers) {
      ManagedChannel ch = Transport.channel(p, tls);
      channels.add(ch);
      stubs.add(ReplicaGrpc.newStub(ch));
    }
  }

  /**
   * A new writer with a fresh identity and {@link Writer.Settings#DEFAULT}; call {@link
   * Writer#elect()} before appending.
   */
  public Writer writer() {
    return writer(Writer.Settings.DEFAULT);
  }

  public Writer writer(Writer.Settings settings) {
    return new Writer(this, clientNode(), random.nextLong() & Long.MAX_VALUE, settings);
  }

  public Reader reader() {
    return new Reader(this, clientNode());
  }

  public int replicas() {
    return peers.size();
  }

  public List<String> peers() {
    return peers;
  }

  Duration questionTimeout() {
    return questionTimeout;
  }

  ScheduledExecutorService timer() {
    return timer;
  }

  /** How long each committed append took, for the writers of this log. */
  Timer appendLatency() {
    return appendLatency;
  }

  /** Records whether {@code replica} answered this process's last call. */
  void heard(int replica, boolean answer) {
    answered.set(replica, answer ? 1 : 0);
  }

  /** How many replicas answered their last call (Mesos's ensemble size). */
  public int reachable() {
    int n = 0;
    for (int r = 0; r < answered.length(); r++) {
      n += answered.get(r);
    }
    return n;
  }

  /** Client node IDs lie above every replica index. */
  private long clientNode() {
    return (1L << 32) + (random.nextLong() & 0x7fff_ffffL);
  }

  void send(Envelope m, StreamObserver<Envelope> answer) {
    int to = (int) m.getTo();
    Duration deadline = Transport.budget(REQUEST_DEADLINE, m.getSerializedSize());
    stubs
        .get(to)
        .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS)
        .call(
            m,
            new StreamObserver<>() {
              @Override
              public void onNext(Envelope value) {
                lastErrors.set(to, null);
                heard(to, true);
                answer.onNext(value);
              }

              @Override
              public void onError(Throwable t) {
                lastErrors.set(to, Failures.reason(t, deadline));
                heard(to, false);
                answer.onError(t);
              }

              @Override
              public void onCompleted() {
                answer.onCompleted();
              }
            });
  }

  /**
   * Channels waiting out a reconnect back-off try again now: an election or a retry is about to
   * need them.
   */
  void reconnect() {
    channels.forEach(Transport::reconnectNow);
  }

  /**
   * Replicas whose last call failed, and why ("127.0.0.1:7001: connection refused; ..."); empty if
   * none.
   */
  String unreachable() {
    List<String> out = new ArrayList<>();
    for (int r = 0; r < peers.size(); r++) {
      String why = lastErrors.get(r);
      if (why != null) {
        out.add(peers.get(r) + ": " + why);
      }
    }
    return String.join("; ", out);
  }

  /**
   * Makes every replica a voting member of log {@code clusterId}: each must be EMPTY, or already
   * VOTING in that log. Returns one line per replica; throws if any replica refused or did not
   * answer. If log {@code clusterId} is already in use (a writer was elected), it changes nothing
   * and returns one line saying so: an initialize that is run again (a Job retried after it reached
   * only a quorum, which a master then used) has nothing left to do. A log in use under another ID
   * is an error.
   */
  public List<String> initialize(String clusterId) {
    for (Reader.ReplicaState s : reader().status()) {
      if (s.status() != null
          && (s.status().getPromised().getRound() > 0 || s.status().getEnd() > 0)) {
        String inUse =
            " is already in use (replica "
                + s.replica()
                + " holds positions up to "
                + s.status().getEnd()
                + ")";
        if (!clusterId.equals(s.status().getClusterId())) {
          throw new IllegalStateException(
              "log " + s.status().getClusterId() + inUse + ", not initializing log " + clusterId);
        }
        // Initializing a replica that lost its data in a log in use would make it vote without
        // it: such a replica is left alone, and recovers from the others by itself.
        return List.of(
            "log "
                + clusterId
                + " is initialized and"
                + inUse
                + ": nothing to do; a replica that lost its data recovers by itself");
      }
    }
    List<String> lines = new ArrayList<>();
    boolean ok = true;
    for (int r = 0; r < peers.size(); r++) {
      try {
        var answer =
            ReplicaGrpc.newBlockingStub(channels.get(r))
                .withDeadlineAfter(questionTimeout.toMillis(), TimeUnit.MILLISECONDS)
                .call(
                    Envelope.newBuilder()
                        .setFrom(clientNode())
                        .setTo(r)
                        .setInitializeRequest(
                            InitializeRequest.newBuilder().setClusterId(clusterId))
                        .build())
                .getInitializeResponse();
        ok &= answer.getOk();
        lines.add(
            "replica "
                + r
                + " ("
                + peers.get(r)
                + "): "
                + (answer.getOk()
                    ? "VOTING in log " + clusterId
                    : "refused: it is "
                        + answer.getStatus()
                        + (answer.getClusterId().isEmpty()
                            ? ""
                            : " in log " + answer.getClusterId())));
      } catch (StatusRuntimeException e) {
        ok = false;
        lines.add(
            "replica " + r + " (" + peers.get(r) + "): " + Failures.reason(e, questionTimeout));
      }
    }
    if (!ok) {
      throw new UnavailableException(
          "initialize did not reach every replica: " + String.join("; ", lines));
    }
    return lines;
  }

  ManagedChannel channel(int replica) {
    return channels.get(replica);
  }

  @Override
  public void close() {
    timer.shutdownNow();
    channels.forEach(ManagedChannel::shutdownNow);
    metrics.remove(ensembleSize);
  }
}
