package io.kmesos.replica.client;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.kmesos.api.admin.ProcessMetrics;
import io.kmesos.api.cli.Failures;
import io.kmesos.api.log.v1.Envelope;
import io.kmesos.api.log.v1.InitializeRequest;
import io.kmesos.api.log.v1.ReplicaGrpc;
import io.kmesos.api.log.v1.ReplicaStatus;
import io.kmesos.api.log.v1.StatusResponse;
import io.kmesos.api.tls.MutualTls;
import io.kmesos.replica.core.LogUse;
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
   * Makes every replica a voting member of log {@code clusterId}: a new log, or one whose
   * initialize was cut short (fewer than a quorum voting and no entry anywhere: {@link LogUse}).
   * Returns what it found and one line per replica; throws if any replica refused or did not
   * answer. If log {@code clusterId} is already in use (a replica holds an entry, or a quorum votes
   * and one of them promised), it changes nothing and returns one line saying so: an initialize
   * that is run again (a Job retried after it reached only a quorum) has nothing left to do, the
   * EMPTY replicas recover by themselves. A log in use under another ID is an error, and so is a
   * log with entries but fewer than a quorum voting (a majority lost its data).
   */
  public List<String> initialize(String clusterId) {
    List<Reader.ReplicaState> states = reader().status();
    List<StatusResponse> statuses = new ArrayList<>();
    List<String> unanswered = new ArrayList<>();
    for (Reader.ReplicaState s : states) {
      statuses.add(s.status());
      if (s.status() == null) {
        unanswered.add("replica " + s.replica() + " (" + s.address() + "): " + s.error());
      }
    }
    LogUse.Decision decision = LogUse.decide(clusterId, statuses);
    switch (decision.verdict()) {
      case IN_USE -> {
        return List.of(decision.message());
      }
      case UNKNOWN ->
          throw new UnavailableException(
              "initialize did not reach every replica: "
                  + String.join("; ", unanswered)
                  + (statuses.stream()
                          .anyMatch(st -> st != null && st.getStatus() != ReplicaStatus.EMPTY)
                      ? " (nothing initialized: whether the log is in use depends on them)"
                      : ""));
      case INITIALIZE -> {}
      default -> throw new IllegalStateException(decision.message());
    }
    List<String> lines = new ArrayList<>();
    if (decision.message() != null) {
      lines.add(decision.message());
    }
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
                            InitializeRequest.newBuilder()
                                .setClusterId(clusterId)
                                .setPromised(decision.promise()))
                        .build())
                .getInitializeResponse();
        // A replica that found a quorum voting meanwhile (the ones this initialize made VOTING)
        // rebuilds the log from them and then votes: as good as initialized.
        boolean recovering =
            answer.getStatus() == ReplicaStatus.RECOVERING
                && answer.getClusterId().equals(clusterId);
        ok &= answer.getOk() || recovering;
        lines.add(
            "replica "
                + r
                + " ("
                + peers.get(r)
                + "): "
                + (answer.getOk()
                    ? "VOTING in log " + clusterId
                    : recovering
                        ? "RECOVERING in log "
                            + clusterId
                            + ": a quorum votes, it copies their log and then votes"
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
