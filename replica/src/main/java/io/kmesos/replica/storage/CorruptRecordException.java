package io.kmesos.replica.storage;

/**
 * A stored record failed its checksum or does not parse; the message names the record (its
 * position).
 */
public final class CorruptRecordException extends StorageException {
  public CorruptRecordException(String message) {
    super(message);
  }
}
