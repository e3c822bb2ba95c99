package io.kmesos.replica.client;

/** Another writer was elected: this one can no longer get anything committed, and must stop. */
public final class SupersededException extends RuntimeException {
  public SupersededException(String message) {
    super(message);
  }
}
