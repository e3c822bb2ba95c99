package io.kmesos.replica.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * RocksDB's write-ahead log as a test aims damage at it: the documented LevelDB/RocksDB log format,
 * 32 KiB blocks of physical records, each with a 7-byte header (masked crc32c, length, type).
 */
public final class WalFile {
  static final int BLOCK = 32 * 1024;
  static final int HEADER = 7;

  private WalFile() {}

  /** One physical record: where its header starts, its payload length and its type. */
  public record Record(long offset, int length, int type) {
    /**
     * Full, first, middle and last fragments of write batches (not RocksDB's own metadata records).
     */
    public boolean holdsData() {
      return type >= 1 && type <= 4;
    }

    /**
     * The checksum, both length bytes, the type, and the payload's first, middle and last bytes.
     */
    public long[] interestingOffsets() {
      return new long[] {
        offset,
        offset + 4,
        offset + 5,
        offset + 6,
        offset + HEADER,
        offset + HEADER + length / 2,
        offset + HEADER + length - 1
      };
    }

    public long payloadMiddle() {
      return offset + HEADER + length / 2;
    }
  }

  public static List<Record> records(byte[] file) {
    List<Record> out = new ArrayList<>();
    ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
    int at = 0;
    while (at + HEADER <= file.length) {
      int leftInBlock = BLOCK - at % BLOCK;
      if (leftInBlock < HEADER) {
        at += leftInBlock; // the block's zero trailer
        continue;
      }
      int length = Short.toUnsignedInt(b.getShort(at + 4));
      int type = Byte.toUnsignedInt(b.get(at + 6));
      if (type == 0 && length == 0) {
        break;
      }
      if (type >= 5 && type <= 8) {
        throw new IllegalStateException("recyclable records (type " + type + ") are not expected");
      }
      out.add(new Record(at, length, type));
      at += HEADER + length;
    }
    return out;
  }

  /** The data directory's largest write-ahead log file (*.log, not RocksDB's LOG). */
  public static Path largest(Path dataDir) throws IOException {
    try (Stream<Path> s = Files.list(dataDir)) {
      return s.filter(p -> p.getFileName().toString().matches("[0-9]+\\.log"))
          .max(Comparator.comparingLong(p -> p.toFile().length()))
          .orElseThrow();
    }
  }

  /**
   * Flips a byte in the payload of the data record in the middle of {@code wal}; returns its
   * offset.
   */
  public static long flipByteInTheMiddle(Path wal) throws IOException {
    List<Record> data =
        records(Files.readAllBytes(wal)).stream().filter(Record::holdsData).toList();
    if (data.isEmpty()) {
      throw new IllegalStateException(wal + " holds no data record");
    }
    long offset = data.get(data.size() / 2).payloadMiddle();
    DiskFaults.flipByte(wal, offset);
    return offset;
  }
}
