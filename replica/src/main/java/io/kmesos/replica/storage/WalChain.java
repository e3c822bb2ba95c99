package io.kmesos.replica.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.rocksdb.LogFile;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.TransactionLogIterator;
import org.rocksdb.WalFileType;
import org.rocksdb.WriteBatch;

/**
 * RocksDB's write-ahead log (WAL) files as one chain: from the watermark's chain start to the last
 * sequence number recovered, every write batch must be there, each following the one before.
 *
 * <p>Why: RocksDB replays whatever WAL files it finds. A WAL file before the last one that is
 * deleted, or truncated, or damaged where RocksDB takes it for a torn end, is skipped without a
 * word (its recovered sequence number still reaches the synced watermark, since a later file holds
 * later writes), and the writes it held are silently gone. Reading the chain at start finds the
 * gap.
 *
 * <p>The chain must start where the table files end. RocksDB moves a WAL file whose contents it has
 * flushed into a table file to {@code archive/} instead of deleting it (a very long WAL TTL, {@link
 * #ARCHIVE_TTL_SECONDS}, so that only {@link #prune} ever deletes one), and {@link #prune} deletes
 * archived files only after the watermark's chain start has durably moved past them. So after a
 * crash at any point the files from the recorded chain start on are all still there.
 */
public final class WalChain {
  /**
   * Long enough that RocksDB never deletes an archived WAL file itself. Anything else that opens a
   * replica's RocksDB (a test that damages a record on purpose) must set it too, or its own flush
   * would delete WAL files the chain still counts on.
   */
  public static final long ARCHIVE_TTL_SECONDS = 100L * 365 * 24 * 3600;

  private WalChain() {}

  /**
   * Reads every write batch from {@code chainStart} to {@code latest}.
   *
   * @return null if they are all there, each following the one before; else what is missing
   */
  static String check(RocksDB db, long chainStart, long latest) throws RocksDBException {
    if (chainStart > latest) {
      return null; // everything is in table files
    }
    long next = -1;
    try (TransactionLogIterator it = db.getUpdatesSince(chainStart)) {
      for (; it.isValid(); it.next()) {
        TransactionLogIterator.BatchResult batch = it.getBatch();
        long sequence = batch.sequenceNumber();
        int count;
        try (WriteBatch writes = batch.writeBatch()) {
          count = writes.count();
        }
        if (next < 0 && sequence > chainStart) {
          return "the write-ahead log file that held sequence numbers "
              + chainStart
              + " to "
              + (sequence - 1)
              + " is missing";
        }
        if (next >= 0 && sequence != next) {
          return "sequence numbers "
              + next
              + " to "
              + (sequence - 1)
              + " are missing from the write-ahead log";
        }
        next = sequence + count;
      }
      try {
        it.status();
      } catch (RocksDBException e) {
        return "the write-ahead log breaks off after sequence number "
            + (next < 0 ? chainStart - 1 : next - 1)
            + " (RocksDB: "
            + e.getMessage()
            + ")";
      }
    }
    if (next < 0) {
      return "no write-ahead log file holds sequence number " + chainStart;
    }
    if (next - 1 < latest) {
      return "the write-ahead log ends at sequence number " + (next - 1) + ", before " + latest;
    }
    return null;
  }

  /**
   * Deletes the archived WAL files (their contents are in table files), after recording durably
   * that the chain now starts at the oldest live WAL file.
   */
  static void prune(Path dir, RocksDB db, SyncedWatermark mark)
      throws RocksDBException, IOException {
    List<LogFile> files = db.getSortedWalFiles();
    List<LogFile> archived =
        files.stream().filter(f -> f.type() == WalFileType.kArchivedLogFile).toList();
    long start =
        files.stream()
            .filter(f -> f.type() == WalFileType.kAliveLogFile && f.startSequence() > 0)
            .mapToLong(LogFile::startSequence)
            .min()
            .orElse(db.getLatestSequenceNumber() + 1);
    mark.moveChainStart(start);
    for (LogFile f : archived) {
      Files.deleteIfExists(dir.resolve(f.pathName().replaceFirst("^/+", "")));
    }
    // Empty archived files hold nothing (RocksDB does not list them): they go too. A file archived
    // since the listing above may hold writes at or after the chain's start: it stays until next
    // time.
    Path archive = dir.resolve("archive");
    if (Files.isDirectory(archive)) {
      try (Stream<Path> s = Files.list(archive)) {
        for (Path f : s.filter(p -> p.getFileName().toString().endsWith(".log")).toList()) {
          if (Files.size(f) == 0) {
            Files.deleteIfExists(f);
          }
        }
      }
    }
  }
}
