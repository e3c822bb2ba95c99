package io.kmesos.agent.checkpoint;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** The host's boot ID: a random UUID the kernel picks at every boot. */
public final class BootId {
  public static final Path LINUX = Path.of("/proc/sys/kernel/random/boot_id");

  private BootId() {}

  /** This host's boot ID (Linux). */
  public static String current() throws IOException {
    return read(LINUX);
  }

  /** The boot ID in {@code file} (for tests: a file of their own). */
  public static String read(Path file) throws IOException {
    String id = Files.readString(file, StandardCharsets.US_ASCII).trim();
    if (id.isEmpty()) {
      throw new IOException(file + " is empty: no boot ID");
    }
    return id;
  }
}
