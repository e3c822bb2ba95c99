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
 * The processes of tasks and custom executors an earlier agent started on this work directory,
 * found by the sandbox they were started in: every task's environment has {@code
 * MESOS_SANDBOX=<work dir>/sandboxes/…}, every executor's {@code MESOS_SANDBOX=<work
 * dir>/executors/…} (and their children inherit it, or get a directory inside it, as the example
 * executor's tasks do), which /proc/PID/environ shows as it was at exec, whatever the process did
 * since. Recovery uses it to find a run whose pid was never checkpointed (the agent died between
 * the start and the checkpoint) and to kill what no checkpoint accounts for: the tasks and
 * executors of frameworks without {@code checkpoint}, whose agent is gone, and executors of runs
 * that were completed (every task acknowledged) before the executor had exited.
 */
final class Orphans {
  private Orphans() {}

  /**
   * Live processes by the run sandbox in their environment ({@code <root>/<framework>/<id>/<run>},
   * whatever lies below it), for run sandboxes under any of {@code roots}.
   */
  static Map<Path, List<Long>> bySandbox(Path... roots) {
    List<Path> normalized = Stream.of(roots).map(r -> r.toAbsolutePath().normalize()).toList();
    List<String> prefixes = normalized.stream().map(r -> "MESOS_SANDBOX=" + r + "/").toList();
    Map<Path, List<Long>> found = new LinkedHashMap<>();
    long self = ProcessHandle.current().pid();
    try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
      for (Path p : (Iterable<Path>) procs::iterator) {
        String name = p.getFileName().toString();
        if (!name.chars().allMatch(Character::isDigit) || Long.parseLong(name) == self) {
          continue;
        }
        sandboxOf(p.resolve("environ"), prefixes)
            .flatMap(s -> runSandbox(s, normalized))
            .ifPresent(
                s -> found.computeIfAbsent(s, k -> new ArrayList<>()).add(Long.parseLong(name)));
      }
    } catch (IOException e) {
      // No /proc: nothing can be found this way.
    }
    return found;
  }

  /** The run sandbox (three levels below its root) a sandbox path is, or lies in. */
  static Optional<Path> runSandbox(Path sandbox, List<Path> roots) {
    Path s = sandbox.normalize();
    for (Path root : roots) {
      if (s.startsWith(root) && s.getNameCount() >= root.getNameCount() + 3) {
        return Optional.of(root.resolve(s.subpath(root.getNameCount(), root.getNameCount() + 3)));
      }
    }
    return Optional.empty();
  }

  private static Optional<Path> sandboxOf(Path environ, List<String> prefixes) {
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
          if (entry.startsWith("MESOS_SANDBOX=") && prefixes.stream().anyMatch(entry::startsWith)) {
            return Optional.of(Path.of(entry.substring("MESOS_SANDBOX=".length())));
          }
        }
        start = i + 1;
      }
    }
    return Optional.empty();
  }
}
