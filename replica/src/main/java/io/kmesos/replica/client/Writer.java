package io.kmesos.replica.client;

import com.google.protobuf.ByteString;
import io.grpc.stub.StreamObserver;
import io.kmesos.api.cli.Failures;
import io.kmesos.api.log.v1.Envelope;
import io.kmesos.replica.core.Ballots;
import io.kmesos.replica.core.Coordinator;
import io.kmesos.replica.core.Effects;
import io.kmesos.replica.core.Event;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;

/**
 * The log's writer: the shell around a {@link Coordinator}. Elect once, then append; each append's
 * future completes with its position once a quorum holds it (in position order). Many appends in
 * flight share round trips and fsyncs: everything submitted while the previous batch was on its way
 * goes out as one write per replica.
 *
 * <p>An election keeps trying until its deadline ({@link Settings#electionDeadline()}): a quorum of
 * replicas that is down or restarting when it starts is waited for, and channels waiting out a
 * reconnect back-off try again at once whenever an attempt starts. Only at the deadline does it
 * fail with {@link UnavailableException}, naming the replicas it could not reach and why.
 *
 * <p>Once another writer is elected this one is superseded for good: every pending and later call
 * fails with {@link SupersededException}. If a quorum does not accept an append within the
 * configured timeout, the writer fails with {@link UnavailableException} and must be replaced; what
 * it had in flight may or may not have been committed (a new writer's election settles it).
 */
public final class Writer implements AutoCloseable {
  private sealed interface Op permits Elect, Append, Truncate, Answer, Tick, RetryElection {}

  private record RetryElection() implements Op {}

  /**
   * How a writer behaves, validated when made; times are {@code Duration}s, turned into the
   * coordinator's ticks once ({@link #coordinator()}).
   *
   * @param appendTimeout an append not committed by a quorum within this fails the writer
   * @param electionDeadline how long {@link #elect()} keeps trying; replicas that come back within
   *     it are waited for
   * @param electionAttempt how long one election attempt waits for a quorum to settle it, before
   *     the next attempt starts
   * @param retryInterval how long a request without an answer waits before it is sent again
   * @param maxInFlight appended positions not yet committed; more appends wait
   * @param maxBatchesInFlight write batches sent and not yet committed (see {@link
   *     Coordinator.Config#maxBatchesInFlight()})
   * @param maxBatchBytes payload bytes in one write batch (a larger single entry goes alone)
   * @param logTransitions whether elections won or lost and supersession are logged at INFO (a
   *     long-running process's writer) or only at DEBUG (a command-line tool's, whose stderr is
   *     kept for its one-line error)
   */
  public record Settings(
      Duration appendTimeout,
      Duration electionDeadline,
      Duration electionAttempt,
      Duration retryInterval,
      int maxInFlight,
      int maxBatchesInFlight,
      int maxBatchBytes,
      boolean logTransitions) {
    public static final Settings DEFAULT =
        new Settings(
            Duration.ofSeconds(10),
            Duration.ofSeconds(30),
            Duration.ofSeconds(5),
            Duration.ofMillis(500),
            100_000,
            4,
            1 << 20,
            true);

    public Settings {
      positive("appendTimeout", appendTimeout);
      positive("electionDeadline", electionDeadline);
      atLeastOneTick("electionAttempt", electionAttempt);
      atLeastOneTick("retryInterval", retryInterval);
      positive("maxInFlight", maxInFlight);
      positive("maxBatchesInFlight", maxBatchesInFlight);
      positive("maxBatchBytes", maxBatchBytes);
    }

    private static void atLeastOneTick(String setting, Duration d) {
      if (d.compareTo(TICK) < 0) {
        throw new IllegalArgumentException(
            "the writer's "
                + setting
                + " must be at least "
                + Failures.human(TICK)
                + ", got "
                + Failures.human(d));
      }
    }

    private static void positive(String setting, Duration d) {
      if (d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException(
            "the writer's " + setting + " must be positive, got " + Failures.human(d));
      }
    }

    private static void positive(String setting, int value) {
      if (value < 1) {
        throw new IllegalArgumentException(
            "the writer's " + setting + " must be positive, got " + value);
      }
    }

    public Settings withAppendTimeout(Duration timeout) {
      return new Settings(
          timeout,
          electionDeadline,
          electionAttempt,
          retryInterval,
          maxInFlight,
          maxBatchesInFlight,
          maxBatchBytes,
          logTransitions);
    }

    public Settings withElectionDeadline(Duration deadline) {
      return new Settings(
          appendTimeout,
          deadline,
          electionAttempt,
          retryInterval,
          maxInFlight,
          maxBatchesInFlight,
          maxBatchBytes,
          logTransitions);
    }

    public Settings withElectionAttempt(Duration attempt) {
      return new Settings(
          appendTimeout,
          electionDeadline,
          attempt,
          retryInterval,
          maxInFlight,
          maxBatchesInFlight,
          maxBatchBytes,
          logTransitions);
    }

    public Settings withMaxBatchesInFlight(int batches) {
      return new Settings(
          appendTimeout,
          electionDeadline,
          electionAttempt,
          retryInterval,
          maxInFlight,
          batches,
          maxBatchBytes,
          logTransitions);
    }

    /** These settings, with transitions logged at DEBUG only (see {@link #logTransitions()}). */
    public Settings quiet() {
      return new Settings(
          appendTimeout,
          electionDeadline,
          electionAttempt,
          retryInterval,
          maxInFlight,
          maxBatchesInFlight,
          maxBatchBytes,
          false);
    }

    /** The coordinator's tunables, in ticks of the writer's timer ({@link Writer#TICK}). */
    Coordinator.Config coordinator() {
      return new Coordinator.Config(
          ticks(retryInterval),
          ticks(electionAttempt),
          maxInFlight,
          maxBatchesInFlight,
          maxBatchBytes);
    }

    private static int ticks(Duration d) {
      return (int) Math.min(Integer.MAX_VALUE, d.toMillis() / TICK.toMillis());
    }
  }

