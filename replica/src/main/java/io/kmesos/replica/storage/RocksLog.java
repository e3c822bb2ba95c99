package io.kmesos.replica.storage;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import org.rocksdb.InfoLogLevel;
import org.rocksdb.Logger;
import org.slf4j.LoggerFactory;

/**
 * RocksDB's warnings and errors in the replica's own log (instead of a LOG file in the data
 * directory that nobody reads), and the most recent ones kept to explain a refusal: RocksDB's own
 * status says only "checksum mismatch", while its log line names the file and what it dropped.
 */
final class RocksLog extends Logger {
  private static final org.slf4j.Logger log =
      LoggerFactory.getLogger("io.kmesos.replica.storage.rocksdb");
  private static final int KEPT = 8;

  private final Deque<String> recent = new ArrayDeque<>();

  RocksLog() {
    super(InfoLogLevel.WARN_LEVEL);
  }

  @Override
  protected void log(InfoLogLevel level, String message) {
    String line = message.strip();
    synchronized (recent) {
      if (recent.size() == KEPT) {
        recent.removeFirst();
      }
      recent.addLast(line);
    }
    if (level == InfoLogLevel.WARN_LEVEL) {
      log.warn("rocksdb: {}", line);
    } else {
      log.error("rocksdb: {}", line);
    }
  }

  /** The warnings and errors RocksDB reported most recently, oldest first. */
  List<String> recent() {
    synchronized (recent) {
      return new ArrayList<>(recent);
    }
  }
}
