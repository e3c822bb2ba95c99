package io.kmesos.replica.core;

import io.kmesos.api.log.v1.Action;
import io.kmesos.api.log.v1.ActionType;
import io.kmesos.api.log.v1.Ballot;
import io.kmesos.api.log.v1.Envelope;
import io.kmesos.api.log.v1.FetchRequest;
import io.kmesos.api.log.v1.FetchResponse;
import io.kmesos.api.log.v1.InitializeRequest;
import io.kmesos.api.log.v1.InitializeResponse;
import io.kmesos.api.log.v1.LearnedRequest;
import io.kmesos.api.log.v1.Metadata;
import io.kmesos.api.log.v1.PromiseRequest;
import io.kmesos.api.log.v1.PromiseResponse;
import io.kmesos.api.log.v1.ReplicaStatus;
import io.kmesos.api.log.v1.StatusResponse;
import io.kmesos.api.log.v1.WriteRequest;
import io.kmesos.api.log.v1.WriteResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One replica of the log: a Paxos acceptor and learner (Mesos {@code src/log/replica.cpp}).
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>It promises and accepts only while VOTING, and each promise or acceptance is persisted and
 *       synced before the reply that reports it leaves (the reply follows the write in {@link
 *       Effects}).
 *   <li>It never accepts anything under a ballot lower than one it promised; a promise covers every
 *       position, present and future (the "implicit promise" of a writer election).
 *   <li>A learned action is never changed or replaced; learning is idempotent.
 *   <li>It serves only its own log: its metadata names the log (cluster ID) and its replica ID, and
 *       a storage that names another replica is refused at start.
 * </ul>
 *
 * Filling its own holes while VOTING is {@link CatchUp}; rebuilding lost data before voting again
 * is {@link Recovery}.
 */
public final class ReplicaCore {
  /**
   * Tunables, in ticks of the shell's timer: the shell makes them from its own settings, whose
   * times are {@code Duration}s (see {@code ReplicaServer.Config#core()}), so the core never sees a
   * clock.
   *
   * @param catchUpIntervalTicks how often a voting replica asks its peers whether it missed
   *     anything, and an empty one looks for a running log
   * @param recoveryGraceTicks how long a replica that lost its data waits before it trusts answers:
   *     longer than any request may live (see {@link Recovery})
   * @param retryTicks how long an unanswered question waits before it is asked again
   * @param fetchBatch the most actions one fetch asks for or answers with
   * @param fetchBytes the most payload bytes one fetch answer carries (beyond its first action): an
   *     answer that stops early says how far it covers in its {@code to}
   */
  public record Config(
      int catchUpIntervalTicks,
      int recoveryGraceTicks,
      int retryTicks,
      int fetchBatch,
      long fetchBytes) {
    public Config {
      positive("catchUpIntervalTicks", catchUpIntervalTicks);
      positive("recoveryGraceTicks", recoveryGraceTicks);
      positive("retryTicks", retryTicks);
      positive("fetchBatch", fetchBatch);
      positive("fetchBytes", fetchBytes);
    }
  }

  static void positive(String setting, long value) {
    if (value < 1) {
      throw new IllegalArgumentException(setting + " must be positive, got " + value);
    }
  }

  private final int id;
  private final Quorum quorum;
  private final ReplicaStorage storage;
  private final Config config;

  /**
   * Differs between two runs of this replica, so that answers meant for an earlier run are ignored.
   */
  private final long incarnation;

  private long nonces;

  private Metadata metadata;

  /** Every position in [begin, learnedThrough] is learned here. */
  private long learnedThrough;

  private long end;

  /** Every action held above learnedThrough (learned ones sit beyond a hole), payloads included. */
  private final TreeMap<Long, Action> tail = new TreeMap<>();

  private final CatchUp catchUp;
  private Recovery recovery;

  /**
   * @param incarnation a value that differs between two runs of this replica (random, or a clock):
   *     questions this run asks carry it, and answers to an earlier run's questions are ignored
   */
  public ReplicaCore(
      int id, int replicas, ReplicaStorage storage, Config config, long incarnation) {
    this.id = id;
    this.incarnation = incarnation;
    this.quorum = new Quorum(replicas);
    this.storage = storage;
    this.config = config;
    Metadata stored = storage.metadata();
    if (stored != null && stored.getReplicaId() != id) {
      throw new IllegalStateException(
          "this storage belongs to replica "
              + stored.getReplicaId()
              + " of log "
              + stored.getClusterId()
              + ", not to replica "
              + id
              + "; refusing to use it");
    }
    this.metadata =
        stored != null
            ? stored
            : Metadata.newBuilder()
                .setReplicaId(id)
                .setStatus(ReplicaStatus.EMPTY)
                .setBegin(1)
                .build();
    loadTail();
    this.catchUp = new CatchUp(this);
    if (metadata.getStatus() != ReplicaStatus.VOTING) {
      this.recovery = new Recovery(this);
    }
  }