  /** How often the writer's coordinator is ticked: the unit of its timers. */
  static final Duration TICK = Duration.ofMillis(10);

  /**
   * A fresh writer does not know the current round: a refusal teaches it, and it tries again. Past
   * this many refusals another writer is actively elected, and this one is superseded.
   */
  private static final int ELECTION_ATTEMPTS = 5;

  /**
   * The largest payload one entry may carry: enough for Mesos's way of storing the registry (one
   * whole registry per entry, 10.5 MB at 50,000 agents: the benchmarks' baseline). Every message of
   * the log must fit in {@link io.kmesos.replica.server.Transport#MAX_MESSAGE_BYTES} (64 MiB): a
   * write carries one such entry alone (a large entry travels in a batch of its own), a fetch
   * answer one plus at most 16 MiB of others. A promise answer carries every entry a replica holds
   * above its learned point: normally the last writer's batches in flight (at most 4, so 48 MiB of
   * such entries); only a run of writers that each died with large entries in flight before the
   * next one's election could pile up more (see docs/replicated-log.md).
   */
  public static final int MAX_ENTRY_BYTES = 12 << 20;

  /** Appends accepted but not yet proposed (while electing, or while the pipeline is full). */
  private static final int MAX_WAITING = 200_000;

  private record Elect(CompletableFuture<Long> done) implements Op {}

  private record Append(ByteString payload, CompletableFuture<Long> done) implements Op {}

  private record Truncate(long to, CompletableFuture<Long> done) implements Op {}

  private record Answer(Envelope envelope) implements Op {}

  private record Tick() implements Op {}

  private static final Logger logger = LoggerFactory.getLogger(Writer.class);

  private final Log log;
  private final LongAdder appendedBytes = new LongAdder();
  private final Coordinator coordinator;

  /** How log lines name this writer: by its proposer ID, the one its ballots carry. */
  private final String name;

  private final boolean logTransitions;
  private final Duration appendTimeout;
  private final Duration electionDeadline;
  private long electionEndsAt;
  private final BlockingQueue<Op> queue = new ArrayBlockingQueue<>(200_000);
  private final Thread loop;
  private volatile boolean running = true;

