package io.kmesos.replica.core;

import io.kmesos.api.log.v1.Action;
import io.kmesos.api.log.v1.Ballot;
import io.kmesos.api.log.v1.Envelope;
import io.kmesos.api.log.v1.FetchRequest;
import io.kmesos.api.log.v1.FetchResponse;
import io.kmesos.api.log.v1.PromiseRequest;
import io.kmesos.api.log.v1.PromiseResponse;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.LongFunction;
import java.util.function.LongSupplier;

/**
 * One attempt of a writer to be elected (Mesos {@code src/log/coordinator.cpp}, its election and
 * the reads before its fill), up to the point where it knows what to propose again.
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>It succeeds only once a quorum of voting replicas promised its ballot, for every position
 *       at once; a promise answer from an earlier ballot, or from a replica that does not vote,
 *       does not count.
 *   <li>Its {@link Decided outcome} names, for every position above the lowest learned point among
 *       that quorum (what was committed may rest on no more than that one promiser's memory), the
 *       value to decide again: the one a promiser learned, else the one of the highest ballot any
 *       promiser accepted there; a position none of them holds is left out (it becomes a NOP).
 *   <li>Learned values are copied from one promiser at a time, one bounded fetch outstanding; a
 *       promiser that stops answering or knows less than it did is replaced by another that had
 *       learned as far.
 *   <li>It fails when a replica reports a higher promise, or when no quorum settles it within the
 *       election timeout.
 * </ul>
 */
final class Election {
  /** Positions one fetch asks for. */
  private static final int FETCH_BATCH = 1000;

  /** Where an attempt stands after an input. */
  sealed interface Result permits Pending, Decided, Lost {}

  /** Still waiting for promises or fetched values. */
  record Pending() implements Result {}

  static final Pending PENDING = new Pending();

  /**
   * The attempt succeeded: every position in ({@code committedThrough}, {@code end}] is to be
   * decided again under the new ballot, with {@code values} where one was found, else a NOP.
   * Everything up to {@code committedThrough} is chosen already (or truncated).
   */
  record Decided(long committedThrough, long end, TreeMap<Long, Action> values) implements Result {}

  /** The attempt failed. */
  record Lost(Event.ElectionFailed why) implements Result {}

  private final Ballot ballot;
  private final Quorum quorum;
  private final Coordinator.Config config;
  private final LongFunction<Envelope.Builder> envelope;
  private final LongSupplier fetchNonces;

  private boolean fetching;
  private final Map<Long, PromiseResponse> promises = new HashMap<>();
  private int age;
  private int promiseAge;

  // After the promises: values learned by the most advanced promiser that others may lack.
  private long fetchSource;
  private long fetchCursor;
  private long fetchTarget;
  private long fetchNonce;
  private int fetchAge;
  private final TreeMap<Long, Action> fetched = new TreeMap<>();
  private long truncatedTo;

  /** From the promises: positions above this are decided again. */
  private long decideFrom;

  /** From the promises: the highest position any promiser holds. */
  private long promisedEnd;

  /**
   * @param envelope an envelope from the writer to a replica
   * @param fetchNonces a nonce no earlier fetch of this writer carried
   */
  Election(
      Ballot ballot,
      Quorum quorum,
      Coordinator.Config config,
      LongFunction<Envelope.Builder> envelope,
      LongSupplier fetchNonces) {
    this.ballot = ballot;
    this.quorum = quorum;
    this.config = config;
    this.envelope = envelope;
    this.fetchNonces = fetchNonces;
  }

  /** Whether the promises are in and learned values are being copied. */
  boolean fetching() {
    return fetching;
  }

  void start(Effects out) {
    sendPromises(out);
  }

  Result tick(Effects out) {
    if (++age > config.electionTimeoutTicks()) {
      return new Lost(
          new Event.ElectionFailed("no quorum of voting replicas answered in time", Ballots.NONE));
    } else if (!fetching && ++promiseAge >= config.retryTicks()) {
      promiseAge = 0;
      sendPromises(out);
    } else if (fetching && ++fetchAge >= config.retryTicks()) {
      nextSource();
      fetchNext(out);
    }
    return PENDING;
  }

