package io.kmesos.replica.client;

/**
 * Not enough replicas answered: no quorum to elect, to commit, or no voting replica to read from.
 */
public final class UnavailableException extends RuntimeException {
  public UnavailableException(String message) {
    super(message);
  }
}