  // ---- inputs -------------------------------------------------------------------------------

  /** Handles one message addressed to this replica. */
  public Effects handle(Envelope in) {
    Effects out = new Effects();
    ReplicaStatus statusBefore = metadata.getStatus();
    long beginBefore = metadata.getBegin();
    dispatch(in, out);
    reportTransitions(statusBefore, beginBefore, out);
    return out;
  }

  private void dispatch(Envelope in, Effects out) {
    switch (in.getBodyCase()) {
      case PROMISE_REQUEST -> onPromise(in.getFrom(), in.getPromiseRequest(), out);
      case WRITE_REQUEST -> onWrite(in.getFrom(), in.getWriteRequest(), out);
      case LEARNED_REQUEST -> onLearned(in.getLearnedRequest(), out);
      case STATUS_REQUEST ->
          out.send(
              envelope(in.getFrom())
                  .setStatusResponse(
                      status().toBuilder().setNonce(in.getStatusRequest().getNonce()))
                  .build());
      case FETCH_REQUEST -> onFetch(in.getFrom(), in.getFetchRequest(), out);
      case INITIALIZE_REQUEST -> onInitialize(in.getFrom(), in.getInitializeRequest(), out);
      case STATUS_RESPONSE -> {
        if (recovery != null) {
          recovery.onStatus(in.getFrom(), in.getStatusResponse(), out);
        } else {
          catchUp.onStatus(in.getFrom(), in.getStatusResponse(), out);
        }
      }
      case FETCH_RESPONSE -> {
        if (recovery != null) {
          recovery.onFetch(in.getFrom(), in.getFetchResponse(), out);
        } else {
          catchUp.onFetch(in.getFrom(), in.getFetchResponse(), out);
        }
      }
      default -> {} // responses meant for writers, or nothing we know: ignore
    }
  }

  /**
   * Reports what this step changed that an operator wants to see: a new status, or (while voting) a
   * beginning moved by a learned TRUNCATE. Recovery moves the beginning too, as part of copying a
   * quorum's log; that is reported once, with the status that ends it.
   */
  private void reportTransitions(ReplicaStatus statusBefore, long beginBefore, Effects out) {
    ReplicaStatus status = metadata.getStatus();
    if (status != statusBefore) {
      out.event(
          new Event.StatusChanged(statusBefore, status, metadata.getClusterId(), learnedThrough));
    } else if (status == ReplicaStatus.VOTING && metadata.getBegin() > beginBefore) {
      out.event(new Event.Truncated(beginBefore, metadata.getBegin()));
    }
  }

  /**
   * Whether handling this input reads the storage. A shell may defer the writes of several inputs
   * and make them in one synced batch (group commit), but before an input that reads the storage it
   * must write what it deferred: a fetch answers from the stored actions, and an answer that missed
   * a value accepted or learned a moment earlier in the same batch would report an old value as
   * learned, or a hole where a value was chosen.
   */
  public static boolean readsStorage(Envelope in) {
    return in.getBodyCase() == Envelope.BodyCase.FETCH_REQUEST;
  }

  /** Advances this replica's timers by one tick. */
  public Effects tick() {
    Effects out = new Effects();
    ReplicaStatus statusBefore = metadata.getStatus();
    long beginBefore = metadata.getBegin();
    if (recovery != null) {
      recovery.tick(out);
    } else {
      catchUp.tick(out);
    }
    reportTransitions(statusBefore, beginBefore, out);
    return out;
  }

  // ---- the acceptor -------------------------------------------------------------------------

  private void onPromise(long from, PromiseRequest req, Effects out) {
    PromiseResponse.Builder resp =
        PromiseResponse.newBuilder()
            .setBallot(req.getBallot())
            .setStatus(metadata.getStatus())
            .setPromised(metadata.getPromised());
    if (metadata.getStatus() != ReplicaStatus.VOTING) {
      out.send(envelope(from).setPromiseResponse(resp.setOk(false)).build());
      return;
    }
    if (!Ballots.atLeast(req.getBallot(), metadata.getPromised())) {
      out.send(envelope(from).setPromiseResponse(resp.setOk(false)).build());
      return;
    }
    if (Ballots.greater(req.getBallot(), metadata.getPromised())) {
      metadata = metadata.toBuilder().setPromised(req.getBallot()).build();
      out.persist(Effects.Persist.metadata(metadata));
    }
    resp.setOk(true)
        .setPromised(metadata.getPromised())
        .setBegin(metadata.getBegin())
        .setLearnedThrough(learnedThrough)
        .setEnd(end);
    // Everything above learned_through, payloads included: the new writer re-proposes these values.
    resp.addAllTail(tail.values());
    out.send(envelope(from).setPromiseResponse(resp).build());
  }

