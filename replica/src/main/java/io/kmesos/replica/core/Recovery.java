package io.kmesos.replica.core;

import io.kmesos.api.log.v1.Action;
import io.kmesos.api.log.v1.Ballot;
import io.kmesos.api.log.v1.FetchRequest;
import io.kmesos.api.log.v1.FetchResponse;
import io.kmesos.api.log.v1.Metadata;
import io.kmesos.api.log.v1.ReplicaStatus;
import io.kmesos.api.log.v1.StatusRequest;
import io.kmesos.api.log.v1.StatusResponse;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A replica that has no data (wiped, or new beside a running log) rebuilds a quorum's view of the
 * log before it votes again (Mesos {@code src/log/recover.cpp}). An EMPTY replica starts rebuilding
 * only once the log is in use ({@link LogUse}: a peer holds an entry, or a quorum of peers votes
 * and one of them promised); until then it waits to be initialized.
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>It never votes while recovering: its status is RECOVERING (persisted, so a crash mid-way
 *       resumes recovering, never voting) until the copy is complete.
 *   <li>Whatever was chosen while it had its old data is in its new data. It copies, for every
 *       position, the highest-ballot action held by a quorum of voting peers (a learned action
 *       wins), and adopts the highest promise among them. A value chosen by a quorum that included
 *       its old self was also accepted by one of those peers, because two quorums overlap even
 *       without it.
 *   <li>A message sent to its old self cannot reach a peer after it asked: it waits {@link
 *       ReplicaCore.Config#recoveryGraceTicks()} first, which the shell keeps longer than any
 *       request's deadline (replicas drop requests past their deadline). This is the one timing
 *       assumption of the log, and only a replica that lost its disk relies on it.
 * </ul>
 */
final class Recovery {
  private enum Phase {
    WAITING,
    PROBING,
    COPYING
  }

  private final ReplicaCore replica;
  private Phase phase = Phase.WAITING;
  private int graceLeft;
  private int age;

  private final Map<Long, StatusResponse> voters = new LinkedHashMap<>();

  /** While EMPTY: the latest answer of each VOTING peer, to decide whether the log is in use. */
  private final Map<Long, StatusResponse> seen = new HashMap<>();

  private List<Long> members = List.of();
  private String clusterId = "";
  private Ballot promised = Ballots.NONE;
  private long begin;
  private long end;
  private long cursor;
  private final Map<Long, FetchResponse> chunk = new HashMap<>();

  /** The question the answers must be to: answers to an earlier probe or chunk are ignored. */
  private long nonce;

  Recovery(ReplicaCore replica) {
    this.replica = replica;
    this.graceLeft = replica.config().recoveryGraceTicks();
  }

  /**
   * Whether this replica has begun to rebuild a log (then it can no longer be initialized as new).
   */
  boolean started() {
    return replica.metadata().getStatus() == ReplicaStatus.RECOVERING;
  }

  void tick(Effects out) {
    if (graceLeft > 0) {
      graceLeft--;
    }
    age++;
    switch (phase) {
      case WAITING -> {
        if (age % replica.config().catchUpIntervalTicks() == 0) {
          probe(out); // an EMPTY replica looks for a running log; a RECOVERING one waits for grace
        }
      }
      case PROBING -> {
        if (age > replica.config().retryTicks()) {
          probe(out);
        }
      }
      case COPYING -> {
        if (age > replica.config().retryTicks()) {
          restart(out); // a member went quiet: start over with whoever answers now
        }
      }
    }
  }

  void onStatus(long from, StatusResponse peer, Effects out) {
    if (peer.getStatus() != ReplicaStatus.VOTING || peer.getClusterId().isEmpty()) {
      return;
    }
    if (replica.metadata().getStatus() == ReplicaStatus.EMPTY) {
      if (!replica.askedThisRun(peer.getNonce())) {
        return;
      }
      // Answers of several probes count together: with slow links one probe's answers may never
      // all arrive before the next probe. A peer seen VOTING stays so unless it loses its data,
      // and a stale view can only make this replica recover, which is always safe.
      seen.put(from, peer);
      String log = LogUse.toRecover(seen.values(), replica.quorum());
      if (log == null) {
        return; // not in use (see LogUse): wait to be initialized with the others
      }
      // A log in use exists: this replica was wiped (or is new). From now on, even after a
      // restart, it is RECOVERING and will not vote before it has copied that log.
      seen.clear();
      Metadata m =
          replica.metadata().toBuilder()
              .setStatus(ReplicaStatus.RECOVERING)
              .setClusterId(log)
              .setLearnedThrough(0)
              .build();
      replica.resetForRecovery(m);
      out.persist(Effects.Persist.replaceAll(m));
    }
    if (peer.getNonce() != nonce
        || !peer.getClusterId().equals(replica.metadata().getClusterId())) {
      return; // an answer to an earlier probe, or another log's replica: never mix logs
    }
    if (phase == Phase.WAITING) {
      if (graceLeft == 0) {
        // Only answers to a question asked after the grace period count: ask again.
        phase = Phase.PROBING;
        probe(out);
      }
      return;
    }
    if (phase != Phase.PROBING) {
      return;
    }
    voters.put(from, peer);
    if (replica.quorum().reachedBy(voters.size())) {
      startCopy(out);
    }
  }

  private void startCopy(Effects out) {
    members = new ArrayList<>(voters.keySet()).subList(0, replica.quorum().size());
    promised = Ballots.NONE;
    begin = 1;
    end = 0;
    for (long m : members) {
      StatusResponse s = voters.get(m);
      promised = Ballots.max(promised, s.getPromised());
      begin = Math.max(begin, s.getBegin());
      end = Math.max(end, s.getEnd());
    }
    clusterId = voters.get(members.get(0)).getClusterId();
    // Start from nothing: whatever an earlier attempt copied is replaced by this quorum's view.
    Metadata m =
        replica.metadata().toBuilder()
            .setClusterId(clusterId)
            .setStatus(ReplicaStatus.RECOVERING)
            .setPromised(Ballots.NONE)
            .setBegin(begin)
            .setLearnedThrough(0)
            .build();
    replica.resetForRecovery(m);
    out.persist(Effects.Persist.replaceAll(m));
    phase = Phase.COPYING;
    cursor = begin;
    requestChunk(out);
  }

  private void requestChunk(Effects out) {
    if (cursor > end) {
      finish(out);
      return;
    }
    chunk.clear();
    age = 0;
    nonce = replica.nextNonce();
    int batch = replica.config().fetchBatch();
    for (long m : members) {
      out.send(
          replica
              .envelope(m)
              .setFetchRequest(
                  FetchRequest.newBuilder()
                      .setNonce(nonce)
                      .setFrom(cursor)
                      .setTo(chunkEnd())
                      .setLearnedOnly(false)
                      .setMaxActions(batch))
              .build());
    }
  }

  private long chunkEnd() {
    return Math.min(end, cursor + replica.config().fetchBatch() - 1);
  }

  void onFetch(long from, FetchResponse resp, Effects out) {
    if (phase != Phase.COPYING
        || resp.getNonce() != nonce
        || !members.contains(from)
        || chunk.containsKey(from)) {
      return;
    }
    if (!resp.getOk() || resp.getBegin() > cursor) {
      restart(out); // the member stopped voting or truncated under us: take a fresh view
      return;
    }
    chunk.put(from, resp);
    if (chunk.size() < members.size()) {
      return;
    }
    // A member may answer with less than asked (its size limit): go only as far as every answer
    // covers.
    long covered = chunkEnd();
    for (FetchResponse r : chunk.values()) {
      covered = Math.min(covered, Math.max(r.getTo(), cursor));
    }
    TreeMap<Long, Action> merged = new TreeMap<>();
    for (FetchResponse r : chunk.values()) {
      for (Action a : r.getActionsList()) {
        if (a.getPosition() <= covered) {
          merged.merge(a.getPosition(), a, Recovery::better);
        }
      }
    }
    List<Action> copied = replica.adoptRecovered(new ArrayList<>(merged.values()));
    if (!copied.isEmpty()) {
      out.persist(Effects.Persist.copies(copied));
    }
    cursor = covered + 1;
    requestChunk(out);
  }

  /**
   * Of two replicas' actions at one position: a learned one, else the one accepted under the higher
   * ballot.
   */
  static Action better(Action a, Action b) {
    if (a.getLearned() != b.getLearned()) {
      return a.getLearned() ? a : b;
    }
    return Ballots.atLeast(a.getBallot(), b.getBallot()) ? a : b;
  }

  private void finish(Effects out) {
    // A learned TRUNCATE among the copies may have moved the beginning further than the peers said.
    long newBegin = Math.max(begin, replica.metadata().getBegin());
    Metadata voting =
        replica.metadata().toBuilder()
            .setClusterId(clusterId)
            .setStatus(ReplicaStatus.VOTING)
            .setPromised(promised)
            .setBegin(newBegin)
            .setLearnedThrough(replica.learnedThrough())
            .build();
    out.persist(Effects.Persist.actions(voting, List.of(), newBegin));
    replica.finishRecovery(voting);
  }

  private void restart(Effects out) {
    phase = Phase.PROBING;
    probe(out);
  }

  private void probe(Effects out) {
    age = 0;
    voters.clear();
    nonce = replica.nextNonce();
    StatusRequest ask = StatusRequest.newBuilder().setNonce(nonce).build();
    for (int peer = 0; peer < replica.quorum().replicas(); peer++) {
      if (peer != replica.id()) {
        out.send(replica.envelope(peer).setStatusRequest(ask).build());
      }
    }
  }
}
