package io.kmesos.agent.recovery;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The processes of tasks an earlier agent started on this work directory, found by the sandbox they
 * were started in: every task's environment has {@code MESOS_SANDBOX=<work dir>/sandboxes/…} (and
 * its children inherit it), which /proc/PID/environ shows as it was at exec, whatever the process
 * did since. Recovery uses it to find a run whose pid was never checkpointed (the agent died
 * between the start and the checkpoint) and to kill what no checkpoint accounts for: the tasks of
 * frameworks without {@code checkpoint}, whose agent is gone.
 */
final class Orphans {
  private Orphans() {}

  /** Live processes by the sandbox in their environment, for sandboxes under {@code sandboxes}. */
  static Map<Path, List<Long>> bySandbox(Path sandboxes) {
    String prefix = "MESOS_SANDBOX=" + sandboxes.toAbsolutePath().normalize() + "/";
    Map<Path, List<Long>> found = new LinkedHashMap<>();
    long self = ProcessHandle.current().pid();
    try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
      for (Path p : (Iterable<Path>) procs::iterator) {
        String name = p.getFileName().toString();
        if (!name.chars().allMatch(Character::isDigit) || Long.parseLong(name) == self) {
          continue;
        }
        sandboxOf(p.resolve("environ"), prefix)
            .ifPresent(
                s -> found.computeIfAbsent(s, k -> new ArrayList<>()).add(Long.parseLong(name)));
      }
    } catch (IOException e) {
      // No /proc: nothing can be found this way.
    }
    return found;
  }

  private static Optional<Path> sandboxOf(Path environ, String prefix) {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(environ);
    } catch (IOException | SecurityException e) {
      return Optional.empty(); // gone, or another user's
    }
    int start = 0;
    for (int i = 0; i <= bytes.length; i++) {
      if (i == bytes.length || bytes[i] == 0) {
        if (i > start) {
          String entry = new String(bytes, start, i - start, StandardCharsets.UTF_8);
          if (entry.startsWith(prefix)) {
            return Optional.of(Path.of(entry.substring("MESOS_SANDBOX=".length())));
          }
        }
        start = i + 1;
      }
    }
    return Optional.empty();
  }
}