  private void onWrite(long from, WriteRequest req, Effects out) {
    WriteResponse.Builder resp =
        WriteResponse.newBuilder().setBallot(req.getBallot()).setStatus(metadata.getStatus());
    if (metadata.getStatus() != ReplicaStatus.VOTING
        || !Ballots.atLeast(req.getBallot(), metadata.getPromised())) {
      out.send(
          envelope(from)
              .setWriteResponse(resp.setOk(false).setPromised(metadata.getPromised()))
              .build());
      return;
    }
    Metadata newMetadata = null;
    if (Ballots.greater(req.getBallot(), metadata.getPromised())) {
      // Accepting under a ballot promises it too: nothing lower may be accepted after this.
      metadata = metadata.toBuilder().setPromised(req.getBallot()).build();
      newMetadata = metadata;
    }
    List<Action> stored = new ArrayList<>();
    for (Action a : req.getActionsList()) {
      long p = a.getPosition();
      resp.addPositions(p);
      if (p < metadata.getBegin() || p <= learnedThrough) {
        continue; // truncated or learned: chosen already, and so equal to what is proposed
      }
      Action held = tail.get(p);
      if (held != null && held.getLearned()) {
        continue;
      }
      Action accepted = a.toBuilder().setBallot(req.getBallot()).setLearned(false).build();
      tail.put(p, accepted);
      end = Math.max(end, p);
      stored.add(accepted);
    }
    List<Action> learned = learn(req.getBallot(), req.getCommittedThrough());
    Metadata afterTruncate = applyLearnedTruncates(learned);
    stored.addAll(beyondLearnedPoint(learned));
    Metadata m = metadataToPersist(newMetadata != null || afterTruncate != null);
    if (m != null || !stored.isEmpty()) {
      out.persist(Effects.Persist.actions(m, dedupe(stored), truncatedBelow(afterTruncate)));
    }
    out.send(
        envelope(from)
            .setWriteResponse(resp.setOk(true).setPromised(metadata.getPromised()))
            .build());
  }

  private void onLearned(LearnedRequest req, Effects out) {
    if (metadata.getStatus() != ReplicaStatus.VOTING) {
      return;
    }
    List<Action> learned = learn(req.getBallot(), req.getCommittedThrough());
    Metadata afterTruncate = applyLearnedTruncates(learned);
    List<Action> flagged = beyondLearnedPoint(learned);
    Metadata m = metadataToPersist(afterTruncate != null);
    if (m != null || !flagged.isEmpty()) {
      // Synced: once a writer moves on, a replica's record of what was chosen may be the only one.
      out.persist(Effects.Persist.actions(m, flagged, truncatedBelow(afterTruncate)));
    }
  }

  /** Marks every held position up to {@code through} accepted under {@code ballot} as learned. */
  private List<Action> learn(Ballot ballot, long through) {
    List<Action> learned = new ArrayList<>();
    if (through <= learnedThrough) {
      return learned;
    }
    for (Map.Entry<Long, Action> e : tail.headMap(through, true).entrySet()) {
      Action a = e.getValue();
      if (!a.getLearned() && a.getBallot().equals(ballot)) {
        Action l = a.toBuilder().setLearned(true).build();
        e.setValue(l);
        learned.add(l);
      }
    }
    advanceLearnedThrough();
    return learned;
  }

  /**
   * Of actions just learned, those that still need their own learned flag written: the ones beyond
   * a hole. Everything up to the learned point is covered by the metadata's learned_through.
   */
  private List<Action> beyondLearnedPoint(List<Action> learned) {
    List<Action> out = new ArrayList<>();
    for (Action a : learned) {
      if (a.getPosition() > learnedThrough) {
        out.add(a);
      }
    }
    return out;
  }

  /**
   * The metadata to persist with this step's writes: the current one, stamped with the learned
   * point, when it changed ({@code changed}) or the learned point moved; null otherwise.
   */
  Metadata metadataToPersist(boolean changed) {
    if (!changed && learnedThrough == metadata.getLearnedThrough()) {
      return null;
    }
    metadata = metadata.toBuilder().setLearnedThrough(learnedThrough).build();
    return metadata;
  }

