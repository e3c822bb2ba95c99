package io.kmesos.registry;

/**
 * An operation that does not apply to the registry as it is (or is malformed); nothing was changed.
 */
public final class OperationRefusedException extends RuntimeException {
  public OperationRefusedException(String message) {
    super(message);
  }
}
