package io.kmesos.registry;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.kmesos.api.log.v1.ActionType;
import io.kmesos.api.registry.v1.Registry;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.client.LogEntry;
import io.kmesos.replica.client.Writer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The way Mesos stores its registry, kept as the benchmarks' baseline: every batch appends the
 * whole registry, then truncates the log before it (two quorum rounds). Recovery reads the last
 * whole registry. Not for production: its cost grows with the registry's size.
 */
final class WholeRegistryStorage implements Storage {
  private final Writer writer;
  private final RegistryContents recovered;
  private final long recoveryMillis;
  private final String summary;

  WholeRegistryStorage(Log log, Duration timeout) throws Exception {
    this.writer = log.writer();
    try {
      long ending = writer.elect().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      long started = System.nanoTime(); // reading and decoding, as State reports it for kmesos
      var reader = log.reader();
      long deadline = started + timeout.toNanos();
      while (ending > 0 && reader.ending() < ending) {
        if (System.nanoTime() > deadline) {
          throw new TimeoutException(
              "the replicas did not learn the log up to " + ending + " within " + timeout);
        }
        Thread.sleep(5);
      }
      Registry last = Registry.getDefaultInstance();
      long bytes = 0;
      if (ending > 0) {
        List<LogEntry> entries = reader.read(reader.beginning(), ending);
        for (LogEntry e : entries) {
          bytes += e.payload().size();
          if (e.type() == ActionType.APPEND) {
            last = parse(e);
          }
        }
      }
      this.recovered = RegistryContents.of(last);
      this.recoveryMillis = (System.nanoTime() - started) / 1_000_000;
      this.summary = "whole registry of " + bytes + " bytes read up to position " + ending;
    } catch (Exception e) {
      writer.close();
      throw e;
    }
  }

  private static Registry parse(LogEntry e) {
    try {
      return Registry.parseFrom(e.payload());
    } catch (InvalidProtocolBufferException ex) {
      throw new IllegalStateException(
          "position " + e.position() + " is not a whole registry: " + ex.getMessage());
    }
  }

  @Override
  public RegistryContents recover() {
    return recovered;
  }

  @Override
  public CompletableFuture<Void> store(
      RegistryContents before, Transaction changes, List<Any> causes, long version) {
    RegistryContents after = before.copy();
    after.apply(changes, version);
    return writer
        .append(after.toProto().toByteArray())
        .thenCompose(writer::truncate)
        .thenAccept(p -> {});
  }

  @Override
  public long appendedBytes() {
    return writer.appendedBytes();
  }

  @Override
  public String recoveredSummary() {
    return summary;
  }

  @Override
  public long recoveryMillis() {
    return recoveryMillis;
  }

  @Override
  public void close() {
    writer.close();
  }
}
