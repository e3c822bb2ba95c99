package io.kmesos.replica.storage;

import com.google.protobuf.InvalidProtocolBufferException;
import io.kmesos.api.log.v1.Action;
import io.kmesos.api.log.v1.Metadata;
import io.kmesos.replica.core.Effects;
import io.kmesos.replica.core.ReplicaStorage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.rocksdb.Options;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * A replica's storage on RocksDB.
 *
 * <p>Key layout (one column family):
 * <pre>
 *   "I"                   identity: "kmesos-replica-log v1" (written once, when the database is created)
 *   "M"                   the replica's Metadata
 *   "A" + position (u64 big-endian)   the Action at that position; big-endian keys sort by position
 * </pre>
 * Every value except the identity is {@code crc32c (u32 big-endian) || protobuf}; a record whose
 * checksum does not match is reported with its key (the position, for actions) and never used.
 *
 * <p>Guarantees: an {@link Effects.Persist} (or a group of them) is one atomic WriteBatch, synced
 * when any of them asks for it, so a vote is on disk before its reply leaves. A directory that is not
 * empty and not a kmesos replica database is refused, never written to.
 */
public final class RocksStorage implements ReplicaStorage, AutoCloseable {
  static final byte[] IDENTITY_KEY = {'I'};
  static final byte[] METADATA_KEY = {'M'};
  static final byte ACTION_PREFIX = 'A';
  static final byte[] IDENTITY = "kmesos-replica-log v1".getBytes(StandardCharsets.US_ASCII);

  static {
    RocksDB.loadLibrary();
  }

  private final Path dir;
  private final Options options;
  private final RocksDB db;
  private final WriteOptions synced = new WriteOptions().setSync(true);
  private final WriteOptions unsynced = new WriteOptions().setSync(false);
  private Metadata metadata;

  private RocksStorage(Path dir, Options options, RocksDB db) {
    this.dir = dir;
    this.options = options;
    this.db = db;
  }

  /**
   * Opens the replica database in {@code dir}, creating it if {@code dir} is missing or empty.
   *
   * @throws StorageException if {@code dir} holds anything else, or a record is corrupt
   */
  public static RocksStorage open(Path dir) {
    boolean fresh;
    try {
      fresh = !Files.exists(dir) || isEmptyDirectory(dir);
      if (!fresh && !Files.isDirectory(dir)) {
        throw new StorageException(dir + " is not a directory");
      }
      if (!fresh && !Files.exists(dir.resolve("CURRENT"))) {
        throw new StorageException(dir + " is not empty and is not a kmesos replica database (no RocksDB "
            + "CURRENT file; it holds " + listSome(dir) + "); refusing to touch it");
      }
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new StorageException("cannot use " + dir + ": " + e.getMessage(), e);
    }
    Options options = new Options().setCreateIfMissing(fresh).setParanoidChecks(true);
    RocksDB db;
    try {
      db = RocksDB.open(options, dir.toString());
    } catch (RocksDBException e) {
      options.close();
      throw new StorageException("cannot open the replica database in " + dir + ": " + e.getMessage(), e);
    }
    RocksStorage storage = new RocksStorage(dir, options, db);
    try {
      byte[] identity = db.get(IDENTITY_KEY);
      if (fresh && identity == null) {
        db.put(storage.synced, IDENTITY_KEY, IDENTITY);
      } else if (identity == null || !Arrays.equals(identity, IDENTITY)) {
        throw new StorageException(dir + " is a RocksDB database but not a kmesos replica log ("
            + (identity == null ? "no identity record" : "identity '" + new String(identity, StandardCharsets.US_ASCII) + "'")
            + "); refusing to touch it");
      }
      byte[] m = db.get(METADATA_KEY);
      storage.metadata = m == null ? null : Metadata.parseFrom(verify(m, "metadata"));
      return storage;
    } catch (RocksDBException | InvalidProtocolBufferException | RuntimeException e) {
      storage.close();
      if (e instanceof StorageException se) {
        throw se;
      }
      throw new StorageException("cannot read the replica database in " + dir + ": " + e.getMessage(), e);
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
    long bytes = 0;
    try (ReadOptions ro = new ReadOptions(); RocksIterator it = db.newIterator(ro)) {
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
        if (!out.isEmpty() && bytes + a.getPayload().size() > maxPayloadBytes) {
          break;
        }
        bytes += a.getPayload().size();
        out.add(a);
      }
    }
    return out;
  }

  @Override
  public long end() {
    try (ReadOptions ro = new ReadOptions(); RocksIterator it = db.newIterator(ro)) {
      it.seekForPrev(actionKey(-1L)); // the largest unsigned position
      if (it.isValid() && it.key().length == 9 && it.key()[0] == ACTION_PREFIX) {
        return ByteBuffer.wrap(it.key(), 1, 8).getLong();
      }
      return 0;
    }
  }

  /** Applies the writes of one or more steps as one atomic batch, synced if any of them needs it. */
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
      db.write(sync ? synced : unsynced, batch);
      metadata = newMetadata;
    } catch (RocksDBException e) {
      // The process must not go on as if the vote were durable.
      throw new StorageException("writing to " + dir + " failed: " + e.getMessage(), e);
    }
  }

  public Path directory() {
    return dir;
  }

  @Override
  public void close() {
    synced.close();
    unsynced.close();
    db.close();
    options.close();
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
      throw new CorruptRecordException(what + ": record of " + record.length + " bytes is too short to hold a checksum");
    }
    CRC32C crc = new CRC32C();
    crc.update(record, 4, record.length - 4);
    int stored = ByteBuffer.wrap(record, 0, 4).getInt();
    if (stored != (int) crc.getValue()) {
      throw new CorruptRecordException(what + ": checksum mismatch (stored " + Integer.toHexString(stored)
          + ", computed " + Long.toHexString(crc.getValue()) + ")");
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
