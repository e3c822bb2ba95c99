package io.kmesos.agent.checkpoint;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import io.kmesos.api.agent.v1.TaskUpdateRecord;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.zip.CRC32C;

/**
 * The bytes of checkpoint files (docs/agent-checkpoints.md). Big-endian throughout.
 *
 * <p>A whole file (every kind but {@link FileKind#TASK_UPDATES}):
 *
 * <pre>
 *   0  4  magic "KMCP"
 *   4  1  format version (1)
 *   5  1  kind ({@link FileKind#code})
 *   6  2  reserved, 0
 *   8  4  payload length n
 *  12  n  payload: the kind's protobuf message
 * 12+n 4  CRC32C of bytes [0, 12+n)
 * </pre>
 *
 * <p>An updates file: a 12-byte header (the first 8 bytes as above, then their CRC32C), then
 * records, each:
 *
 * <pre>
 *   0  4  body length n, 1 &lt;= n &lt;= {@link #MAX_RECORD}
 *   4  4  CRC32C of the 4 length bytes and the body
 *   8  n  body: a TaskUpdateRecord
 * </pre>
 *
 * <p>Whatever fails these checks is never used. In an updates file, a record that fails them with
 * no intact record after it is what an append interrupted by a crash leaves (appends are fsync'd
 * one by one, so only the last can be torn): {@link #scanUpdates} reports it as a torn tail, to be
 * cut off. A failing record followed by an intact one is damage to data that was once durable:
 * corruption.
 */
public final class CheckpointFormat {
  static final byte[] MAGIC = {'K', 'M', 'C', 'P'};
  static final int VERSION = 1;
  static final int HEADER = 12;
  static final int TRAILER = 4;
  static final int UPDATES_HEADER = 12;
  static final int RECORD_HEADER = 8;

  /** Far above any status update (whose message is bounded by the gRPC message size, 4 MiB). */
  public static final int MAX_RECORD = 8 << 20;

  private CheckpointFormat() {}

  /** A whole file of this kind holding {@code payload}. */
  public static byte[] encodeFile(FileKind kind, Message payload) {
    if (kind == FileKind.TASK_UPDATES) {
      throw new IllegalArgumentException("an updates file is written record by record");
    }
    byte[] body = payload.toByteArray();
    ByteBuffer b = ByteBuffer.allocate(HEADER + body.length + TRAILER);
    b.put(MAGIC).put((byte) VERSION).put((byte) kind.code()).putShort((short) 0);
    b.putInt(body.length).put(body);
    b.putInt(crc(b.array(), 0, HEADER + body.length));
    return b.array();
  }

  /**
   * The payload of a whole file of kind {@code expected}.
   *
   * @throws CheckpointCorruptException if it is not one, or not intact
   */
  public static Message decodeFile(Path file, byte[] bytes, FileKind expected)
      throws CheckpointCorruptException {
    checkHeader(file, bytes, expected);
    if (bytes.length < HEADER + TRAILER) {
      throw new CheckpointCorruptException(
          file, "is truncated: " + bytes.length + " bytes, less than an empty payload's 16");
    }
    ByteBuffer b = ByteBuffer.wrap(bytes);
    long length = Integer.toUnsignedLong(b.getInt(8));
    if (length != bytes.length - HEADER - TRAILER) {
      throw new CheckpointCorruptException(
          file,
          "is "
              + (length > bytes.length - HEADER - TRAILER ? "truncated" : "damaged")
              + ": its header says "
              + length
              + " bytes of payload, it holds "
              + (bytes.length - HEADER - TRAILER));
    }
    int stored = b.getInt(bytes.length - TRAILER);
    int actual = crc(bytes, 0, bytes.length - TRAILER);
    if (stored != actual) {
      throw new CheckpointCorruptException(
          file,
          String.format(
              "is damaged: checksum mismatch (stored %08x, computed %08x)", stored, actual));
    }
    try {
      return expected.parser().parseFrom(bytes, HEADER, (int) length);
    } catch (InvalidProtocolBufferException e) {
      throw new CheckpointCorruptException(
          file, "is damaged: intact checksum but not a valid payload (" + e.getMessage() + ")");
    }
  }

  /** The header an updates file starts with. */
  public static byte[] updatesHeader() {
    ByteBuffer b = ByteBuffer.allocate(UPDATES_HEADER);
    b.put(MAGIC).put((byte) VERSION).put((byte) FileKind.TASK_UPDATES.code()).putShort((short) 0);
    b.putInt(crc(b.array(), 0, 8));
    return b.array();
  }

  /** One record of an updates file. */
  public static byte[] encodeRecord(TaskUpdateRecord record) {
    byte[] body = record.toByteArray();
    if (body.length == 0 || body.length > MAX_RECORD) {
      throw new IllegalArgumentException(
          "an update record must be 1.." + MAX_RECORD + " bytes, not " + body.length);
    }
    ByteBuffer b = ByteBuffer.allocate(RECORD_HEADER + body.length);
    b.putInt(body.length).putInt(0).put(body);
    b.putInt(4, recordCrc(b.array(), 0, body.length));
    return b.array();
  }

  /** What an updates file holds. */
  public record UpdatesScan(
      List<TaskUpdateRecord> records,
      /** Where the intact records end: the file's length, unless there is a torn tail. */
      long validEnd,
      long length,
      /** Why the bytes from validEnd on are a torn last record, if they are. */
      Optional<String> tornTail) {}