  private CompletableFuture<Long> electing;
  private int electionAttempts;
  private final Random jitter = new Random();
  private final Map<Long, CompletableFuture<Long>> pending = new HashMap<>();

  /**
   * When each pending position was proposed; positions commit in order, so the first is the oldest.
   */
  private final TreeMap<Long, Long> pendingSince = new TreeMap<>();

  private final ArrayDeque<Op> waiting = new ArrayDeque<>();
  private volatile RuntimeException failure;
  private final ScheduledFuture<?> ticker;

  Writer(Log log, long node, long proposer, Settings settings) {
    this.log = log;
    this.coordinator = new Coordinator(node, proposer, log.replicas(), settings.coordinator());
    this.name = "writer " + Long.toUnsignedString(proposer, 16);
    this.logTransitions = settings.logTransitions();
    this.appendTimeout = settings.appendTimeout();
    this.electionDeadline = settings.electionDeadline();
    this.loop = new Thread(this::run, "log-writer");
    loop.setDaemon(true);
    loop.start();
    this.ticker =
        log.timer()
            .scheduleAtFixedRate(
                () -> queue.offer(new Tick()),
                TICK.toMillis(),
                TICK.toMillis(),
                TimeUnit.MILLISECONDS);
  }

  /**
   * Elects this writer; completes with the log's ending position (appends follow it), or fails once
   * the election deadline passed without a quorum (then the writer stops: use a new one).
   */
  public CompletableFuture<Long> elect() {
    return submit(new Elect(new CompletableFuture<>()));
  }

  /** Appends {@code payload}; completes with its position once committed. */
  public CompletableFuture<Long> append(byte[] payload) {
    return append(ByteString.copyFrom(payload));
  }

  public CompletableFuture<Long> append(ByteString payload) {
    if (payload.size() > MAX_ENTRY_BYTES) {
      return CompletableFuture.failedFuture(
          new IllegalArgumentException(
              "an entry holds at most "
                  + (MAX_ENTRY_BYTES >> 20)
                  + " MiB; this one has "
                  + payload.size()
                  + " bytes and was not appended"));
    }
    appendedBytes.add(payload.size());
    long submitted = System.nanoTime();
    CompletableFuture<Long> done = submit(new Append(payload, new CompletableFuture<>()));
    done.thenRun(
        () -> log.appendLatency().record(System.nanoTime() - submitted, TimeUnit.NANOSECONDS));
    return done;
  }

  /**
   * Payload bytes this writer was asked to append so far (for benchmarks: what a layer above
   * writes).
   */
  public long appendedBytes() {
    return appendedBytes.sum();
  }

  /**
   * Appends a truncation: once learned, positions below {@code to} are deleted on every replica.
   */
  public CompletableFuture<Long> truncate(long to) {
    return submit(new Truncate(to, new CompletableFuture<>()));
  }

  private CompletableFuture<Long> submit(Op op) {
    CompletableFuture<Long> done = futureOf(op);
    if (!running) {
      done.completeExceptionally(
          failure != null ? failure : new IllegalStateException("the writer is closed"));
    } else if (!queue.offer(op)) {
      done.completeExceptionally(
          new IllegalStateException("too many calls in flight (" + queue.size() + "); slow down"));
    }
    return done;
  }

  private static CompletableFuture<Long> futureOf(Op op) {
    if (op instanceof Elect e) {
      return e.done();
    } else if (op instanceof Append a) {
      return a.done();
    }
    return ((Truncate) op).done();
  }

