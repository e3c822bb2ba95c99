package io.kmesos.replica.core;

import io.kmesos.api.log.v1.Action;
import io.kmesos.api.log.v1.Metadata;
import java.util.List;

/**
 * What a replica core reads from its storage. Writes go the other way, as {@link Effects.Persist}.
 * A shell may defer the writes of several inputs and make them in one synced batch (group commit),
 * but it writes everything deferred before it hands the core an input that reads the storage
 * ({@link ReplicaCore#readsStorage}); so reads always see every write of earlier steps.
 */
public interface ReplicaStorage {
  /** The stored metadata, or null for storage that was never written (a new or wiped replica). */
  Metadata metadata();

  /**
   * The actions in [from, to], in position order: at most {@code limit} of them and, after the
   * first, no more than {@code maxPayloadBytes} of payload in all (so an answer stays a sendable
   * size).
   */
  List<Action> range(long from, long to, int limit, long maxPayloadBytes);

  default List<Action> range(long from, long to, int limit) {
    return range(from, to, limit, Long.MAX_VALUE);
  }

  /** The highest position any action is stored at, 0 when none is. */
  long end();
}
