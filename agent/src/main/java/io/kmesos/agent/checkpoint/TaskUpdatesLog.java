package io.kmesos.agent.checkpoint;

import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;

import com.google.protobuf.ByteString;
import io.kmesos.agent.checkpoint.CheckpointFormat.UpdatesScan;
import io.kmesos.api.agent.v1.TaskUpdateRecord;
import io.kmesos.api.v1.TaskStatus;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The append-only record of one task's status updates and acknowledgements ({@code task.updates}).
 * Each append is on disk when it returns (written, then fdatasync'd), so the caller may then
 * acknowledge the update to its source, or send the task's next update. Thread-safe.
 *
 * <p>An append that fails (a full disk, an I/O error) is undone: the file is cut back to where it
 * ended, so that no partial record is left before the next one (which would make it corruption
 * instead of a torn tail). If even that fails, the log refuses further appends.
 */
public final class TaskUpdatesLog implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(TaskUpdatesLog.class);

  private final Path file;
  private final FileChannel channel;
  private final List<TaskUpdateRecord> recovered;
  private long end;
  private IOException broken;

  private TaskUpdatesLog(Path file, FileChannel channel, long end, List<TaskUpdateRecord> records) {
    this.file = file;
    this.channel = channel;
    this.end = end;
    this.recovered = records;
  }

  /**
   * Opens the file for appending, creating it (atomically, with its header) if it does not exist.
   * An existing file is read first: a torn last record is cut off (and logged), damage before it
   * throws.
   */
  static TaskUpdatesLog open(Path file) throws IOException {
    if (!Files.exists(file)) {
      AtomicFiles.write(file, CheckpointFormat.updatesHeader());
    }
    FileChannel channel = FileChannel.open(file, READ, WRITE);
    try {
      UpdatesScan scan = CheckpointFormat.scanUpdates(file, readAll(channel));
      if (scan.tornTail().isPresent()) {
        LOG.warn("{}: cutting off a {}", file, scan.tornTail().get());
        channel.truncate(scan.validEnd());
        channel.force(false);
      }
      return new TaskUpdatesLog(file, channel, scan.validEnd(), scan.records());
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
  }

  /**
   * Opens a file that {@link CheckpointReader#recover} has just read and repaired (its torn tail
   * cut): appends go after its last byte, without reading it again. {@link #recordsAtOpen} is
   * empty.
   */
  static TaskUpdatesLog openRecovered(Path file) throws IOException {
    FileChannel channel = FileChannel.open(file, READ, WRITE);
    return new TaskUpdatesLog(file, channel, channel.size(), List.of());
  }

  static byte[] readAll(FileChannel channel) throws IOException {
    long size = channel.size();
    if (size > Integer.MAX_VALUE - 16) {
      throw new IOException("file of " + size + " bytes is too large for a checkpoint");
    }
    ByteBuffer b = ByteBuffer.allocate((int) size);
    while (b.hasRemaining()) {
      if (channel.read(b, b.position()) < 0) {
        break;
      }
    }
    byte[] bytes = new byte[b.position()];
    b.flip().get(bytes);
    return bytes;
  }

  public Path file() {
    return file;
  }

  /** What the file held when it was opened (after any torn tail was cut off). */
  public List<TaskUpdateRecord> recordsAtOpen() {
    return recovered;
  }

  /**
   * Records an update (with its UUID) durably.
   *
   * @throws IllegalArgumentException if it has no UUID
   */
  public void update(TaskStatus status) throws IOException {
    update(status, true);
  }

  /**
   * Records an update; durably only with {@code sync}, else once {@link #sync} returns (a batch of
   * appends to many logs that pays one wait for the disk, not one each: recovery's terminal
   * updates, none of which is sent before the batch is synced).
   */
  public void update(TaskStatus status, boolean sync) throws IOException {
    if (status.getUuid().isEmpty()) {
      throw new IllegalArgumentException(
          "a checkpointed update needs its UUID (task " + status.getTaskId() + ")");
    }
    append(TaskUpdateRecord.newBuilder().setUpdate(status).build(), sync);
  }

  /** Makes every append so far durable. */
  public synchronized void sync() throws IOException {
    channel.force(false);
  }

  /** Records the acknowledgement of the update with this UUID, durably. */
  public void acknowledge(ByteString uuid) throws IOException {
    if (uuid.isEmpty()) {
      throw new IllegalArgumentException("an acknowledgement needs the UUID it acknowledges");
    }
    append(TaskUpdateRecord.newBuilder().setAck(uuid).build(), true);
  }

  private synchronized void append(TaskUpdateRecord record, boolean sync) throws IOException {
    if (broken != null) {
      throw new IOException(file + " cannot be appended to since an earlier failure", broken);
    }
    if (!channel.isOpen()) {
      throw new IOException(file + " is closed");
    }
    ByteBuffer b = ByteBuffer.wrap(CheckpointFormat.encodeRecord(record));
    try {
      while (b.hasRemaining()) {
        channel.write(b, end + b.position());
      }
      // fdatasync: the data and the file's new size, which is all a reader needs.
      if (sync) {
        channel.force(false);
      }
      end += b.capacity();
    } catch (IOException e) {
      try {
        channel.truncate(end);
        channel.force(false);
      } catch (IOException again) {
        e.addSuppressed(again);
        broken = e;
      }
      throw e;
    }
  }

  /** Where the next record goes: the file's length. */
  public synchronized long length() {
    return end;
  }

  @Override
  public synchronized void close() throws IOException {
    channel.close();
  }
}