  /** Stores actions known to be learned (from catch-up); returns what changed. */
  List<Action> storeLearned(List<Action> actions) {
    List<Action> stored = new ArrayList<>();
    for (Action a : actions) {
      long p = a.getPosition();
      if (!a.getLearned() || p < metadata.getBegin() || p <= learnedThrough) {
        continue;
      }
      Action held = tail.get(p);
      if (held != null && held.getLearned()) {
        continue;
      }
      tail.put(p, a);
      end = Math.max(end, p);
      stored.add(a);
    }
    advanceLearnedThrough();
    return stored;
  }

  private void advanceLearnedThrough() {
    while (true) {
      Map.Entry<Long, Action> first = tail.firstEntry();
      if (first == null || first.getKey() != learnedThrough + 1 || !first.getValue().getLearned()) {
        return;
      }
      tail.pollFirstEntry();
      learnedThrough++;
    }
  }

  /**
   * A learned TRUNCATE(to) makes every position below {@code to} garbage: begin moves up, holes
   * below it stop mattering. Returns the new metadata, or null when nothing moved.
   */
  Metadata applyLearnedTruncates(List<Action> actions) {
    long to = metadata.getBegin();
    for (Action a : actions) {
      if (a.getLearned() && a.getType() == ActionType.TRUNCATE) {
        to = Math.max(to, a.getTruncateTo());
      }
    }
    return moveBegin(to);
  }

  Metadata moveBegin(long to) {
    if (to <= metadata.getBegin()) {
      return null;
    }
    metadata = metadata.toBuilder().setBegin(to).build();
    tail.headMap(to, false).clear();
    learnedThrough = Math.max(learnedThrough, to - 1);
    advanceLearnedThrough();
    return metadata;
  }

  private static long truncatedBelow(Metadata afterTruncate) {
    return afterTruncate == null ? 0 : afterTruncate.getBegin();
  }

  private static List<Action> dedupe(List<Action> actions) {
    TreeMap<Long, Action> last = new TreeMap<>();
    for (Action a : actions) {
      last.put(a.getPosition(), a);
    }
    return new ArrayList<>(last.values());
  }

  // ---- serving reads ------------------------------------------------------------------------

  private void onFetch(long from, FetchRequest req, Effects out) {
    FetchResponse.Builder resp =
        FetchResponse.newBuilder()
            .setFrom(req.getFrom())
            .setTo(req.getTo())
            .setNonce(req.getNonce())
            .setStatus(metadata.getStatus())
            .setBegin(metadata.getBegin())
            .setLearnedThrough(learnedThrough);
    // Only a voting replica answers: an empty or recovering one would answer "nothing there" for
    // positions it simply does not have yet.
    if (metadata.getStatus() != ReplicaStatus.VOTING) {
      out.send(envelope(from).setFetchResponse(resp.setOk(false)).build());
      return;
    }
    int limit =
        req.getMaxActions() > 0
            ? Math.min(req.getMaxActions(), config.fetchBatch())
            : config.fetchBatch();
    long lo = Math.max(req.getFrom(), metadata.getBegin());
    List<Action> found = storage.range(lo, req.getTo(), limit, config.fetchBytes());
    long last = found.isEmpty() ? 0 : found.get(found.size() - 1).getPosition();
    if (last > 0 && last < req.getTo() && !storage.range(last + 1, req.getTo(), 1).isEmpty()) {
      // Stopped early (count or bytes): the answer covers only up to its last action.
      resp.setTo(last);
    }
    for (Action a : found) {
      if (!req.getLearnedOnly() || a.getLearned() || a.getPosition() <= learnedThrough) {
        resp.addActions(
            a.getPosition() <= learnedThrough ? a.toBuilder().setLearned(true).build() : a);
      }
    }
    out.send(envelope(from).setFetchResponse(resp.setOk(true)).build());
  }

  private void onInitialize(long from, InitializeRequest req, Effects out) {
    InitializeResponse.Builder resp = InitializeResponse.newBuilder();
    if (req.getClusterId().isEmpty()) {
      out.send(
          envelope(from)
              .setInitializeResponse(
                  resp.setOk(false)
                      .setStatus(metadata.getStatus())
                      .setClusterId(metadata.getClusterId()))
              .build());
      return;
    }
    if (metadata.getStatus() == ReplicaStatus.EMPTY && recovery != null && !recovery.started()) {
      // The promise the initializer found among the voting replicas (see LogUse): a writer it
      // fences stays fenced here, whatever this replica promised before it lost its data.
      metadata =
          metadata.toBuilder()
              .setClusterId(req.getClusterId())
              .setStatus(ReplicaStatus.VOTING)
              .setPromised(Ballots.max(metadata.getPromised(), req.getPromised()))
              .build();
      recovery = null;
      out.persist(Effects.Persist.metadata(metadata));
    }
    boolean ok =
        metadata.getStatus() == ReplicaStatus.VOTING
            && metadata.getClusterId().equals(req.getClusterId());
    out.send(
        envelope(from)
            .setInitializeResponse(
                resp.setOk(ok)
                    .setStatus(metadata.getStatus())
                    .setClusterId(metadata.getClusterId()))
            .build());
  }

