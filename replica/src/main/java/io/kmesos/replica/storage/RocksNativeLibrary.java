package io.kmesos.replica.storage;

import java.io.IOException;
import java.io.InputStream;
import java.net.JarURLConnection;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.jar.JarEntry;
import java.util.zip.CRC32;
import org.rocksdb.RocksDB;
import org.rocksdb.util.Environment;

/**
 * Loads RocksDB's native library from one file per library content, {@code
 * <tmpdir>/kmesos-rocksdbjni/<size>-crc32-<crc>/}, instead of RocksJava's fresh temporary copy per
 * process: that copy (17 MB) is deleted at a clean exit only, so every replica killed with kill -9
 * (or by the kernel's OOM killer) left one behind, and a test run that kills replicas on purpose
 * filled the disk.
 *
 * <p>A file found there is loaded only if its content is the jar's, in a directory only this user
 * may write; otherwise it is written again (temporary file, then an atomic rename, so that
 * processes starting together never load a half-written library). When none of that is possible (no
 * such resource, a foreign directory, a read-only temporary directory), RocksJava's own loader
 * runs, as before.
 *
 * <p>The content is known by the size and CRC-32 the jar's directory records for the library: a
 * copy is checked by computing its CRC-32 (milliseconds), and the jar's 17 MB are inflated only to
 * write a copy. Hashing the inflated library and the copy with SHA-256 at every start, as before,
 * took about half a second of CPU, a quarter of a replica's start on a busy 2-core machine (where
 * tests start replicas hundreds of times). CRC-32 finds any damage a disk or a torn write does; a
 * deliberate forgery is not the threat here, as only this user may write the directory, and that
 * user may as well change the jar. A library that is not in a jar (no recorded CRC) is known by its
 * SHA-256, as before.
 */
final class RocksNativeLibrary {
  private static final Set<PosixFilePermission> OWNER_ONLY =
      PosixFilePermissions.fromString("rwx------");

  private RocksNativeLibrary() {}

  static void load() {
    Path file;
    try {
      file = materialize(Path.of(System.getProperty("java.io.tmpdir"), "kmesos-rocksdbjni"));
    } catch (IOException | RuntimeException e) {
      file = null;
    }
    if (file == null) {
      RocksDB.loadLibrary();
    } else {
      RocksDB.loadLibrary(List.of(file.getParent().toString()));
    }
  }

  /**
   * The library of this platform as a file under {@code base}, written if missing or different from
   * the jar's; null if the jar has none for this platform or {@code base} is not this user's.
   */
  static Path materialize(Path base) throws IOException {
    String name = Environment.getJniLibraryFileName("rocksdb");
    URL resource = RocksDB.class.getResource("/" + name);
    if (resource == null) {
      return null;
    }
    if (!ownedPrivateDirectory(base)) {
      return null;
    }
    JarEntry entry = jarEntry(resource);
    byte[] library = null;
    String key;
    if (entry != null) {
      key = entry.getSize() + "-crc32-" + Long.toHexString(entry.getCrc());
    } else {
      library = read(resource);
      key = sha256(library);
    }
    Path dir = base.resolve(key);
    Files.createDirectories(dir);
    // The name RocksDB.loadLibrary(paths) looks for in each path (it asks Environment for the
    // library "rocksdbjni", hence "librocksdbjnijni-linux64.so"), not the jar's resource name.
    Path file = dir.resolve(Environment.getJniLibraryFileName("rocksdbjni"));
    if (Files.isRegularFile(file)) {
      boolean same =
          entry != null
              ? Files.size(file) == entry.getSize() && crc32(file) == entry.getCrc()
              : sha256(Files.readAllBytes(file)).equals(key);
      if (same) {
        return file;
      }
    }
    if (library == null) {
      library = read(resource); // inflating checks the jar's CRC-32 of what it reads
    }
    Path temporary = Files.createTempFile(dir, name, ".partial");
    try {
      Files.write(temporary, library);
      Files.move(
          temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(temporary);
    }
    return file;
  }

  /** The jar entry of {@code resource} with its size and CRC-32, or null (not in a jar). */
  private static JarEntry jarEntry(URL resource) {
    try {
      if (resource.openConnection() instanceof JarURLConnection jar) {
        JarEntry entry = jar.getJarEntry();
        if (entry != null && entry.getSize() >= 0 && entry.getCrc() >= 0) {
          return entry;
        }
      }
    } catch (IOException e) {
      // known by its content instead
    }
    return null;
  }

  private static byte[] read(URL resource) throws IOException {
    try (InputStream in = resource.openStream()) {
      return in.readAllBytes();
    }
  }

  private static long crc32(Path file) throws IOException {
    CRC32 crc = new CRC32();
    try (FileChannel channel = FileChannel.open(file)) {
      ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 20);
      while (channel.read(buffer) >= 0) {
        buffer.flip();
        crc.update(buffer);
        buffer.clear();
      }
    }
    return crc.getValue();
  }

  /** Creates {@code base} for this user alone, or checks that an existing one is that. */
  private static boolean ownedPrivateDirectory(Path base) throws IOException {
    if (!Files.exists(base)) {
      try {
        Files.createDirectories(base, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
      } catch (FileAlreadyExistsException e) {
        // another process made it at the same moment: checked below like any existing one
      }
    }
    return Files.isDirectory(base)
        && !Files.isSymbolicLink(base)
        && Files.getOwner(base).getName().equals(System.getProperty("user.name"))
        && Files.getPosixFilePermissions(base).equals(OWNER_ONLY);
  }

  private static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }
}
