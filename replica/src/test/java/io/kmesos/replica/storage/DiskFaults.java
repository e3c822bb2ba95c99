package io.kmesos.replica.storage;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;

/** What a failing disk or filesystem does to a file, done on purpose. */
public final class DiskFaults {
  private DiskFaults() {}

  public static void flipByte(Path file, long offset) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.seek(offset);
      int b = f.read();
      f.seek(offset);
      f.write(b ^ 0x10);
    }
  }

  public static void truncate(Path file, long length) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.setLength(length);
    }
  }
}
