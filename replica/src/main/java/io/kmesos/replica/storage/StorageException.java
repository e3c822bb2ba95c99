package io.kmesos.replica.storage;

/**
 * The replica's storage cannot be used: the replica stops rather than risk a vote it cannot keep.
 */
public class StorageException extends RuntimeException {
  public StorageException(String message) {
    super(message);
  }

  public StorageException(String message, Throwable cause) {
    super(message, cause);
  }
}