  // ---- used by CatchUp and Recovery ---------------------------------------------------------

  /** This replica's state, as it answers a status request (tools and tests read it too). */
  public StatusResponse status() {
    return StatusResponse.newBuilder()
        .setClusterId(metadata.getClusterId())
        .setReplicaId(id)
        .setStatus(metadata.getStatus())
        .setPromised(metadata.getPromised())
        .setBegin(metadata.getBegin())
        .setLearnedThrough(learnedThrough)
        .setEnd(end)
        .build();
  }

  /** Whether {@code nonce} is one this run of the replica asked with ({@link #nextNonce}). */
  boolean askedThisRun(long nonce) {
    long n = nonce - incarnation;
    return n > 0 && n <= nonces;
  }

  /** A nonce no earlier question of this replica (in this run or an earlier one) carried. */
  long nextNonce() {
    return incarnation + (++nonces);
  }

  Envelope.Builder envelope(long to) {
    return Envelope.newBuilder().setFrom(id).setTo(to);
  }

  /**
   * Recovery is done: the copied state is in place (see {@link #adoptRecovered}); vote from now on.
   */
  void finishRecovery(Metadata recovered) {
    metadata = recovered;
    recovery = null;
  }

  /**
   * Takes a quorum's merged actions as this replica's own (recovery only); returns them for
   * persisting.
   */
  List<Action> adoptRecovered(List<Action> actions) {
    List<Action> adopted = new ArrayList<>();
    for (Action a : actions) {
      if (a.getPosition() < metadata.getBegin()) {
        continue;
      }
      tail.put(a.getPosition(), a);
      end = Math.max(end, a.getPosition());
      adopted.add(a);
    }
    advanceLearnedThrough();
    applyLearnedTruncates(
        actions); // the caller persists the begin with the recovery's final metadata
    return adopted;
  }

  /** Recovery starts over from nothing (its earlier partial copies are discarded). */
  void resetForRecovery(Metadata m) {
    metadata = m;
    tail.clear();
    learnedThrough = m.getBegin() - 1;
    end = 0;
  }

  /**
   * Rebuilds the in-memory view from storage. Every stored record is read (and so checked: a
   * corrupt one stops the replica here, naming its position); up to the metadata's learned point
   * actions count as learned whatever their own flag says.
   */
  private void loadTail() {
    tail.clear();
    long begin = metadata.getBegin();
    long watermark = metadata.getLearnedThrough();
    learnedThrough = begin - 1;
    end = storage.end();
    boolean contiguous = true;
    long next = begin;
    while (next <= end) {
      List<Action> chunk = storage.range(next, end, config.fetchBatch());
      if (chunk.isEmpty()) {
        break;
      }
      for (Action a : chunk) {
        boolean learned = a.getLearned() || a.getPosition() <= watermark;
        if (contiguous && a.getPosition() == learnedThrough + 1 && learned) {
          learnedThrough++;
        } else {
          contiguous = false;
          tail.put(
              a.getPosition(),
              learned && !a.getLearned() ? a.toBuilder().setLearned(true).build() : a);
        }
      }
      next = chunk.get(chunk.size() - 1).getPosition() + 1;
    }
    if (learnedThrough < Math.min(watermark, end)) {
      throw new IllegalStateException(
          "replica "
              + id
              + ": its metadata says positions up to "
              + watermark
              + " are learned, but position "
              + (learnedThrough + 1)
              + " is missing from its storage");
    }
    // A learned TRUNCATE is persisted together with the begin it moves; this only guards against
    // storage written by an older version that did not.
    applyLearnedTruncates(new ArrayList<>(tail.values()));
  }

  int id() {
    return id;
  }

  Quorum quorum() {
    return quorum;
  }

  Config config() {
    return config;
  }

  Metadata metadata() {
    return metadata;
  }

  long learnedThrough() {
    return learnedThrough;
  }

  long end() {
    return end;
  }

  // ---- observers (tools, tests) -------------------------------------------------------------

  public ReplicaStatus replicaStatus() {
    return metadata.getStatus();
  }
}
