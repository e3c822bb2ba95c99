package io.kmesos.replica.core;

/** A majority of the configured replica set: ⌊n/2⌋+1. Any two quorums share a replica. */
public record Quorum(int replicas) {
  public Quorum {
    if (replicas < 1) {
      throw new IllegalArgumentException("a log needs at least one replica, got " + replicas);
    }
  }

  public int size() {
    return replicas / 2 + 1;
  }

  public boolean reachedBy(int count) {
    return count >= size();
  }
}
