package io.kmesos.agent.checkpoint;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A checkpoint file that cannot be trusted: torn (other than a torn last record of an updates file,
 * which is cut off), truncated, bit-flipped, foreign (not a kmesos checkpoint file, or one of
 * another kind), or inconsistent with where it lies. The message names the file; in strict recovery
 * it also tells the operator how to go on.
 */
public final class CheckpointCorruptException extends IOException {
  private final Path file;
  private final String reason;

  public CheckpointCorruptException(Path file, String reason) {
    this(file, reason, "");
  }

  CheckpointCorruptException(Path file, String reason, String advice) {
    super("Checkpoint file " + file + " " + reason + (advice.isEmpty() ? "" : ". " + advice));
    this.file = file;
    this.reason = reason;
  }

  /** The damaged file. */
  public Path file() {
    return file;
  }

  /** What is wrong with it, without the advice. */
  public String reason() {
    return reason;
  }
}
