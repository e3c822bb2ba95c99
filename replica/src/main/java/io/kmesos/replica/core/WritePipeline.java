package io.kmesos.replica.core;

import io.kmesos.api.log.v1.Action;
import io.kmesos.api.log.v1.ActionType;
import io.kmesos.api.log.v1.Ballot;
import io.kmesos.api.log.v1.Envelope;
import io.kmesos.api.log.v1.LearnedRequest;
import io.kmesos.api.log.v1.WriteRequest;
import io.kmesos.api.log.v1.WriteResponse;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.LongFunction;

/**
 * An elected writer's proposals (Mesos {@code src/log/coordinator.cpp}, its fill and appends):
 * first the positions its election decided to settle again (the fill), then clients' appends,
 * pipelined in batches.
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>A position is reported committed only once a quorum accepted it under this writer's ballot,
 *       and in position order: committed through p means every position up to p is chosen. The
 *       election is reported won ({@link Event.Elected}) only once the whole fill is committed.
 *   <li>Every write carries the committed point, and it is sent on its own when no write did, so
 *       replicas learn what was chosen; an unacknowledged write is resent to the replicas that did
 *       not accept it.
 *   <li>No write carries more than {@link Coordinator.Config#maxBatchBytes()} of payload (a larger
 *       single action goes alone), at most {@link Coordinator.Config#maxBatchesInFlight()} batches
 *       and {@link Coordinator.Config#maxInFlight()} positions are uncommitted at once.
 *   <li>Once a replica reports a higher promise the pipeline is superseded for good: it drops
 *       everything in flight and proposes nothing more.
 * </ul>
 */
final class WritePipeline {
  enum Stage {
    FILLING,
    WRITING,
    SUPERSEDED
  }

  private static final class InFlight {
    final Action action;
    final BitSet acks = new BitSet();
    final boolean client;

    /**
     * Sent at least once: only then can it be stale (an unsent one waits for a free batch slot).
     */
    boolean sent;

    int age;

    InFlight(Action action, boolean client) {
      this.action = action;
      this.client = client;
    }
  }

  private final Ballot ballot;
  private final Quorum quorum;
  private final Coordinator.Config config;
  private final LongFunction<Envelope.Builder> envelope;

  private Stage stage = Stage.FILLING;
  private final TreeMap<Long, InFlight> inFlight = new TreeMap<>();
  private final ArrayDeque<Action> unsent = new ArrayDeque<>();

  /** The last position of every batch sent and not yet committed, oldest first. */
  private final ArrayDeque<Long> batchEnds = new ArrayDeque<>();

  private long committedThrough;
  private final long fillEnd;
  private long nextPosition;

  /** The committed point the replicas were last told, in a write or on its own. */
  private long learnedSent;

  private int learnedAge;
  private boolean flushedSinceTick;

  /**
   * Starts with the fill: every position the election decided to settle again, with the value it
   * found there or else a NOP. Call {@link #start} next.
   */
  WritePipeline(
      Ballot ballot,
      Quorum quorum,
      Coordinator.Config config,
      LongFunction<Envelope.Builder> envelope,
      Election.Decided decided) {
    this.ballot = ballot;
    this.quorum = quorum;
    this.config = config;
    this.envelope = envelope;
    long start = decided.committedThrough();
    committedThrough = start;
    learnedSent = start;
    nextPosition = decided.end() + 1;
    fillEnd = decided.end();
    for (long pos = start + 1; pos <= fillEnd; pos++) {
      Action seen = decided.values().get(pos);
      Action.Builder fill = Action.newBuilder().setPosition(pos).setBallot(ballot);
      if (seen == null) {
        fill.setType(ActionType.NOP);
      } else {
        fill.setType(seen.getType())
            .setPayload(seen.getPayload())
            .setTruncateTo(seen.getTruncateTo());
      }
      Action a = fill.build();
      inFlight.put(pos, new InFlight(a, false));
      unsent.add(a);
    }
  }

  /** Sends the fill (or, when there was nothing to settle, reports the election won). */
  void start(Effects out) {
    advance(out);
    flush(out);
  }

  Stage stage() {
    return stage;
  }

  long committedThrough() {
    return committedThrough;
  }

  long nextPosition() {
    return nextPosition;
  }

  int inFlight() {
    return inFlight.size();
  }

  /** Reserves the next position for {@code action}; -1 when too much is in flight. */
  long propose(Action.Builder action) {
    if (inFlight.size() >= config.maxInFlight()) {
      return -1;
    }
    long p = nextPosition++;
    Action a = action.setPosition(p).setBallot(ballot).build();
    inFlight.put(p, new InFlight(a, true));
    unsent.add(a);
    return p;
  }

