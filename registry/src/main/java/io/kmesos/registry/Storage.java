package io.kmesos.registry;

import com.google.protobuf.Any;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Where a registrar keeps the registry: how it recovers it and how it stores one batch of changes.
 */
interface Storage extends AutoCloseable {
  /** The registry as committed, read once at start (after this storage became the log's writer). */
  RegistryContents recover();

  /**
   * Stores {@code changes} (made over {@code before}) atomically as change number {@code version};
   * completes once committed, or fails with the log's error.
   */
  CompletableFuture<Void> store(
      RegistryContents before, Transaction changes, List<Any> causes, long version);

  /** Bytes appended to the log so far. */
  long appendedBytes();

  /** How recovery went, for logs and benchmarks. */
  String recoveredSummary();

  long recoveryMillis();

  @Override
  void close();
}
