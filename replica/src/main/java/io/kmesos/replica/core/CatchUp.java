package io.kmesos.replica.core;

import io.kmesos.api.log.v1.Action;
import io.kmesos.api.log.v1.Envelope;
import io.kmesos.api.log.v1.FetchRequest;
import io.kmesos.api.log.v1.FetchResponse;
import io.kmesos.api.log.v1.Metadata;
import io.kmesos.api.log.v1.ReplicaStatus;
import io.kmesos.api.log.v1.StatusRequest;
import io.kmesos.api.log.v1.StatusResponse;
import java.util.List;

/**
 * A voting replica fills the holes in what it has learned (Mesos {@code src/log/catchup.cpp}).
 *
 * <p>Guarantees: it copies only learned actions, which are chosen and never change, so catching up
 * can neither change a vote nor make a replica learn a value that was not chosen. It runs beside
 * voting and never blocks it; one fetch is outstanding at a time, so it cannot flood a peer. Holes
 * that no replica has learned are not its business: the next writer fills them.
 */
final class CatchUp {
  private final ReplicaCore replica;
  private int ticks;

  /** The peer a fetch is outstanding to, or -1. */
  private long fetchingFrom = -1;

  private int fetchAge;
  private long statusNonce;
  private long fetchNonce;

  /** The next position to ask the current peer for, and the last one it has learned. */
  private long cursor;

  private long target;

  CatchUp(ReplicaCore replica) {
    this.replica = replica;
  }

  void tick(Effects out) {
    ticks++;
    if (fetchingFrom >= 0 && ++fetchAge > replica.config().retryTicks()) {
      fetchingFrom = -1; // lost or slow: ask around again
    }
    if (fetchingFrom < 0 && ticks % replica.config().catchUpIntervalTicks() == 0) {
      statusNonce = replica.nextNonce();
      StatusRequest ask = StatusRequest.newBuilder().setNonce(statusNonce).build();
      for (int peer = 0; peer < replica.quorum().replicas(); peer++) {
        if (peer != replica.id()) {
          out.send(replica.envelope(peer).setStatusRequest(ask).build());
        }
      }
    }
  }

  void onStatus(long from, StatusResponse peer, Effects out) {
    if (peer.getNonce() != statusNonce
        || fetchingFrom >= 0
        || !sameLog(peer.getClusterId())
        || peer.getLearnedThrough() <= replica.learnedThrough()) {
      return;
    }
    // Below the peer's begin everything was truncated; the TRUNCATE that did it lies at or above
    // that begin, so copying from there closes the hole once it is learned here.
    cursor = Math.max(replica.learnedThrough() + 1, peer.getBegin());
    target = peer.getLearnedThrough();
    fetch(from, out);
  }

  void onFetch(long from, FetchResponse resp, Effects out) {
    if (from != fetchingFrom || resp.getNonce() != fetchNonce) {
      return;
    }
    fetchingFrom = -1;
    if (!resp.getOk()) {
      return;
    }
    List<Action> stored = replica.storeLearned(resp.getActionsList());
    // Every learned TRUNCATE counts, also one this replica already held (copied in recovery, say).
    Metadata moved = replica.applyLearnedTruncates(resp.getActionsList());
    Metadata m = replica.metadataToPersist(moved != null);
    if (!stored.isEmpty() || m != null) {
      out.persist(Effects.Persist.actions(m, stored, moved == null ? 0 : moved.getBegin()));
    }
    long covered =
        Math.min(
            resp.getLearnedThrough(),
            resp.getActionsCount() > 0
                ? resp.getActions(resp.getActionsCount() - 1).getPosition()
                : resp.getTo());
    cursor = Math.max(covered + 1, replica.learnedThrough() + 1);
    if (cursor <= target) {
      fetch(from, out); // more to copy from the same peer
    }
  }

  private void fetch(long peer, Effects out) {
    long from = cursor;
    long to = Math.min(target, from + replica.config().fetchBatch() - 1);
    fetchingFrom = peer;
    fetchAge = 0;
    fetchNonce = replica.nextNonce();
    Envelope request =
        replica
            .envelope(peer)
            .setFetchRequest(
                FetchRequest.newBuilder()
                    .setNonce(fetchNonce)
                    .setFrom(from)
                    .setTo(to)
                    .setLearnedOnly(true)
                    .setMaxActions(replica.config().fetchBatch()))
            .build();
    out.send(request);
  }

  private boolean sameLog(String clusterId) {
    return replica.metadata().getStatus() == ReplicaStatus.VOTING
        && replica.metadata().getClusterId().equals(clusterId);
  }
}
