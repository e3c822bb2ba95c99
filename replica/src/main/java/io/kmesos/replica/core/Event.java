package io.kmesos.replica.core;

import io.kmesos.api.log.v1.Ballot;
import io.kmesos.api.log.v1.ReplicaStatus;

/**
 * What a core step reports to its shell besides storage writes and messages ({@link
 * Effects#events()}). A {@link Transition} is a change of state an operator wants to see (the
 * shells log each one at INFO); {@link Committed} is an answer to one client call and far too
 * frequent to log.
 */
public sealed interface Event {

  /** A change of state worth one log line. */
  sealed interface Transition extends Event {
    /** One line for the log, saying what changed (without naming the replica or writer). */
    String describe();
  }

  // ---- a replica ----------------------------------------------------------------------------

  /**
   * The replica's status changed: EMPTY to VOTING (initialized), EMPTY to RECOVERING (a log in use
   * exists, its data must be rebuilt before it votes) or RECOVERING to VOTING (rebuilt).
   *
   * @param learnedThrough every position up to this one is learned here, as of the change
   */
  record StatusChanged(ReplicaStatus from, ReplicaStatus to, String clusterId, long learnedThrough)
      implements Transition {
    @Override
    public String describe() {
      String why =
          switch (to) {
            case VOTING ->
                from == ReplicaStatus.RECOVERING
                    ? "recovered log "
                        + clusterId
                        + " through position "
                        + learnedThrough
                        + "; voting again"
                    : "initialized as a voting member of log " + clusterId;
            case RECOVERING ->
                "log "
                    + clusterId
                    + " is in use and this replica holds none of it:"
                    + " rebuilding it from a quorum before voting";
            default -> "log " + clusterId;
          };
      return from + " -> " + to + ": " + why;
    }
  }

  /**
   * A learned TRUNCATE moved the replica's first position: everything below {@code begin} is
   * deleted.
   */
  record Truncated(long previousBegin, long begin) implements Transition {
    @Override
    public String describe() {
      return "truncated: positions "
          + previousBegin
          + " to "
          + (begin - 1)
          + " deleted, the log now begins at "
          + begin;
    }
  }

  // ---- a writer (Coordinator) ---------------------------------------------------------------

  /** The election succeeded and the log's end is settled: appends follow {@code ending}. */
  record Elected(Ballot ballot, long ending) implements Transition {
    @Override
    public String describe() {
      return "elected with ballot "
          + Ballots.toString(ballot)
          + "; the log ends at position "
          + ending;
    }
  }

  /**
   * The election failed; the writer is IDLE again and may retry (with back-off).
   *
   * @param promised the higher ballot a replica had promised, or {@link Ballots#NONE} when no
   *     quorum answered in time
   */
  record ElectionFailed(String reason, Ballot promised) implements Transition {
    @Override
    public String describe() {
      return "election lost: "
          + reason
          + (Ballots.greater(promised, Ballots.NONE)
              ? " (" + Ballots.toString(promised) + ")"
              : "");
    }
  }

  /**
   * Every position up to {@code position} is committed; {@code position} is a client's append or
   * truncation.
   */
  record Committed(long position) implements Event {}

  /**
   * Another writer's higher ballot was promised: everything in flight failed, nothing more is
   * accepted.
   */
  record Superseded(Ballot promised, long committedThrough) implements Transition {
    @Override
    public String describe() {
      return "superseded by ballot "
          + Ballots.toString(promised)
          + " after committing through position "
          + committedThrough;
    }
  }
}
