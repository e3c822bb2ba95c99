package io.kmesos.replica.storage;

import com.google.protobuf.InvalidProtocolBufferException;
import io.kmesos.api.log.v1.Action;
import io.kmesos.api.log.v1.Metadata;
import io.kmesos.replica.core.Effects;
import io.kmesos.replica.core.PayloadBudget;
import io.kmesos.replica.core.ReplicaStorage;
import io.micrometer.core.instrument.Timer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.rocksdb.FlushOptions;
import org.rocksdb.Options;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WALRecoveryMode;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * A replica's storage on RocksDB.
 *
 * <p>Key layout (one column family):
 *
 * <pre>
 *   "I"                   identity: "kmesos-replica-log v1" (written once, when the database is created)
 *   "M"                   the replica's Metadata
 *   "A" + position (u64 big-endian)   the Action at that position; big-endian keys sort by position
 * </pre>
 *
 * Every value except the identity is {@code crc32c (u32 big-endian) || protobuf}; a record whose
 * checksum does not match is reported with its key (the position, for actions) and never used.
 *
 * <p>Guarantees: an {@link Effects.Persist} (or a group of them) is one atomic WriteBatch, synced
 * when any of them asks for it, so a vote is on disk before its reply leaves. A directory that is
 * not empty and not a kmesos replica database is refused, never written to. Storage that lost or
 * damaged anything it had synced is refused at {@link #open} (see {@link SyncedWatermark}); damage
 * found later, while serving, is reported as a {@link CorruptRecordException} naming what RocksDB
 * found.
 */
public final class RocksStorage implements ReplicaStorage, AutoCloseable {
  static final byte[] IDENTITY_KEY = {'I'};
  static final byte[] METADATA_KEY = {'M'};
  static final byte ACTION_PREFIX = 'A';
  static final byte[] IDENTITY = "kmesos-replica-log v1".getBytes(StandardCharsets.US_ASCII);

  static {
    RocksNativeLibrary.load();
  }

  private final Path dir;
  private final Options options;
  private final RocksLog rocksLog;
  private final RocksDB db;
  private final WriteOptions synced = new WriteOptions().setSync(true);
  private final WriteOptions unsynced = new WriteOptions().setSync(false);
  private SyncedWatermark watermark;
  private Metadata metadata;

  /**
   * How long each synced write takes to be durable (the fsync latency on /metrics); none until
   * measured.
   */
  private Timer syncedWrites;

  private RocksStorage(Path dir, Options options, RocksLog rocksLog, RocksDB db) {
    this.dir = dir;
    this.options = options;
    this.rocksLog = rocksLog;
    this.db = db;
  }

  /**
   * Opens the replica database in {@code dir}, creating it if {@code dir} is missing or empty.
   *
   * <p>RocksDB replays its write-ahead log tolerating only an incomplete last record (a write torn
   * by a crash); any other damage it finds makes it refuse to open. What it cannot see (a
   * torn-looking end that had in fact been synced, a truncated or deleted WAL file) the {@link
   * SyncedWatermark} and the {@link WalChain} catch: the recovered sequence number must reach the
   * highest one ever synced, and the WAL files must hold every write since the table files end.
   * Then every block of every table file is checked. Damage of any kind is refused with a message
   * naming what was found; nothing damaged is ever served. Once all is checked, what the WAL held
   * is flushed into a table file, so that the next start reads little of it.
   *
   * @throws StorageException if {@code dir} holds anything else, or anything in it is damaged
   */
  public static RocksStorage open(Path dir) {
    boolean fresh;
    try {
      fresh = !Files.exists(dir) || isEmptyDirectory(dir) || creationCutShort(dir);
      if (!fresh && !Files.isDirectory(dir)) {
        throw new StorageException(dir + " is not a directory");
      }
      if (!fresh && !Files.exists(dir.resolve("CURRENT"))) {
        if (Files.exists(dir.resolve(SyncedWatermark.FILE_NAME))) {
          throw damaged(
              dir, "RocksDB's CURRENT file is missing (the directory holds " + listSome(dir) + ")");
        }
        throw new StorageException(
            dir
                + " is not empty and is not a kmesos replica database (no RocksDB "
                + "CURRENT file; it holds "
                + listSome(dir)
                + "); refusing to touch it");
      }
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new StorageException("cannot use " + dir + ": " + e.getMessage(), e);
    }
    RocksLog rocksLog = new RocksLog();
    Options options =
        new Options()
            .setCreateIfMissing(fresh)
            .setParanoidChecks(true)
            .setLogger(rocksLog)
            .setWalRecoveryMode(WALRecoveryMode.TolerateCorruptedTailRecords)
            // Keep the replayed WAL files until the checks below are done: if this start is
            // refused, the
            // damaged file is still there to be named and examined.
            .setAvoidFlushDuringRecovery(true)
            // Flushed WAL files are archived, not deleted: only WalChain.prune deletes them.
            .setWalTtlSeconds(WalChain.ARCHIVE_TTL_SECONDS);
    RocksDB db;
    try {
      db = RocksDB.open(options, dir.toString());
    } catch (RocksDBException e) {
      options.close();
      rocksLog.close();
      throw damaged(dir, "RocksDB refused to open it: " + e.getMessage() + reported(rocksLog), e);
    }
    RocksStorage storage = new RocksStorage(dir, options, rocksLog, db);
    try {
      storage.watermark = SyncedWatermark.open(dir);
      long recovered = db.getLatestSequenceNumber();
      if (storage.watermark != null) {
        if (recovered < storage.watermark.synced()) {
          throw damaged(
              dir,
              "writes it had synced are gone: RocksDB recovered up to sequence number "
                  + recovered
                  + " but "
                  + storage.watermark.synced()
                  + " had been synced ("
                  + SyncedWatermark.FILE_NAME
                  + "); "
                  + describeLogFiles(dir)
                  + " lost them (damaged, truncated or deleted)"
                  + reported(rocksLog));
        }
        String gap = WalChain.check(db, storage.watermark.chainStart(), recovered);
        if (gap != null) {
          throw damaged(
              dir,
              "writes it had synced are gone: "
                  + gap
                  + " ("
                  + describeLogFiles(dir)
                  + ")"
                  + reported(rocksLog));
        }
      }
      try {
        db.verifyChecksum();
      } catch (RocksDBException e) {
        throw damaged(dir, e.getMessage() + reported(rocksLog), e);
      }
      byte[] identity = db.get(IDENTITY_KEY);
      if (identity == null && storage.watermark == null && storage.isEmpty()) {
        // Created just now, or a creation cut short before it wrote anything: nothing to lose.
        db.put(storage.synced, IDENTITY_KEY, IDENTITY);
      } else if (identity == null || !Arrays.equals(identity, IDENTITY)) {
        throw new StorageException(
            dir
                + " is a RocksDB database but not a kmesos replica log ("
                + (identity == null
                    ? "no identity record"
                    : "identity '" + new String(identity, StandardCharsets.US_ASCII) + "'")
                + "); refusing to touch it");
      }
      byte[] m = db.get(METADATA_KEY);
      storage.metadata = m == null ? null : Metadata.parseFrom(verify(m, "metadata"));
      if (storage.watermark == null) {
        if (storage.metadata != null || storage.end() > 0) {
          throw damaged(
              dir,
              "its synced watermark "
                  + SyncedWatermark.FILE_NAME
                  + " is missing, so what RocksDB "
                  + "recovered cannot be checked against what it had synced");
        }
        // Nothing was ever acknowledged from here (no metadata: it never voted); the chain starts
        // with the first write.
        storage.watermark = SyncedWatermark.create(dir, db.getLatestSequenceNumber(), 1);
      }
      try (FlushOptions flush = new FlushOptions().setWaitForFlush(true)) {
        db.flush(flush);
      }
      storage.pruneWalArchive();
      return storage;
    } catch (RocksDBException | IOException | RuntimeException e) {
      storage.close();
      if (e instanceof StorageException se) {
        throw se;
      }
      throw new StorageException(
          "cannot read the replica database in " + dir + ": " + e.getMessage(), e);
    }
  }

  /**
   * Deletes the WAL files whose writes are all in table files (RocksDB archives them when it
   * flushes; see {@link WalChain}). Called at start and from time to time by the server, which
   * bounds both the disk they take and what the next start reads.
   */
  public void pruneWalArchive() {
    try {
      WalChain.prune(dir, db, watermark);
    } catch (RocksDBException | IOException e) {
      throw new StorageException(
          "pruning the write-ahead log archive in " + dir + " failed: " + e.getMessage(), e);
    }
  }

  /**
   * A directory where RocksDB began to create a database but never got as far as its CURRENT file
   * (the process was killed during its very first start): only RocksDB's own creation files, no
   * watermark. Nothing was ever written there, so it is started afresh, not refused as foreign.
   */
  private static boolean creationCutShort(Path dir) throws IOException {
    if (!Files.isDirectory(dir)
        || Files.exists(dir.resolve("CURRENT"))
        || Files.exists(dir.resolve(SyncedWatermark.FILE_NAME))) {
      return false;
    }
    try (Stream<Path> s = Files.list(dir)) {
      List<Path> files = s.toList();
      if (!files.stream()
          .allMatch(
              f ->
                  f.getFileName()
                      .toString()
                      .matches(
                          "LOCK|LOG|LOG\\.old\\.\\d+|IDENTITY|MANIFEST-\\d+|OPTIONS-\\d+|\\d+\\.dbtmp|OPTIONS-\\d+\\.dbtmp"
                              + "|"
                              + SyncedWatermark.FILE_NAME
                              + "\\.creating"))) {
        return false;
      }
      for (Path f : files) {
        Files.delete(f);
      }
      return true;
    }
  }

  /**
   * What an operator reads when a replica refuses its storage: what was found, and the way out (a
   * wiped replica recovers the log from its peers, as a new one does, before it votes again).
   */
  static StorageException damaged(Path dir, String what, Throwable cause) {
    return new StorageException(
        "the replica's storage in "
            + dir
            + " is damaged: "
            + what
            + ". Refusing to start: "
            + "it could vote without what it acknowledged before. If the disk is sound, wipe "
            + dir
            + " and start the replica again: it recovers the log from its peers before it votes",
        cause);
  }

  static StorageException damaged(Path dir, String what) {
    return damaged(dir, what, null);
  }

  /**
   * What RocksDB's log said about the damage: the file and how much it dropped, which its status
   * leaves out (lines that only repeat the status are left out).
   */
  private static String reported(RocksLog rocksLog) {
    List<String> lines =
        rocksLog.recent().stream()
            .map(l -> l.replaceFirst("^\\[[^\\]]*\\.cc:\\d+\\] ", ""))
            .filter(
                l ->
                    (l.contains("Corruption") || l.contains("dropping") || l.contains("error"))
                        && !l.startsWith("DB::Open() failed"))
            .toList();
    return lines.isEmpty() ? "" : " (RocksDB: " + String.join("; ", lines) + ")";
  }

  private static String describeLogFiles(Path dir) throws IOException {
    List<String> logs = new ArrayList<>();
    for (Path d : List.of(dir, dir.resolve("archive"))) {
      if (!Files.isDirectory(d)) {
        continue;
      }
      try (Stream<Path> s = Files.list(d)) {
        s.filter(p -> p.getFileName().toString().endsWith(".log"))
            .sorted()
            .forEach(
                p -> {
                  String name = dir.relativize(p).toString();
                  try {
                    logs.add(name + " (" + Files.size(p) + " bytes)");
                  } catch (IOException e) {
                    logs.add(name);
                  }
                });
      }
    }
    return logs.isEmpty()
        ? "no write-ahead log file is left: it"
        : logs.size() == 1
            ? "its write-ahead log " + logs.get(0)
            : "its write-ahead log files " + String.join(", ", logs);
  }

  /**
   * True if the database holds no record at all (a creation that never got as far as its identity).
   */
  private boolean isEmpty() {
    try (ReadOptions ro = new ReadOptions();
        RocksIterator it = db.newIterator(ro)) {
      it.seekToFirst();
      boolean empty = !it.isValid();
      check(it, "the database's first record");
      return empty;
    }
  }

  @Override
  public Metadata metadata() {
    return metadata;
  }

  @Override
  public List<Action> range(long from, long to, int limit, long maxPayloadBytes) {
    List<Action> out = new ArrayList<>();
    if (from > to || limit <= 0) {
      return out;
    }
    PayloadBudget budget = new PayloadBudget(maxPayloadBytes);
    try (ReadOptions ro = new ReadOptions();
        RocksIterator it = db.newIterator(ro)) {
      for (it.seek(actionKey(from)); it.isValid() && out.size() < limit; it.next()) {
        byte[] key = it.key();
        if (key.length != 9 || key[0] != ACTION_PREFIX) {
          break;
        }
        long position = ByteBuffer.wrap(key, 1, 8).getLong();
        if (position > to) {
          break;
        }
        Action a = parseAction(position, it.value());
        if (!budget.tryAdd(a)) {
          break;
        }
        out.add(a);
      }
      check(it, "positions from " + Long.toUnsignedString(from));
    }
    return out;
  }

  @Override
  public long end() {
    try (ReadOptions ro = new ReadOptions();
        RocksIterator it = db.newIterator(ro)) {
      it.seekForPrev(actionKey(-1L)); // the largest unsigned position
      if (it.isValid() && it.key().length == 9 && it.key()[0] == ACTION_PREFIX) {
        return ByteBuffer.wrap(it.key(), 1, 8).getLong();
      }
      check(it, "the last position");
      return 0;
    }
  }

  /**
   * Records in {@code timer} how long every synced write takes, from the write to its watermark:
   * what a vote waits for before it may be answered. Call before the first {@link #apply}.
   */
  public void measureSyncedWrites(Timer timer) {
    this.syncedWrites = timer;
  }

  /**
   * Applies the writes of one or more steps as one atomic batch, synced if any of them needs it.
   */
  public void apply(List<Effects.Persist> writes) {
    if (writes.isEmpty()) {
      return;
    }
    boolean sync = false;
    Metadata newMetadata = metadata;
    try (WriteBatch batch = new WriteBatch()) {
      for (Effects.Persist p : writes) {
        sync |= p.sync();
        if (p.deleteAll()) {
          batch.deleteRange(actionKey(0), actionKey(-1L));
          batch.delete(actionKey(-1L));
        }
        if (p.deleteBelow() > 0) {
          batch.deleteRange(actionKey(0), actionKey(p.deleteBelow()));
        }
        if (p.metadata() != null) {
          newMetadata = p.metadata();
          batch.put(METADATA_KEY, seal(p.metadata().toByteArray()));
        }
        for (Action a : p.actions()) {
          batch.put(actionKey(a.getPosition()), seal(a.toByteArray()));
        }
      }
      long started = System.nanoTime();
      db.write(sync ? synced : unsynced, batch);
      if (sync) {
        // Before any reply that depends on this write: see SyncedWatermark.
        watermark.advance(db.getLatestSequenceNumber());
        if (syncedWrites != null) {
          syncedWrites.record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
        }
      }
      metadata = newMetadata;
    } catch (RocksDBException | IOException e) {
      // The process must not go on as if the vote were durable.
      throw new StorageException("writing to " + dir + " failed: " + e.getMessage(), e);
    }
  }

  /**
   * An iterator stops (invalid) both at the end and at damage: tell them apart, so that damage is
   * reported as what it is (RocksDB names the corrupt file and offset) rather than as a missing
   * record.
   */
  private void check(RocksIterator it, String reading) {
    try {
      it.status();
    } catch (RocksDBException e) {
      throw new CorruptRecordException(
          "reading " + reading + " from " + dir + " failed: " + e.getMessage());
    }
  }

  @Override
  public void close() {
    if (watermark != null) {
      try {
        watermark.close();
      } catch (IOException e) {
        // nothing was pending: every advance() forced its write
      }
    }
    synced.close();
    unsynced.close();
    db.close();
    options.close();
    rocksLog.close();
  }

  // ---- encoding -----------------------------------------------------------------------------

  static byte[] actionKey(long position) {
    return ByteBuffer.allocate(9).put(ACTION_PREFIX).putLong(position).array();
  }

  static byte[] seal(byte[] body) {
    CRC32C crc = new CRC32C();
    crc.update(body);
    return ByteBuffer.allocate(4 + body.length).putInt((int) crc.getValue()).put(body).array();
  }

  static byte[] verify(byte[] record, String what) {
    if (record.length < 4) {
      throw new CorruptRecordException(
          what + ": record of " + record.length + " bytes is too short to hold a checksum");
    }
    CRC32C crc = new CRC32C();
    crc.update(record, 4, record.length - 4);
    int stored = ByteBuffer.wrap(record, 0, 4).getInt();
    if (stored != (int) crc.getValue()) {
      throw new CorruptRecordException(
          what
              + ": checksum mismatch (stored "
              + Integer.toHexString(stored)
              + ", computed "
              + Long.toHexString(crc.getValue())
              + ")");
    }
    return Arrays.copyOfRange(record, 4, record.length);
  }

  private static Action parseAction(long position, byte[] value) {
    String what = "action at position " + Long.toUnsignedString(position);
    try {
      Action a = Action.parseFrom(verify(value, what));
      if (a.getPosition() != position) {
        throw new CorruptRecordException(what + ": the record says position " + a.getPosition());
      }
      return a;
    } catch (InvalidProtocolBufferException e) {
      throw new CorruptRecordException(what + ": not a valid record (" + e.getMessage() + ")");
    }
  }

  private static boolean isEmptyDirectory(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return false;
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.findAny().isEmpty();
    }
  }

  private static String listSome(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      List<String> names = s.map(p -> p.getFileName().toString()).sorted().limit(5).toList();
      return String.join(", ", names) + (names.size() == 5 ? ", ..." : "");
    }
  }
}
