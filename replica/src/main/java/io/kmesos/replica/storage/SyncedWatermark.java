package io.kmesos.replica.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.zip.CRC32C;

/**
 * The highest RocksDB sequence number this replica has synced, kept in a file of its own, apart from
 * RocksDB's write-ahead log.
 *
 * <p>Why: RocksDB cannot tell a record torn by a crash (never synced, never acknowledged: safe to
 * drop) from a synced record whose bytes a disk or filesystem later damaged, truncated or deleted.
 * In its tolerant recovery modes it drops both without a word, and a replica that forgot a promise
 * or an accepted value breaks Paxos. This file is written (and fdatasync'd) after every synced
 * RocksDB write and before any reply that depends on it, so after any crash RocksDB must recover
 * at least this sequence number; if it recovers less, synced data was lost and the replica refuses
 * to start ({@link RocksStorage#open}).
 *
 * <p>Format: 20 bytes, overwritten in place: magic {@code KMSYNC01}, the sequence number (u64
 * big-endian), and a crc32c of those 16 bytes. An overwrite of one sector is atomic on the disks
 * this runs on, and a process crash cannot tear a write that the page cache has taken.
 */
final class SyncedWatermark implements AutoCloseable {
  static final String FILE_NAME = "KMESOS-SYNCED";
  private static final byte[] MAGIC = "KMSYNC01".getBytes(StandardCharsets.US_ASCII);
  private static final int SIZE = 20;

  private final Path file;
  private final FileChannel channel;
  private final ByteBuffer buffer = ByteBuffer.allocate(SIZE);
  private long sequence;

  private SyncedWatermark(Path file, FileChannel channel, long sequence) {
    this.file = file;
    this.channel = channel;
    this.sequence = sequence;
  }

  /** Creates the file in {@code dir} holding {@code sequence}, durably (the directory entry too). */
  static SyncedWatermark create(Path dir, long sequence) throws IOException {
    Path file = dir.resolve(FILE_NAME);
    FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
        StandardOpenOption.WRITE);
    SyncedWatermark mark = new SyncedWatermark(file, channel, -1);
    try {
      mark.advance(sequence);
      try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
        d.force(true);
      }
      return mark;
    } catch (IOException | RuntimeException e) {
      mark.close();
      throw e;
    }
  }

  /**
   * Opens the file in {@code dir}.
   *
   * @return null if there is none
   * @throws StorageException if it is not a watermark (corrupt, wrong size, foreign)
   */
  static SyncedWatermark open(Path dir) throws IOException {
    Path file = dir.resolve(FILE_NAME);
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      return null;
    }
    long sequence = decode(file, bytes);
    return new SyncedWatermark(file, FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE), sequence);
  }

  /** The highest sequence number recorded as synced. */
  long sequence() {
    return sequence;
  }

  Path file() {
    return file;
  }

  /** Records {@code synced} (a sequence number whose write RocksDB has synced) durably. */
  void advance(long synced) throws IOException {
    if (synced <= sequence) {
      return;
    }
    buffer.clear();
    buffer.put(MAGIC).putLong(synced);
    buffer.putInt(crc(buffer.array(), 16)).flip();
    while (buffer.hasRemaining()) {
      channel.write(buffer, buffer.position());
    }
    channel.force(false);
    sequence = synced;
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }

  private static long decode(Path file, byte[] bytes) {
    if (bytes.length != SIZE || !Arrays.equals(bytes, 0, MAGIC.length, MAGIC, 0, MAGIC.length)) {
      throw new StorageException(file + " is damaged (" + bytes.length + " bytes, "
          + (bytes.length >= MAGIC.length && Arrays.equals(bytes, 0, MAGIC.length, MAGIC, 0, MAGIC.length)
              ? "expected " + SIZE : "not a kmesos synced watermark") + ")");
    }
    ByteBuffer b = ByteBuffer.wrap(bytes);
    long sequence = b.getLong(8);
    if (b.getInt(16) != crc(bytes, 16)) {
      throw new StorageException(file + " is damaged (checksum mismatch)");
    }
    return sequence;
  }

  private static int crc(byte[] bytes, int length) {
    CRC32C crc = new CRC32C();
    crc.update(bytes, 0, length);
    return (int) crc.getValue();
  }
}
