package io.kmesos.replica.client;

import io.grpc.StatusRuntimeException;
import io.kmesos.api.log.v1.Action;
import io.kmesos.api.log.v1.Envelope;
import io.kmesos.api.log.v1.FetchRequest;
import io.kmesos.api.log.v1.FetchResponse;
import io.kmesos.api.log.v1.ReplicaGrpc;
import io.kmesos.api.log.v1.ReplicaStatus;
import io.kmesos.api.log.v1.StatusRequest;
import io.kmesos.api.log.v1.StatusResponse;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Reads learned entries of the log, from whichever voting replica has learned the most. A reader
 * never returns a value that is not learned (chosen), so what it returns never changes.
 */
public final class Reader {
  /** One replica's answer to "what do you hold?", or why it gave none. */
  public record ReplicaState(int replica, String address, StatusResponse status, String error) {}

  private final Log log;
  private final long node;

  Reader(Log log, long node) {
    this.log = log;
    this.node = node;
  }

  /** Every replica's status (an error instead for those that did not answer). */
  public List<ReplicaState> status() {
    List<ReplicaState> out = new ArrayList<>();
    for (int r = 0; r < log.replicas(); r++) {
      try {
        Envelope answer = blocking(r).call(Envelope.newBuilder().setFrom(node).setTo(r)
            .setStatusRequest(StatusRequest.getDefaultInstance()).build());
        out.add(new ReplicaState(r, log.peers().get(r), answer.getStatusResponse(), null));
      } catch (StatusRuntimeException e) {
        out.add(new ReplicaState(r, log.peers().get(r), null, e.getStatus().getCode() + ": "
            + (e.getStatus().getDescription() == null ? "no answer" : e.getStatus().getDescription())));
      }
    }
    return out;
  }

  /** The first position that has not been truncated away. */
  public long beginning() {
    return best().status().getBegin();
  }

  /** The last position learned by the most advanced voting replica (0 when none is). */
  public long ending() {
    return best().status().getLearnedThrough();
  }

  /** The learned entries in [from, to] (clipped to what exists), in order. */
  public List<LogEntry> read(long from, long to) {
    List<ReplicaState> voters = voters();
    List<LogEntry> out = new ArrayList<>();
    StatusResponse best = voters.get(0).status();
    long cursor = Math.max(from, best.getBegin());
    long last = Math.min(to, best.getLearnedThrough());
    while (cursor <= last) {
      FetchResponse resp = fetch(voters, cursor, last);
      long expected = cursor;
      for (Action a : resp.getActionsList()) {
        if (a.getPosition() < expected) {
          continue;
        }
        if (a.getPosition() != expected || !a.getLearned()) {
          throw new IllegalStateException("replica answered position " + a.getPosition() + " where " + expected + " was expected");
        }
        out.add(new LogEntry(a.getPosition(), a.getType(), a.getPayload(), a.getTruncateTo()));
        expected++;
      }
      if (expected == cursor) {
        throw new UnavailableException("no voting replica could serve position " + cursor);
      }
      cursor = expected;
    }
    return out;
  }

  private FetchResponse fetch(List<ReplicaState> voters, long from, long to) {
    StatusRuntimeException last = null;
    for (ReplicaState v : voters) {
      if (v.status().getLearnedThrough() < from) {
        continue;
      }
      try {
        Envelope answer = blocking(v.replica()).call(Envelope.newBuilder().setFrom(node).setTo(v.replica())
            .setFetchRequest(FetchRequest.newBuilder().setFrom(from).setTo(to).setLearnedOnly(true).setMaxActions(1000))
            .build());
        if (answer.getFetchResponse().getOk() && answer.getFetchResponse().getActionsCount() > 0) {
          return answer.getFetchResponse();
        }
      } catch (StatusRuntimeException e) {
        last = e;
      }
    }
    throw new UnavailableException("no voting replica served positions " + from + ".." + to
        + (last == null ? "" : " (last error: " + last.getStatus() + ")"));
  }

  private ReplicaState best() {
    return voters().get(0);
  }

  /** Voting replicas that answered, the most advanced first. */
  private List<ReplicaState> voters() {
    List<ReplicaState> voters = new ArrayList<>(status().stream()
        .filter(s -> s.status() != null && s.status().getStatus() == ReplicaStatus.VOTING).toList());
    if (voters.isEmpty()) {
      throw new UnavailableException("no voting replica answered (replicas: " + log.peers() + ")");
    }
    voters.sort(Comparator.comparingLong((ReplicaState s) -> s.status().getLearnedThrough()).reversed());
    return voters;
  }

  private ReplicaGrpc.ReplicaBlockingStub blocking(int replica) {
    return ReplicaGrpc.newBlockingStub(log.channel(replica)).withDeadlineAfter(Log.REQUEST_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
  }
}
