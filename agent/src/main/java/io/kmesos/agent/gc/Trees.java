package io.kmesos.agent.gc;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Removal of what garbage collection takes (sandboxes, runtime and checkpoint directories), one way
 * for every collector. Not atomic: checkpoints that readers must never see half removed go through
 * {@code AtomicFiles.deleteTree} instead.
 */
public final class Trees {
  private Trees() {}

  /** Deletes a tree without following symbolic links (a task may leave links to anywhere). */
  public static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    List<Path> paths = new ArrayList<>();
    try (Stream<Path> walk = Files.walk(root)) {
      walk.forEach(paths::add);
    }
    paths.sort(Comparator.comparingInt(Path::getNameCount).reversed());
    for (Path p : paths) {
      try {
        Files.deleteIfExists(p);
      } catch (NoSuchFileException e) {
        // gone already
      }
    }
  }

  /**
   * Deletes a directory if it is empty; one that is not (another run of the task, another task of
   * the framework) stays.
   */
  public static void deleteIfEmpty(Path dir) {
    try {
      Files.deleteIfExists(dir);
    } catch (IOException e) {
      // not empty: it stays
    }
  }
}
