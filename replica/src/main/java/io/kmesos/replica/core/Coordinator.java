package io.kmesos.replica.core;

import com.google.protobuf.ByteString;
import io.kmesos.api.log.v1.Action;
import io.kmesos.api.log.v1.ActionType;
import io.kmesos.api.log.v1.Ballot;
import io.kmesos.api.log.v1.Envelope;
import io.kmesos.api.log.v1.FetchRequest;
import io.kmesos.api.log.v1.FetchResponse;
import io.kmesos.api.log.v1.LearnedRequest;
import io.kmesos.api.log.v1.PromiseRequest;
import io.kmesos.api.log.v1.PromiseResponse;
import io.kmesos.api.log.v1.WriteRequest;
import io.kmesos.api.log.v1.WriteResponse;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The writer's side of the protocol (Mesos {@code src/log/coordinator.cpp}): election, hole
 * filling, then pipelined appends.
 *
 * <p>Guarantees:
 * <ul>
 *   <li>Election: a quorum of voting replicas promises a ballot higher than any they promised
 *       before, for every position at once. Before the first append, every position up to the
 *       highest one any of them holds is decided again under the new ballot: the value of the
 *       highest ballot that quorum accepted (or learned) there, else a NOP. So nothing a previous
 *       writer got committed is lost, and the log has no holes below the new writer's appends.
 *   <li>An append is reported committed only once a quorum accepted it under this writer's
 *       ballot, and in position order: committed through p means every position up to p is chosen.
 *   <li>Once any replica reports a higher promise, the writer is superseded for good: it fails
 *       everything in flight and accepts nothing more. It can never again get anything committed,
 *       since a quorum has promised the higher ballot; this fencing, not any lease, is what keeps
 *       two writers from forking the log.
 *   <li>Appends in flight are bounded ({@link Config#maxInFlight()}).
 * </ul>
 */
public final class Coordinator {
  /**
   * Tunables; times in ticks of the shell's timer.
   *
   * @param maxInFlight positions proposed and not yet committed
   * @param maxBatchesInFlight write batches sent and not yet committed. Appends proposed while this
   *     many are on their way wait and leave together in the next batch: fewer, larger batches mean
   *     fewer round trips and fsyncs for the same appends, at the cost of waiting for at most one
   *     batch to commit.
   * @param maxBatchBytes payload bytes in one write batch (a larger single action goes alone), so
   *     that a backlog never becomes one message larger than a replica accepts
   */
  public record Config(int retryTicks, int electionTimeoutTicks, int maxInFlight, int maxBatchesInFlight,
      int maxBatchBytes) {
    public static final Config DEFAULT = new Config(20, 200, 100_000, 4, 1 << 20);

    public Config {
      if (maxInFlight < 1 || maxBatchesInFlight < 1 || maxBatchBytes < 1) {
        throw new IllegalArgumentException("maxInFlight, maxBatchesInFlight and maxBatchBytes must be positive");
      }
    }
  }

  public enum Status { IDLE, ELECTING, FETCHING, FILLING, WRITING, SUPERSEDED }

  /** The election succeeded; appends start after {@code ending}. */
  public record Elected(Ballot ballot, long ending) {}

  /** The election failed; the writer is IDLE again and may retry (with back-off). */
  public record ElectionFailed(String reason, Ballot promised) {}

  /** Every position up to {@code through} is committed; {@code position} is a client's. */
  public record Committed(long position) {}

  /** Another writer's higher ballot was promised: everything in flight failed, nothing more is accepted. */
  public record Superseded(Ballot promised, long committedThrough) {}

  private static final class InFlight {
    final Action action;
    final BitSet acks = new BitSet();
    final boolean client;
    /** Sent at least once: only then can it be stale (an unsent one waits for a free batch slot). */
    boolean sent;
    int age;

    InFlight(Action action, boolean client) {
      this.action = action;
      this.client = client;
    }
  }

  private static final int FETCH_BATCH = 1000;

  private final long nodeId;
  private final long proposerId;
  private long fetchSeq;
  private final Quorum quorum;
  private final Config config;

  private Status status = Status.IDLE;
  private Ballot ballot = Ballots.NONE;
  private long roundSeen;
  private final Map<Long, PromiseResponse> promises = new HashMap<>();
  private int electionAge;
  private int promiseAge;

  // Between promises and fill: values learned by the most advanced promiser that others may lack.
  private long fetchSource;
  private long fetchCursor;
  private long fetchTarget;
  private long fetchNonce;
  private int fetchAge;
  private final TreeMap<Long, Action> fetched = new TreeMap<>();
  private long truncatedTo;
  /** From the promises: positions above this are decided again; the highest position any holds. */
  private long decideFrom;
  private long promisedEnd;
  private int learnedAge;
  private boolean flushedSinceTick;

  private final TreeMap<Long, InFlight> inFlight = new TreeMap<>();
  private final ArrayDeque<Action> unsent = new ArrayDeque<>();
  /** The last position of every batch sent and not yet committed, oldest first. */
  private final ArrayDeque<Long> batchEnds = new ArrayDeque<>();
  private long committedThrough;
  private long fillEnd;
  private long nextPosition;
  private long learnedSent;

  /**
   * @param nodeId this writer's address on the log's network
   * @param proposerId distinguishes this writer's ballots from every other writer's
   */
  public Coordinator(long nodeId, long proposerId, int replicas, Config config) {
    this.nodeId = nodeId;
    this.proposerId = proposerId;
    this.quorum = new Quorum(replicas);
    this.config = config;
  }

  // ---- client calls -------------------------------------------------------------------------

  /** Starts an election with a ballot above every one this writer has seen. */
  public Effects elect() {
    if (status != Status.IDLE) {
      throw new IllegalStateException("cannot elect while " + status);
    }
    ballot = Ballots.of(roundSeen + 1, proposerId);
    roundSeen = ballot.getRound();
    status = Status.ELECTING;
    promises.clear();
    electionAge = 0;
    promiseAge = 0;
    Effects out = new Effects();
    sendPromises(out);
    return out;
  }

  /** Reserves the next position for {@code payload}; returns it, or -1 when too much is in flight. */
  public long append(ByteString payload) {
    return propose(Action.newBuilder().setType(ActionType.APPEND).setPayload(payload));
  }

  /** Appends a TRUNCATE: once it is learned, positions below {@code to} may be deleted everywhere. */
  public long truncate(long to) {
    if (to > nextPosition) {
      throw new IllegalArgumentException("cannot truncate to " + to + ": the log ends at " + (nextPosition - 1));
    }
    return propose(Action.newBuilder().setType(ActionType.TRUNCATE).setTruncateTo(to));
  }

  private long propose(Action.Builder action) {
    if (status != Status.WRITING) {
      throw new IllegalStateException(status == Status.SUPERSEDED
          ? "superseded: another writer was elected" : "not elected (" + status + ")");
    }
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
  public Effects flush() {
    Effects out = new Effects();
    while (!unsent.isEmpty() && batchEnds.size() < config.maxBatchesInFlight()) {
      WriteRequest.Builder w = WriteRequest.newBuilder().setBallot(ballot).setCommittedThrough(committedThrough);
      long bytes = 0;
      do {
        Action a = unsent.poll();
        bytes += a.getPayload().size();
        w.addActions(a);
        inFlight.get(a.getPosition()).sent = true;
      } while (!unsent.isEmpty() && bytes + unsent.peek().getPayload().size() <= config.maxBatchBytes());
      WriteRequest batch = w.build();
      for (int r = 0; r < quorum.replicas(); r++) {
        out.send(envelope(r).setWriteRequest(batch).build());
      }
      batchEnds.add(batch.getActions(batch.getActionsCount() - 1).getPosition());
      learnedSent = committedThrough;
      flushedSinceTick = true;
    }
    return out;
  }

  // ---- messages and time --------------------------------------------------------------------

  public Effects handle(Envelope in) {
    Effects out = new Effects();
    switch (in.getBodyCase()) {
      case PROMISE_RESPONSE -> onPromise(in.getFrom(), in.getPromiseResponse(), out);
      case FETCH_RESPONSE -> onFetch(in.getFrom(), in.getFetchResponse(), out);
      case WRITE_RESPONSE -> onWrite(in.getFrom(), in.getWriteResponse(), out);
      default -> { }
    }
    return out;
  }

  public Effects tick() {
    Effects out = new Effects();
    switch (status) {
      case ELECTING, FETCHING -> {
        if (++electionAge > config.electionTimeoutTicks()) {
          status = Status.IDLE;
          out.event(new ElectionFailed("no quorum of voting replicas answered in time", Ballots.NONE));
        } else if (status == Status.ELECTING && ++promiseAge >= config.retryTicks()) {
          promiseAge = 0;
          sendPromises(out);
        } else if (status == Status.FETCHING && ++fetchAge >= config.retryTicks()) {
          nextSource();
          fetchNext(out);
        }
      }
      case FILLING, WRITING -> {
        boolean busy = !unsent.isEmpty() || flushedSinceTick;
        flushedSinceTick = false;
        out.addAll(flush());
        resendStale(out);
        // Writes carry committed_through; when none went out since the last tick, say it on its own,
        // and again now and then: a replica that lost the news (a dropped message, a wiped disk that
        // recovered our values) learns it from this.
        if ((!busy && committedThrough > learnedSent) || (++learnedAge >= config.retryTicks() * 4 && committedThrough > 0)) {
          learnedAge = 0;
          LearnedRequest l = LearnedRequest.newBuilder().setBallot(ballot).setCommittedThrough(committedThrough).build();
          for (int r = 0; r < quorum.replicas(); r++) {
            out.send(envelope(r).setLearnedRequest(l).build());
          }
          learnedSent = committedThrough;
        }
      }
      default -> { }
    }
    return out;
  }

  private void sendPromises(Effects out) {
    PromiseRequest req = PromiseRequest.newBuilder().setBallot(ballot).build();
    for (int r = 0; r < quorum.replicas(); r++) {
      if (!promises.containsKey((long) r)) {
        out.send(envelope(r).setPromiseRequest(req).build());
      }
    }
  }

  private void onPromise(long from, PromiseResponse resp, Effects out) {
    roundSeen = Math.max(roundSeen, resp.getPromised().getRound());
    if (status != Status.ELECTING || !resp.getBallot().equals(ballot)) {
      return;
    }
    if (!resp.getOk()) {
      if (Ballots.greater(resp.getPromised(), ballot)) {
        status = Status.IDLE;
        out.event(new ElectionFailed("a replica promised a higher ballot", resp.getPromised()));
      }
      return; // a replica that does not vote (yet) just does not count
    }
    promises.put(from, resp);
    if (quorum.reachedBy(promises.size())) {
      onQuorum(out);
    }
  }

  /**
   * A quorum promised. Every position above the lowest learned point among them is decided again
   * under this writer's ballot, so that what is committed never rests on one replica's memory of
   * having learned it. Positions the most advanced promiser learned are copied from it first;
   * above its learned point every promiser reported what it holds.
   */
  private void onQuorum(Effects out) {
    long lowest = Long.MAX_VALUE;
    long highest = 0;
    long begin = 1;
    promisedEnd = 0;
    for (Map.Entry<Long, PromiseResponse> e : promises.entrySet()) {
      PromiseResponse p = e.getValue();
      lowest = Math.min(lowest, p.getLearnedThrough());
      begin = Math.max(begin, p.getBegin());
      promisedEnd = Math.max(promisedEnd, p.getEnd());
      if (p.getLearnedThrough() >= highest) {
        highest = p.getLearnedThrough();
        fetchSource = e.getKey();
      }
    }
    fetched.clear();
    truncatedTo = begin;
    decideFrom = Math.max(lowest, begin - 1);
    fetchCursor = decideFrom + 1;
    fetchTarget = highest;
    if (fetchCursor > fetchTarget) {
      fill(out);
    } else {
      status = Status.FETCHING;
      fetchNext(out);
    }
  }

  /** Moves the fetch to another promiser that had learned at least up to the cursor. */
  private void nextSource() {
    List<Long> sources = new ArrayList<>();
    for (Map.Entry<Long, PromiseResponse> e : promises.entrySet()) {
      if (e.getValue().getLearnedThrough() >= fetchCursor) {
        sources.add(e.getKey());
      }
    }
    java.util.Collections.sort(sources);
    int i = sources.indexOf(fetchSource);
    fetchSource = sources.get((i + 1) % sources.size());
  }

  private void fetchNext(Effects out) {
    fetchAge = 0;
    fetchNonce = proposerId + (++fetchSeq);
    out.send(envelope(fetchSource).setFetchRequest(FetchRequest.newBuilder().setNonce(fetchNonce)
        .setFrom(fetchCursor).setTo(Math.min(fetchTarget, fetchCursor + FETCH_BATCH - 1))
        .setLearnedOnly(true).setMaxActions(FETCH_BATCH)).build());
  }

  private void onFetch(long from, FetchResponse resp, Effects out) {
    if (status != Status.FETCHING || from != fetchSource || resp.getNonce() != fetchNonce) {
      return;
    }
    if (!resp.getOk() || Math.max(resp.getLearnedThrough(), resp.getBegin() - 1) < fetchCursor) {
      nextSource(); // it stopped voting or knows less than it did: ask another that promised
      return;
    }
    for (Action a : resp.getActionsList()) {
      fetched.put(a.getPosition(), a);
    }
    truncatedTo = Math.max(truncatedTo, resp.getBegin());
    // The replica may answer with less than asked (its own batch limit): go on after what came.
    long covered = Math.min(resp.getLearnedThrough(), resp.getActionsCount() > 0
        ? resp.getActions(resp.getActionsCount() - 1).getPosition() : resp.getTo());
    fetchCursor = Math.max(covered, truncatedTo - 1) + 1;
    if (fetchCursor > fetchTarget) {
      fill(out);
    } else {
      fetchNext(out);
    }
  }

  private void fill(Effects out) {
    // Below a begin that any replica reported, a learned TRUNCATE made everything garbage.
    long start = Math.max(decideFrom, truncatedTo - 1);
    long end = promisedEnd;
    TreeMap<Long, Action> best = new TreeMap<>(fetched);
    for (PromiseResponse p : promises.values()) {
      for (Action a : p.getTailList()) {
        if (a.getPosition() > start) {
          best.merge(a.getPosition(), a, Recovery::better);
        }
      }
    }
    fetched.clear();
    promises.clear(); // their tails can be large; the election is decided
    committedThrough = start;
    learnedSent = start;
    nextPosition = Math.max(end, start) + 1;
    fillEnd = nextPosition - 1;
    for (long pos = start + 1; pos <= fillEnd; pos++) {
      Action seen = best.get(pos);
      Action.Builder fill = Action.newBuilder().setPosition(pos).setBallot(ballot);
      if (seen == null) {
        fill.setType(ActionType.NOP);
      } else {
        fill.setType(seen.getType()).setPayload(seen.getPayload()).setTruncateTo(seen.getTruncateTo());
      }
      Action a = fill.build();
      inFlight.put(pos, new InFlight(a, false));
      unsent.add(a);
    }
    status = Status.FILLING;
    advance(out);
    out.addAll(flush());
  }

  private void onWrite(long from, WriteResponse resp, Effects out) {
    roundSeen = Math.max(roundSeen, resp.getPromised().getRound());
    if (!resp.getBallot().equals(ballot) || (status != Status.FILLING && status != Status.WRITING)) {
      return;
    }
    if (!resp.getOk()) {
      if (Ballots.greater(resp.getPromised(), ballot)) {
        status = Status.SUPERSEDED;
        inFlight.clear();
        unsent.clear();
        batchEnds.clear();
        out.event(new Superseded(resp.getPromised(), committedThrough));
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
      if (first.getKey() != committedThrough + 1 || !quorum.reachedBy(first.getValue().acks.cardinality())) {
        break;
      }
      inFlight.pollFirstEntry();
      committedThrough++;
      if (first.getValue().client) {
        out.event(new Committed(first.getKey()));
      }
    }
    while (!batchEnds.isEmpty() && batchEnds.peekFirst() <= committedThrough) {
      batchEnds.pollFirst();
    }
    if (status == Status.FILLING && committedThrough >= fillEnd) {
      status = Status.WRITING;
      out.event(new Elected(ballot, fillEnd));
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
    perReplica.forEach((r, actions) -> {
      WriteRequest.Builder w = null;
      long bytes = 0;
      for (Action a : actions) {
        if (w != null && bytes + a.getPayload().size() > config.maxBatchBytes()) {
          out.send(envelope(r).setWriteRequest(w).build());
          w = null;
        }
        if (w == null) {
          w = WriteRequest.newBuilder().setBallot(ballot).setCommittedThrough(committedThrough);
          bytes = 0;
        }
        w.addActions(a);
        bytes += a.getPayload().size();
      }
      out.send(envelope(r).setWriteRequest(w).build());
    });
  }

  private Envelope.Builder envelope(long to) {
    return Envelope.newBuilder().setFrom(nodeId).setTo(to);
  }

  // ---- observers ----------------------------------------------------------------------------

  public Status status() {
    return status;
  }

  public Ballot ballot() {
    return ballot;
  }

  public long committedThrough() {
    return committedThrough;
  }

  public int inFlight() {
    return inFlight.size();
  }
}
