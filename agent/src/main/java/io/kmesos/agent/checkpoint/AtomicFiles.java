package io.kmesos.agent.checkpoint;

import static java.nio.file.LinkOption.NOFOLLOW_LINKS;
import static java.nio.file.StandardCopyOption.ATOMIC_MOVE;
import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Durable file system steps on Linux: a file is replaced whole or not at all, and what a call
 * created is on disk when it returns.
 *
 * <p>Names with a {@code ~} are the store's own scratch (temporary files, trees being deleted): no
 * ID may contain one ({@link MetaLayout#checkId}), so they never collide with checkpoint entries,
 * and whoever reads the tree ignores them and may remove them.
 */
final class AtomicFiles {
  static final char SCRATCH = '~';

  private AtomicFiles() {}

  static boolean isScratch(String name) {
    return name.indexOf(SCRATCH) >= 0;
  }

  /**
   * Replaces {@code file} with {@code bytes} atomically and durably: a temporary file in the same
   * directory is written and fsync'd, renamed over {@code file}, and the directory fsync'd. A crash
   * at any point leaves either the old file or the new one (and maybe the temporary file).
   */
  static void write(Path file, byte[] bytes) throws IOException {
    Path dir = file.getParent();
    Path tmp = dir.resolve(scratchName("tmp", file.getFileName().toString()));
    try {
      try (FileChannel ch = FileChannel.open(tmp, CREATE_NEW, WRITE)) {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
          ch.write(b);
        }
        ch.force(true);
      }
      Files.move(tmp, file, ATOMIC_MOVE); // rename(2): replaces file atomically
    } catch (IOException | RuntimeException e) {
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
    fsyncDirectory(dir);
  }

  /** Makes the entries of {@code dir} (created, renamed, removed) durable. */
  static void fsyncDirectory(Path dir) throws IOException {
    try (FileChannel ch = FileChannel.open(dir, READ)) {
      ch.force(true);
    }
  }

  /**
   * Creates {@code dir} and its missing parents up to {@code root} (which must exist), each made
   * durable in its parent before the next is created, so that a crash never loses a directory whose
   * content was already synced.
   */
  static void createDirectories(Path root, Path dir) throws IOException {
    if (!dir.startsWith(root)) {
      throw new IllegalArgumentException(dir + " is not inside " + root);
    }
    Deque<Path> missing = new ArrayDeque<>();
    for (Path p = dir; !p.equals(root) && !Files.isDirectory(p, NOFOLLOW_LINKS); ) {
      missing.push(p);
      p = p.getParent();
    }
    while (!missing.isEmpty()) {
      Path p = missing.pop();
      try {
        Files.createDirectory(p);
      } catch (FileAlreadyExistsException e) {
        if (!Files.isDirectory(p, NOFOLLOW_LINKS)) {
          throw e;
        }
        // created by another thread; it syncs its parent too
      }
      fsyncDirectory(p.getParent());
    }
  }

  /**
   * Removes a tree so that no reader ever sees it half removed: it is renamed to a scratch name
   * first (atomic, synced), then deleted. Symbolic links are removed, never followed.
   *
   * @return false if there was nothing to remove
   */
  static boolean deleteTree(Path target) throws IOException {
    if (!Files.exists(target, NOFOLLOW_LINKS)) {
      return false;
    }
    Path parent = target.getParent();
    Path doomed = parent.resolve(scratchName("del", target.getFileName().toString()));
    try {
      Files.move(target, doomed, ATOMIC_MOVE);
    } catch (NoSuchFileException e) {
      return false;
    }
    fsyncDirectory(parent);
    deleteRecursively(doomed);
    return true;
  }

  /** Deletes a file or tree without any atomicity (scratch entries only). */
  static void deleteRecursively(Path path) throws IOException {
    if (!Files.isDirectory(path, NOFOLLOW_LINKS)) {
      Files.deleteIfExists(path);
      return;
    }
    Files.walkFileTree(
        path,
        new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
              throws IOException {
            Files.delete(file);
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
            if (e != null) {
              throw e;
            }
            Files.delete(dir);
            return FileVisitResult.CONTINUE;
          }
        });
  }

  private static String scratchName(String what, String name) {
    return SCRATCH
        + what
        + SCRATCH
        + name
        + SCRATCH
        + Long.toHexString(ThreadLocalRandom.current().nextLong());
  }
}