  /**
   * Reads the records of an updates file.
   *
   * @throws CheckpointCorruptException for a bad header, or damage before the last record
   */
  public static UpdatesScan scanUpdates(Path file, byte[] bytes) throws CheckpointCorruptException {
    if (bytes.length < UPDATES_HEADER) {
      // Created whole by an atomic rename: a short header is damage, not a torn write.
      checkHeader(file, bytes, FileKind.TASK_UPDATES);
      throw new CheckpointCorruptException(
          file, "is truncated: " + bytes.length + " bytes, shorter than its 12-byte header");
    }
    checkHeader(file, bytes, FileKind.TASK_UPDATES);
    if (ByteBuffer.wrap(bytes).getInt(8) != crc(bytes, 0, 8)) {
      throw new CheckpointCorruptException(
          file, "is damaged: its header's checksum does not match");
    }
    List<TaskUpdateRecord> records = new ArrayList<>();
    int pos = UPDATES_HEADER;
    while (pos < bytes.length) {
      String invalid = invalidRecord(bytes, pos);
      if (invalid != null) {
        for (int next = pos + 1; next + RECORD_HEADER < bytes.length; next++) {
          if (invalidRecord(bytes, next) == null && decodable(bytes, next)) {
            throw new CheckpointCorruptException(
                file,
                "is damaged: the record at offset "
                    + pos
                    + " "
                    + invalid
                    + ", and an intact record follows at offset "
                    + next);
          }
        }
        return new UpdatesScan(
            List.copyOf(records),
            pos,
            bytes.length,
            Optional.of(
                "torn last record at offset "
                    + pos
                    + " ("
                    + invalid
                    + "): "
                    + (bytes.length - pos)
                    + " bytes after the last intact record"));
      }
      int length = ByteBuffer.wrap(bytes).getInt(pos);
      TaskUpdateRecord record;
      try {
        record = TaskUpdateRecord.parseFrom(ByteBuffer.wrap(bytes, pos + RECORD_HEADER, length));
      } catch (InvalidProtocolBufferException e) {
        record = null;
      }
      if (record == null || record.getKindCase() == TaskUpdateRecord.KindCase.KIND_NOT_SET) {
        throw new CheckpointCorruptException(
            file,
            "is damaged: the record at offset "
                + pos
                + " has an intact checksum but is not an update or an acknowledgement");
      }
      records.add(record);
      pos += RECORD_HEADER + length;
    }
    return new UpdatesScan(List.copyOf(records), pos, bytes.length, Optional.empty());
  }

  /** Null if an intact record starts at {@code pos}, else what is wrong with it. */
  private static String invalidRecord(byte[] bytes, int pos) {
    int remaining = bytes.length - pos;
    if (remaining < RECORD_HEADER) {
      return "has " + remaining + " of its 8 header bytes";
    }
    ByteBuffer b = ByteBuffer.wrap(bytes);
    long length = Integer.toUnsignedLong(b.getInt(pos));
    if (length == 0 || length > MAX_RECORD) {
      return "has an impossible length " + length;
    }
    if (remaining - RECORD_HEADER < length) {
      return "has " + (remaining - RECORD_HEADER) + " of its " + length + " bytes";
    }
    if (b.getInt(pos + 4) != recordCrc(bytes, pos, (int) length)) {
      return "fails its checksum";
    }
    return null;
  }

  private static boolean decodable(byte[] bytes, int pos) {
    try {
      int length = ByteBuffer.wrap(bytes).getInt(pos);
      return TaskUpdateRecord.parseFrom(ByteBuffer.wrap(bytes, pos + RECORD_HEADER, length))
              .getKindCase()
          != TaskUpdateRecord.KindCase.KIND_NOT_SET;
    } catch (InvalidProtocolBufferException e) {
      return false;
    }
  }

  private static void checkHeader(Path file, byte[] bytes, FileKind expected)
      throws CheckpointCorruptException {
    for (int i = 0; i < MAGIC.length; i++) {
      if (i >= bytes.length) {
        throw new CheckpointCorruptException(
            file,
            bytes.length == 0
                ? "is empty"
                : "is truncated: " + bytes.length + " bytes, shorter than a checkpoint header");
      }
      if (bytes[i] != MAGIC[i]) {
        throw new CheckpointCorruptException(
            file, "is not a kmesos checkpoint file (it does not start with \"KMCP\")");
      }
    }
    if (bytes.length < 6) {
      throw new CheckpointCorruptException(
          file, "is truncated: " + bytes.length + " bytes, shorter than a checkpoint header");
    }
    int version = Byte.toUnsignedInt(bytes[4]);
    if (version != VERSION) {
      throw new CheckpointCorruptException(
          file,
          "has format version "
              + version
              + ", which this agent does not read (it reads version "
              + VERSION
              + ")");
    }
    int code = Byte.toUnsignedInt(bytes[5]);
    if (code != expected.code()) {
      FileKind actual = FileKind.ofCode(code);
      throw new CheckpointCorruptException(
          file,
          "is foreign: it holds "
              + (actual == null ? "an unknown kind " + code : "a " + actual.fileName())
              + " checkpoint, not a "
              + expected.fileName());
    }
  }

  static int crc(byte[] bytes, int offset, int length) {
    CRC32C c = new CRC32C();
    c.update(bytes, offset, length);
    return (int) c.getValue();
  }

  /** Over the length field and the body of the record at {@code pos}. */
  private static int recordCrc(byte[] bytes, int pos, int length) {
    CRC32C c = new CRC32C();
    c.update(bytes, pos, 4);
    c.update(bytes, pos + RECORD_HEADER, length);
    return (int) c.getValue();
  }
}
