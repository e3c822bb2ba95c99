package io.kmesos.replica.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.zip.CRC32C;

/**
 * What a replica's RocksDB must still hold after any crash, kept in a file of its own, apart from
 * RocksDB's write-ahead log (WAL): the highest sequence number ever synced, and where the WAL chain
 * that holds everything not yet in table files begins.
 *
 * <p>Why: RocksDB cannot tell a record torn by a crash (never synced, never acknowledged: safe to
 * drop) from a synced record whose bytes a disk or filesystem later damaged, truncated or deleted.
 * In its tolerant recovery modes it drops both without a word, and a replica that forgot a promise
 * or an accepted value breaks Paxos. {@link #synced()} is written (and fdatasync'd) after every
 * synced RocksDB write and before any reply that depends on it, so after any crash RocksDB must
 * recover at least that sequence number. Losing the end of the WAL shows there; losing a WAL file
 * before the last, or the middle of one, does not, so the WAL files from {@link #chainStart()} on
 * are read at start and must follow each other without a gap ({@link WalChain}).
 *
 * <p>Format: 28 bytes, overwritten in place: magic {@code KMSYNC02}, the synced sequence number and
 * the chain's start (u64 big-endian each), and a crc32c of those 24 bytes. An overwrite of one
 * sector is atomic on the disks this runs on, and a process crash cannot tear a write that the page
 * cache has taken. The file is created whole (written to a temporary name, synced, renamed), so a
 * crash while creating it leaves either no file or a complete one.
 */
final class SyncedWatermark implements AutoCloseable {
  static final String FILE_NAME = "KMESOS-SYNCED";
  private static final String CREATING = FILE_NAME + ".creating";
  private static final byte[] MAGIC = "KMSYNC02".getBytes(StandardCharsets.US_ASCII);
  private static final int SIZE = 28;

  private final Path file;
  private final FileChannel channel;
  private final ByteBuffer buffer = ByteBuffer.allocate(SIZE);
  private long synced;
  private long chainStart;

  private SyncedWatermark(Path file, FileChannel channel, long synced, long chainStart) {
    this.file = file;
    this.channel = channel;
    this.synced = synced;
    this.chainStart = chainStart;
  }

  /** Creates the file in {@code dir}, durably (its directory entry too). */
  static SyncedWatermark create(Path dir, long synced, long chainStart) throws IOException {
    Path creating = dir.resolve(CREATING);
    try (FileChannel c =
        FileChannel.open(
            creating,
            StandardOpenOption.CREATE,
            StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE)) {
      c.write(encode(synced, chainStart));
      c.force(true);
    }
    Path file = dir.resolve(FILE_NAME);
    Files.move(creating, file, StandardCopyOption.ATOMIC_MOVE);
    syncDirectory(dir);
    return new SyncedWatermark(
        file,
        FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE),
        synced,
        chainStart);
  }

  /**
   * Opens the file in {@code dir}.
   *
   * @return null if there is none
   * @throws StorageException if it is not a watermark (corrupt, wrong size, foreign)
   */
  static SyncedWatermark open(Path dir) throws IOException {
    Files.deleteIfExists(dir.resolve(CREATING)); // a creation cut short: it never counted
    Path file = dir.resolve(FILE_NAME);
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      return null;
    }
    decode(file, bytes);
    ByteBuffer b = ByteBuffer.wrap(bytes);
    return new SyncedWatermark(
        file,
        FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE),
        b.getLong(8),
        b.getLong(16));
  }

  /** The highest sequence number recorded as synced. */
  long synced() {
    return synced;
  }

  /** Every sequence number below this is in RocksDB's table files; the WAL files hold the rest. */
  long chainStart() {
    return chainStart;
  }

  /** Records {@code sequence} (one whose write RocksDB has synced) durably. */
  void advance(long sequence) throws IOException {
    if (sequence > synced) {
      write(sequence, chainStart);
    }
  }

  /** Records that everything below {@code start} is in table files (before older WAL files go). */
  void moveChainStart(long start) throws IOException {
    if (start > chainStart) {
      write(synced, start);
    }
  }

  private void write(long newSynced, long newChainStart) throws IOException {
    buffer.clear();
    buffer.put(encode(newSynced, newChainStart)).flip();
    while (buffer.hasRemaining()) {
      channel.write(buffer, buffer.position());
    }
    channel.force(false);
    synced = newSynced;
    chainStart = newChainStart;
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }

  private static ByteBuffer encode(long synced, long chainStart) {
    ByteBuffer b = ByteBuffer.allocate(SIZE);
    b.put(MAGIC).putLong(synced).putLong(chainStart);
    b.putInt(crc(b.array(), 24)).flip();
    return b;
  }

  private static void decode(Path file, byte[] bytes) {
    boolean magic =
        bytes.length >= MAGIC.length
            && Arrays.equals(bytes, 0, MAGIC.length, MAGIC, 0, MAGIC.length);
    if (bytes.length != SIZE || !magic) {
      throw new StorageException(
          file
              + " is damaged ("
              + bytes.length
              + " bytes, "
              + (magic ? "expected " + SIZE : "not a kmesos synced watermark")
              + ")");
    }
    if (ByteBuffer.wrap(bytes).getInt(24) != crc(bytes, 24)) {
      throw new StorageException(file + " is damaged (checksum mismatch)");
    }
  }

  private static int crc(byte[] bytes, int length) {
    CRC32C crc = new CRC32C();
    crc.update(bytes, 0, length);
    return (int) crc.getValue();
  }

  static void syncDirectory(Path dir) throws IOException {
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    }
  }
}
