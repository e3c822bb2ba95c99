package io.kmesos.replica.client;

import io.grpc.StatusRuntimeException;
import io.kmesos.api.cli.Failures;
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
  /**
   * One replica's answer to "what do you hold?", or why it gave none (e.g. "connection refused").
   */
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
      out.add(status(r));
    }
    return out;
  }

  /** One replica's status, or why it did not answer. */
  public ReplicaState status(int replica) {
    try {
      Envelope answer =
          blocking(replica)
              .call(
                  Envelope.newBuilder()
                      .setFrom(node)
                      .setTo(replica)
                      .setStatusRequest(StatusRequest.getDefaultInstance())
                      .build());
      log.heard(replica, true);
      return new ReplicaState(replica, log.peers().get(replica), answer.getStatusResponse(), null);
    } catch (StatusRuntimeException e) {
      log.heard(replica, false);
      return new ReplicaState(
          replica, log.peers().get(replica), null, Failures.reason(e, log.questionTimeout()));
    }
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
    return read(voters(), from, to);
  }

  /**
   * The entries in [from, to] that replica {@code replica} has learned (clipped to what it holds),
   * in order: what that one replica serves, whether or not others learned more.
   */
  public List<LogEntry> readFrom(int replica, long from, long to) {
    ReplicaState s = status(replica);
    if (s.status() == null) {
      throw new UnavailableException("replica " + replica + " (" + s.address() + "): " + s.error());
    }
    if (s.status().getStatus() != ReplicaStatus.VOTING) {
      throw new UnavailableException(
          "replica "
              + replica
              + " ("
              + s.address()
              + ") is "
              + s.status().getStatus()
              + ": only a voting replica serves reads");
    }
    return read(List.of(s), from, to);
  }

  private List<LogEntry> read(List<ReplicaState> voters, long from, long to) {
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
          throw new IllegalStateException(
              "replica answered position "
                  + a.getPosition()
                  + " where "
                  + expected
                  + " was expected");
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
    ReplicaState lastFrom = null;
    for (ReplicaState v : voters) {
      if (v.status().getLearnedThrough() < from) {
        continue;
      }
      try {
        Envelope answer =
            blocking(v.replica())
                .call(
                    Envelope.newBuilder()
                        .setFrom(node)
                        .setTo(v.replica())
                        .setFetchRequest(
                            FetchRequest.newBuilder()
                                .setFrom(from)
                                .setTo(to)
                                .setLearnedOnly(true)
                                .setMaxActions(1000))
                        .build());
        if (answer.getFetchResponse().getOk() && answer.getFetchResponse().getActionsCount() > 0) {
          return answer.getFetchResponse();
        }
      } catch (StatusRuntimeException e) {
        last = e;
        lastFrom = v;
      }
    }
    throw new UnavailableException(
        "no voting replica served positions "
            + from
            + ".."
            + to
            + (last == null
                ? ""
                : " ("
                    + lastFrom.address()
                    + ": "
                    + Failures.reason(last, log.questionTimeout())
                    + ")"));
  }

  private ReplicaState best() {
    return voters().get(0);
  }

  /** The first position replica {@code replica} holds (what was not truncated away there). */
  public long beginning(int replica) {
    ReplicaState s = status(replica);
    if (s.status() == null) {
      throw new UnavailableException("replica " + replica + " (" + s.address() + "): " + s.error());
    }
    return s.status().getBegin();
  }

  /** The last position replica {@code replica} has learned. */
  public long ending(int replica) {
    ReplicaState s = status(replica);
    if (s.status() == null) {
      throw new UnavailableException("replica " + replica + " (" + s.address() + "): " + s.error());
    }
    return s.status().getLearnedThrough();
  }

  /** Voting replicas that answered, the most advanced first. */
  private List<ReplicaState> voters() {
    List<ReplicaState> all = status();
    List<ReplicaState> voters =
        new ArrayList<>(
            all.stream()
                .filter(s -> s.status() != null && s.status().getStatus() == ReplicaStatus.VOTING)
                .toList());
    if (voters.isEmpty()) {
      throw new UnavailableException(
          "no voting replica answered ("
              + String.join(
                  "; ",
                  all.stream()
                      .map(
                          s ->
                              s.address()
                                  + ": "
                                  + (s.status() == null
                                      ? s.error()
                                      : s.status().getStatus().toString()))
                      .toList())
              + ")");
    }
    voters.sort(
        Comparator.comparingLong((ReplicaState s) -> s.status().getLearnedThrough()).reversed());
    return voters;
  }

  private ReplicaGrpc.ReplicaBlockingStub blocking(int replica) {
    return ReplicaGrpc.newBlockingStub(log.channel(replica))
        .withDeadlineAfter(log.questionTimeout().toMillis(), TimeUnit.MILLISECONDS);
  }
}
