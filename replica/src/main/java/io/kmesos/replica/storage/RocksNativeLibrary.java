package io.kmesos.replica.storage;

import java.io.IOException;
import java.io.InputStream;
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
import org.rocksdb.RocksDB;
import org.rocksdb.util.Environment;

/**
 * Loads RocksDB's native library from one file per library content, {@code
 * <tmpdir>/kmesos-rocksdbjni/<sha-256>/}, instead of RocksJava's fresh temporary copy per process:
 * that copy (17 MB) is deleted at a clean exit only, so every replica killed with kill -9 (or by
 * the kernel's OOM killer) left one behind, and a test run that kills replicas on purpose filled
 * the disk.
 *
 * <p>A file found there is loaded only if its content is the jar's (checked by digest), in a
 * directory only this user may write; otherwise it is written again (temporary file, then an atomic
 * rename, so that processes starting together never load a half-written library). When none of that
 * is possible (no such resource, a foreign directory, a read-only temporary directory), RocksJava's
 * own loader runs, as before.
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
    byte[] library;
    try (InputStream in = RocksDB.class.getResourceAsStream("/" + name)) {
      if (in == null) {
        return null;
      }
      library = in.readAllBytes();
    }
    String digest = sha256(library);
    if (!ownedPrivateDirectory(base)) {
      return null;
    }
    Path dir = base.resolve(digest);
    Files.createDirectories(dir);
    // The name RocksDB.loadLibrary(paths) looks for in each path (it asks Environment for the
    // library "rocksdbjni", hence "librocksdbjnijni-linux64.so"), not the jar's resource name.
    Path file = dir.resolve(Environment.getJniLibraryFileName("rocksdbjni"));
    if (Files.isRegularFile(file) && sha256(Files.readAllBytes(file)).equals(digest)) {
      return file;
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