  /**
   * Sends what was proposed since the last flush, one write per replica per batch, as far as the
   * batches in flight allow; the rest waits for a commit (after which the shell flushes again).
   */
  void flush(Effects out) {
    while (!unsent.isEmpty() && batchEnds.size() < config.maxBatchesInFlight()) {
      WriteRequest.Builder w = write();
      PayloadBudget budget = new PayloadBudget(config.maxBatchBytes());
      while (!unsent.isEmpty() && budget.tryAdd(unsent.peek())) {
        Action a = unsent.poll();
        w.addActions(a);
        inFlight.get(a.getPosition()).sent = true;
      }
      WriteRequest batch = w.build();
      for (int r = 0; r < quorum.replicas(); r++) {
        out.send(envelope.apply(r).setWriteRequest(batch).build());
      }
      batchEnds.add(batch.getActions(batch.getActionsCount() - 1).getPosition());
      learnedSent = committedThrough;
      flushedSinceTick = true;
    }
  }

  void tick(Effects out) {
    if (stage == Stage.SUPERSEDED) {
      return;
    }
    boolean busy = !unsent.isEmpty() || flushedSinceTick;
    flushedSinceTick = false;
    flush(out);
    resendStale(out);
    // Writes carry committed_through; when none went out since the last tick, say it on its own,
    // and again now and then: a replica that lost the news (a dropped message, a wiped disk that
    // recovered our values) learns it from this.
    if ((!busy && committedThrough > learnedSent)
        || (++learnedAge >= config.retryTicks() * 4 && committedThrough > 0)) {
      learnedAge = 0;
      LearnedRequest l =
          LearnedRequest.newBuilder()
              .setBallot(ballot)
              .setCommittedThrough(committedThrough)
              .build();
      for (int r = 0; r < quorum.replicas(); r++) {
        out.send(envelope.apply(r).setLearnedRequest(l).build());
      }
      learnedSent = committedThrough;
    }
  }

  /** A replica's answer to a write of this writer's ballot. */
  void onWrite(long from, WriteResponse resp, Effects out) {
    if (stage == Stage.SUPERSEDED) {
      return;
    }
    if (!resp.getOk()) {
      if (Ballots.greater(resp.getPromised(), ballot)) {
        stage = Stage.SUPERSEDED;
        inFlight.clear();
        unsent.clear();
        batchEnds.clear();
        out.event(new Event.Superseded(resp.getPromised(), committedThrough));
      }
      return;
    }
    for (long p : resp.getPositionsList()) {
      InFlight f = inFlight.get(p);
      if (f != null) {
        f.acks.set((int) from);
      }
    }
    advance(out);
  }

  private void advance(Effects out) {
    while (!inFlight.isEmpty()) {
      Map.Entry<Long, InFlight> first = inFlight.firstEntry();
      if (first.getKey() != committedThrough + 1
          || !quorum.reachedBy(first.getValue().acks.cardinality())) {
        break;
      }
      inFlight.pollFirstEntry();
      committedThrough++;
      if (first.getValue().client) {
        out.event(new Event.Committed(first.getKey()));
      }
    }
    while (!batchEnds.isEmpty() && batchEnds.peekFirst() <= committedThrough) {
      batchEnds.pollFirst();
    }
    if (stage == Stage.FILLING && committedThrough >= fillEnd) {
      stage = Stage.WRITING;
      out.event(new Event.Elected(ballot, fillEnd));
    }
  }

  /**
   * Resends what was sent and has waited a retry period, to the replicas that have not accepted it,
   * in writes no larger than a batch.
   */
  private void resendStale(Effects out) {
    Map<Integer, List<Action>> perReplica = new HashMap<>();
    for (InFlight f : inFlight.values()) {
      if (!f.sent || ++f.age < config.retryTicks()) {
        continue;
      }
      f.age = 0;
      for (int r = 0; r < quorum.replicas(); r++) {
        if (!f.acks.get(r)) {
          perReplica.computeIfAbsent(r, k -> new ArrayList<>()).add(f.action);
        }
      }
    }
    perReplica.forEach(
        (r, actions) -> {
          for (List<Action> batch : PayloadBudget.pack(actions, config.maxBatchBytes())) {
            out.send(envelope.apply(r).setWriteRequest(write().addAllActions(batch)).build());
          }
        });
  }

  private WriteRequest.Builder write() {
    return WriteRequest.newBuilder().setBallot(ballot).setCommittedThrough(committedThrough);
  }
}