  private void run() {
    List<Op> batch = new ArrayList<>();
    while (running) {
      try {
        Op first = queue.poll(100, TimeUnit.MILLISECONDS);
        if (first == null) {
          continue;
        }
        batch.clear();
        batch.add(first);
        queue.drainTo(batch, 10_000);
        Effects out = new Effects();
        for (Op op : batch) {
          step(op, out);
        }
        out.addAll(coordinator.flush());
        deliver(out);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (RuntimeException e) {
        fail(e);
      }
    }
  }

  private void step(Op op, Effects out) {
    if (failure != null) {
      if (!(op instanceof Answer) && !(op instanceof Tick) && !(op instanceof RetryElection)) {
        futureOf(op).completeExceptionally(failure);
      }
      return;
    }
    if (op instanceof Elect e) {
      if (electing != null || coordinator.status() != Coordinator.Status.IDLE) {
        e.done()
            .completeExceptionally(new IllegalStateException("already " + coordinator.status()));
        return;
      }
      electing = e.done();
      electionAttempts = 1;
      electionEndsAt = System.nanoTime() + electionDeadline.toNanos();
      log.reconnect();
      out.addAll(coordinator.elect());
    } else if (op instanceof RetryElection) {
      if (electing != null && coordinator.status() == Coordinator.Status.IDLE) {
        log.reconnect();
        out.addAll(coordinator.elect());
      }
    } else if (op instanceof Append || op instanceof Truncate) {
      if (coordinator.status() != Coordinator.Status.WRITING || !waiting.isEmpty()) {
        if (waiting.size() >= MAX_WAITING) {
          futureOf(op)
              .completeExceptionally(
                  new IllegalStateException(
                      "too many appends waiting (" + waiting.size() + "); slow down"));
        } else if (coordinator.status() == Coordinator.Status.WRITING
            || coordinator.status() == Coordinator.Status.FILLING
            || coordinator.status() == Coordinator.Status.FETCHING
            || coordinator.status() == Coordinator.Status.ELECTING) {
          waiting.add(op); // admitted once elected / once there is room in flight
        } else {
          futureOf(op)
              .completeExceptionally(new IllegalStateException("not elected: call elect() first"));
        }
        return;
      }
      propose(op);
    } else if (op instanceof Answer a) {
      out.addAll(coordinator.handle(a.envelope()));
    } else {
      out.addAll(coordinator.tick());
      checkTimeouts();
      checkElectionDeadline();
    }
    admitWaiting();
  }

  /** Returns false when the coordinator has no room in flight; the op stays queued. */
  private boolean propose(Op op) {
    long p;
    try {
      p =
          op instanceof Append a
              ? coordinator.append(a.payload())
              : coordinator.truncate(((Truncate) op).to());
    } catch (IllegalArgumentException e) {
      futureOf(op).completeExceptionally(e);
      return true;
    }
    if (p < 0) {
      waiting.addFirst(op);
      return false;
    }
    pending.put(p, futureOf(op));
    pendingSince.put(p, System.nanoTime());
    return true;
  }

  private void admitWaiting() {
    while (!waiting.isEmpty() && coordinator.status() == Coordinator.Status.WRITING) {
      if (!propose(waiting.poll())) {
        return;
      }
    }
  }

  private void deliver(Effects out) {
    for (Event ev : out.events()) {
      if (ev instanceof Event.Transition t) {
        logger.atLevel(logTransitions ? Level.INFO : Level.DEBUG).log("{}: {}", name, t.describe());
      }
      if (ev instanceof Event.Elected el) {
        CompletableFuture<Long> e = electing;
        electing = null;
        admitWaiting();
        out.addAll(coordinator.flush());
        if (e != null) {
          e.complete(el.ending());
        }
      } else if (ev instanceof Event.ElectionFailed f
          && electing != null
          && Ballots.greater(f.promised(), Ballots.NONE)
          && electionAttempts < ELECTION_ATTEMPTS) {
        // Refused for a higher ballot: retry above it, after a random pause so that two writers
        // racing do not keep pre-empting each other (Mesos has no such back-off and can livelock).
        long pause = 5L + jitter.nextInt(20 * electionAttempts);
        electionAttempts++;
        log.timer().schedule(() -> queue.offer(new RetryElection()), pause, TimeUnit.MILLISECONDS);
      } else if (ev instanceof Event.ElectionFailed f
          && electing != null
          && !Ballots.greater(f.promised(), Ballots.NONE)
          && System.nanoTime() < electionEndsAt) {
        // No quorum answered within one attempt: replicas may be restarting. Try again until the
        // deadline (checked on every tick), which is what bounds this.
        log.timer().schedule(() -> queue.offer(new RetryElection()), 50, TimeUnit.MILLISECONDS);
      } else if (ev instanceof Event.ElectionFailed f) {
        CompletableFuture<Long> e = electing;
        electing = null;
        RuntimeException why =
            Ballots.greater(f.promised(), Ballots.NONE)
                ? new SupersededException(
                    "another writer holds a higher ballot (" + Ballots.toString(f.promised()) + ")")
                : noQuorum();
        failAllWaiting(why);
        if (e != null) {
          e.completeExceptionally(why);
        }
      } else if (ev instanceof Event.Committed c) {
        CompletableFuture<Long> f = pending.remove(c.position());
        pendingSince.remove(c.position());
        if (f != null) {
          f.complete(c.position());
        }
      } else if (ev instanceof Event.Superseded s) {
        fail(
            new SupersededException(
                "superseded: another writer was elected with ballot "
                    + Ballots.toString(s.promised())
                    + "; this writer committed through "
                    + s.committedThrough()));
      }
    }
    for (Envelope m : out.messages()) {
      log.send(
          m,
          new StreamObserver<>() {
            @Override
            public void onNext(Envelope answer) {
              if (answer.getBodyCase() != Envelope.BodyCase.BODY_NOT_SET) {
                queue.offer(new Answer(answer));
              }
            }

            @Override
            public void onError(Throwable t) {
              // The coordinator resends on its own schedule.
            }

            @Override
            public void onCompleted() {}
          });
    }
  }

  private void checkTimeouts() {
    Map.Entry<Long, Long> oldest = pendingSince.firstEntry();
    if (oldest != null && System.nanoTime() - oldest.getValue() > appendTimeout.toNanos()) {
      String unreachable = log.unreachable();
      fail(
          new UnavailableException(
              "no quorum of replicas accepted position "
                  + oldest.getKey()
                  + " within "
                  + Failures.human(appendTimeout)
                  + " ("
                  + (unreachable.isEmpty()
                      ? "replicas: " + String.join(", ", log.peers())
                      : unreachable)
                  + "); the writer stops, elect a new one"));
    }
  }

  /**
   * An election still unsettled at its deadline fails, and the writer with it (its coordinator is
   * mid-election).
   */
  private void checkElectionDeadline() {
    if (electing != null && System.nanoTime() >= electionEndsAt) {
      Coordinator.Status status = coordinator.status();
      fail(
          status == Coordinator.Status.IDLE || status == Coordinator.Status.ELECTING
              ? noQuorum()
              : new UnavailableException(
                  "election failed: a quorum promised, but settling the log's end ("
                      + status
                      + ") did not finish within "
                      + Failures.human(electionDeadline)
                      + (log.unreachable().isEmpty() ? "" : " (" + log.unreachable() + ")")));
    }
  }

  private UnavailableException noQuorum() {
    String unreachable = log.unreachable();
    return new UnavailableException(
        "election failed: no quorum of voting replicas answered within "
            + Failures.human(electionDeadline)
            + " ("
            + (unreachable.isEmpty() ? "replicas: " + String.join(", ", log.peers()) : unreachable)
            + ")");
  }

  private void fail(RuntimeException why) {
    if (failure == null) {
      failure = why;
    }
    pending.values().forEach(f -> f.completeExceptionally(why));
    pending.clear();
    pendingSince.clear();
    failAllWaiting(why);
    if (electing != null) {
      electing.completeExceptionally(why);
      electing = null;
    }
  }

  private void failAllWaiting(RuntimeException why) {
    while (!waiting.isEmpty()) {
      futureOf(waiting.poll()).completeExceptionally(why);
    }
  }

  @Override
  public void close() {
    running = false;
    ticker.cancel(false);
    try {
      loop.join(2000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    RuntimeException closed = new IllegalStateException("the writer was closed");
    pending.values().forEach(f -> f.completeExceptionally(closed));
    failAllWaiting(closed);
    queue.forEach(
        op -> {
          if (!(op instanceof Answer) && !(op instanceof Tick) && !(op instanceof RetryElection)) {
            futureOf(op).completeExceptionally(closed);
          }
        });
  }
}
