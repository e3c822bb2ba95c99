package io.kmesos.replica.core;

import com.google.protobuf.ByteString;
import io.kmesos.api.log.v1.Action;
import io.kmesos.api.log.v1.ActionType;
import io.kmesos.api.log.v1.Ballot;
import io.kmesos.api.log.v1.Envelope;
import io.kmesos.api.log.v1.WriteResponse;

/**
 * The writer's side of the protocol (Mesos {@code src/log/coordinator.cpp}): an {@link Election},
 * then a {@link WritePipeline} that first fills what the election left open, then appends.
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>Election: a quorum of voting replicas promises a ballot higher than any they promised
 *       before, for every position at once. Before the first append, every position up to the
 *       highest one any of them holds is decided again under the new ballot: the value of the
 *       highest ballot that quorum accepted (or learned) there, else a NOP. So nothing a previous
 *       writer got committed is lost, and the log has no holes below the new writer's appends.
 *   <li>An append is reported committed only once a quorum accepted it under this writer's ballot,
 *       and in position order: committed through p means every position up to p is chosen.
 *   <li>Once any replica reports a higher promise, the writer is superseded for good: it fails
 *       everything in flight and accepts nothing more. It can never again get anything committed,
 *       since a quorum has promised the higher ballot; this fencing, not any lease, is what keeps
 *       two writers from forking the log.
 *   <li>Appends in flight are bounded ({@link Config#maxInFlight()}).
 * </ul>
 */
public final class Coordinator {
  /**
   * Tunables, in ticks of the shell's timer: the shell makes them from its own settings, whose
   * times are {@code Duration}s (see {@code Writer.Settings}).
   *
   * @param retryTicks how long an unanswered request waits before it is sent again
   * @param electionTimeoutTicks how long one election attempt waits for a quorum to settle it
   * @param maxInFlight positions proposed and not yet committed
   * @param maxBatchesInFlight write batches sent and not yet committed. Appends proposed while this
   *     many are on their way wait and leave together in the next batch: fewer, larger batches mean
   *     fewer round trips and fsyncs for the same appends, at the cost of waiting for at most one
   *     batch to commit.
   * @param maxBatchBytes payload bytes in one write batch (a larger single action goes alone), so
   *     that a backlog never becomes one message larger than a replica accepts
   */
  public record Config(
      int retryTicks,
      int electionTimeoutTicks,
      int maxInFlight,
      int maxBatchesInFlight,
      int maxBatchBytes) {
    public Config {
      ReplicaCore.positive("retryTicks", retryTicks);
      ReplicaCore.positive("electionTimeoutTicks", electionTimeoutTicks);
      ReplicaCore.positive("maxInFlight", maxInFlight);
      ReplicaCore.positive("maxBatchesInFlight", maxBatchesInFlight);
      ReplicaCore.positive("maxBatchBytes", maxBatchBytes);
    }
  }

  public enum Status {
    IDLE,
    ELECTING,
    FETCHING,
    FILLING,
    WRITING,
    SUPERSEDED
  }

  private final long nodeId;
  private final long proposerId;
  private final Quorum quorum;
  private final Config config;
  private long fetchSeq;

  private Ballot ballot = Ballots.NONE;

  /** The highest round any replica reported: the next election goes above it. */
  private long roundSeen;

  /** The election under way, if any. */
  private Election election;

  /** Once an election was decided: the fill, then the appends. */
  private WritePipeline pipeline;

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
    Status status = status();
    if (status != Status.IDLE) {
      throw new IllegalStateException("cannot elect while " + status);
    }
    ballot = Ballots.of(roundSeen + 1, proposerId);
    roundSeen = ballot.getRound();
    election =
        new Election(ballot, quorum, config, this::envelope, () -> proposerId + (++fetchSeq));
    Effects out = new Effects();
    election.start(out);
    return out;
  }

  /**
   * Reserves the next position for {@code payload}; returns it, or -1 when too much is in flight.
   */
  public long append(ByteString payload) {
    return propose(Action.newBuilder().setType(ActionType.APPEND).setPayload(payload));
  }

  /**
   * Appends a TRUNCATE: once it is learned, positions below {@code to} may be deleted everywhere.
   */
  public long truncate(long to) {
    long next = pipeline == null ? 0 : pipeline.nextPosition();
    if (to > next) {
      throw new IllegalArgumentException(
          "cannot truncate to " + to + ": the log ends at " + (next - 1));
    }
    return propose(Action.newBuilder().setType(ActionType.TRUNCATE).setTruncateTo(to));
  }

  private long propose(Action.Builder action) {
    Status status = status();
    if (status != Status.WRITING) {
      throw new IllegalStateException(
          status == Status.SUPERSEDED
              ? "superseded: another writer was elected"
              : "not elected (" + status + ")");
    }
    return pipeline.propose(action);
  }

  /**
   * Sends what was proposed since the last flush, one write per replica per batch, as far as the
   * batches in flight allow; the rest waits for a commit (after which the shell flushes again).
   */
  public Effects flush() {
    Effects out = new Effects();
    if (pipeline != null) {
      pipeline.flush(out);
    }
    return out;
  }

  // ---- messages and time --------------------------------------------------------------------

  public Effects handle(Envelope in) {
    Effects out = new Effects();
    switch (in.getBodyCase()) {
      case PROMISE_RESPONSE -> {
        roundSeen = Math.max(roundSeen, in.getPromiseResponse().getPromised().getRound());
        if (election != null) {
          settle(election.onPromise(in.getFrom(), in.getPromiseResponse(), out), out);
        }
      }
      case FETCH_RESPONSE -> {
        if (election != null) {
          settle(election.onFetch(in.getFrom(), in.getFetchResponse(), out), out);
        }
      }
      case WRITE_RESPONSE -> {
        WriteResponse resp = in.getWriteResponse();
        roundSeen = Math.max(roundSeen, resp.getPromised().getRound());
        if (pipeline != null && resp.getBallot().equals(ballot)) {
          pipeline.onWrite(in.getFrom(), resp, out);
        }
      }
      default -> {}
    }
    return out;
  }

  public Effects tick() {
    Effects out = new Effects();
    if (election != null) {
      settle(election.tick(out), out);
    } else if (pipeline != null) {
      pipeline.tick(out);
    }
    return out;
  }

  /**
   * Acts on where the election stands: lost, it is over; decided, the pipeline starts with the
   * fill.
   */
  private void settle(Election.Result result, Effects out) {
    if (result instanceof Election.Lost lost) {
      election = null;
      out.event(lost.why());
    } else if (result instanceof Election.Decided decided) {
      election = null;
      pipeline = new WritePipeline(ballot, quorum, config, this::envelope, decided);
      pipeline.start(out);
    }
  }

  private Envelope.Builder envelope(long to) {
    return Envelope.newBuilder().setFrom(nodeId).setTo(to);
  }

  // ---- observers ----------------------------------------------------------------------------

  public Status status() {
    if (election != null) {
      return election.fetching() ? Status.FETCHING : Status.ELECTING;
    }
    if (pipeline == null) {
      return Status.IDLE;
    }
    return switch (pipeline.stage()) {
      case FILLING -> Status.FILLING;
      case WRITING -> Status.WRITING;
      case SUPERSEDED -> Status.SUPERSEDED;
    };
  }

  public Ballot ballot() {
    return ballot;
  }

  public long committedThrough() {
    return pipeline == null ? 0 : pipeline.committedThrough();
  }

  public int inFlight() {
    return pipeline == null ? 0 : pipeline.inFlight();
  }
}
