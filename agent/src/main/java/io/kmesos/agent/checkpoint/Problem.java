package io.kmesos.agent.checkpoint;

import java.nio.file.Path;
import java.util.Optional;

/**
 * Something recovery found and dealt with, other than intact checkpoints.
 *
 * @param file the file or directory concerned
 * @param skipped the subtree recovery left out because of it, if any
 */
public record Problem(Kind kind, Path file, String detail, Optional<Path> skipped) {
  public enum Kind {
    /** An updates file ended in a torn record (a crash during an append): it was cut off. */
    TORN_TAIL_CUT,
    /** A damaged or foreign file (non-strict recovery; strict recovery throws instead). */
    CORRUPT,
    /**
     * A directory without its info file and with nothing else in it: the agent stopped between
     * creating the directory and writing the file. Nothing is lost; it is left out (and removed
     * when repairing).
     */
    INCOMPLETE,
    /** The store's scratch (a temporary file, a tree being deleted) left by a crash: removed. */
    LEFTOVER,
    /** An entry that is no checkpoint: ignored, left in place. */
    UNEXPECTED,
    /** An executor's latest-run pointer that is missing or names no recovered run. */
    NO_LATEST_RUN,
    /** An acknowledgement of a UUID the task never recorded an update with: ignored. */
    UNMATCHED_ACK
  }

  public Problem {
    skipped = skipped == null ? Optional.empty() : skipped;
  }

  static Problem of(Kind kind, Path file, String detail) {
    return new Problem(kind, file, detail, Optional.empty());
  }

  /** Whether recovery left something out or found damage (as opposed to a routine repair). */
  public boolean isDamage() {
    return kind == Kind.CORRUPT;
  }

  @Override
  public String toString() {
    return kind
        + " "
        + file
        + ": "
        + detail
        + skipped.map(s -> " (skipped " + s + " and everything under it)").orElse("");
  }
}