  private void sendPromises(Effects out) {
    PromiseRequest req = PromiseRequest.newBuilder().setBallot(ballot).build();
    for (int r = 0; r < quorum.replicas(); r++) {
      if (!promises.containsKey((long) r)) {
        out.send(envelope.apply(r).setPromiseRequest(req).build());
      }
    }
  }

  Result onPromise(long from, PromiseResponse resp, Effects out) {
    if (fetching || !resp.getBallot().equals(ballot)) {
      return PENDING;
    }
    if (!resp.getOk()) {
      if (Ballots.greater(resp.getPromised(), ballot)) {
        return new Lost(
            new Event.ElectionFailed("a replica promised a higher ballot", resp.getPromised()));
      }
      return PENDING; // a replica that does not vote (yet) just does not count
    }
    promises.put(from, resp);
    return quorum.reachedBy(promises.size()) ? onQuorum(out) : PENDING;
  }

  /**
   * A quorum promised. Every position above the lowest learned point among them is decided again
   * under this writer's ballot, so that what is committed never rests on one replica's memory of
   * having learned it. Positions the most advanced promiser learned are copied from it first; above
   * its learned point every promiser reported what it holds.
   */
  private Result onQuorum(Effects out) {
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
      return decide();
    }
    fetching = true;
    fetchNext(out);
    return PENDING;
  }

  /** Moves the fetch to another promiser that had learned at least up to the cursor. */
  private void nextSource() {
    List<Long> sources = new ArrayList<>();
    for (Map.Entry<Long, PromiseResponse> e : promises.entrySet()) {
      if (e.getValue().getLearnedThrough() >= fetchCursor) {
        sources.add(e.getKey());
      }
    }
    Collections.sort(sources);
    int i = sources.indexOf(fetchSource);
    fetchSource = sources.get((i + 1) % sources.size());
  }

  private void fetchNext(Effects out) {
    fetchAge = 0;
    fetchNonce = fetchNonces.getAsLong();
    out.send(
        envelope
            .apply(fetchSource)
            .setFetchRequest(
                FetchRequest.newBuilder()
                    .setNonce(fetchNonce)
                    .setFrom(fetchCursor)
                    .setTo(Math.min(fetchTarget, fetchCursor + FETCH_BATCH - 1))
                    .setLearnedOnly(true)
                    .setMaxActions(FETCH_BATCH))
            .build());
  }

  Result onFetch(long from, FetchResponse resp, Effects out) {
    if (!fetching || from != fetchSource || resp.getNonce() != fetchNonce) {
      return PENDING;
    }
    if (!resp.getOk() || Math.max(resp.getLearnedThrough(), resp.getBegin() - 1) < fetchCursor) {
      nextSource(); // it stopped voting or knows less than it did: ask another that promised
      return PENDING;
    }
    for (Action a : resp.getActionsList()) {
      fetched.put(a.getPosition(), a);
    }
    truncatedTo = Math.max(truncatedTo, resp.getBegin());
    // The replica may answer with less than asked (its own batch limit): go on after what came.
    long covered =
        Math.min(
            resp.getLearnedThrough(),
            resp.getActionsCount() > 0
                ? resp.getActions(resp.getActionsCount() - 1).getPosition()
                : resp.getTo());
    fetchCursor = Math.max(covered, truncatedTo - 1) + 1;
    if (fetchCursor > fetchTarget) {
      return decide();
    }
    fetchNext(out);
    return PENDING;
  }

  private Decided decide() {
    // Below a begin that any replica reported, a learned TRUNCATE made everything garbage.
    long start = Math.max(decideFrom, truncatedTo - 1);
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
    return new Decided(start, Math.max(promisedEnd, start), best);
  }
}
