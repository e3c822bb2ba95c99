package io.kmesos.replica.state;

/** The State cannot go on: the log holds something it cannot use, or its writer failed. */
public final class StateException extends RuntimeException {
  public StateException(String message) {
    super(message);
  }

  public StateException(String message, Throwable cause) {
    super(message, cause);
  }
}
