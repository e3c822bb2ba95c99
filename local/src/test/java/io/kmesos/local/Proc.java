package io.kmesos.local;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs a command to completion, bounded in time, as a user at a shell would. Output goes to files,
 * not pipes: the JDK swaps a pipe for what was buffered when the process exits, and can lose what a
 * process printed just before exiting (its shutdown messages, for instance).
 */
record Proc(int exitCode, String stdout, String stderr) {
  /** The repository root: the directory a user runs kmesos commands from. */
  static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

  static Proc run(Duration timeout, Map<String, String> env, List<String> command)
      throws IOException, InterruptedException {
    Path out = Files.createTempFile("proc", ".out");
    Path err = Files.createTempFile("proc", ".err");
    try {
      ProcessBuilder pb =
          new ProcessBuilder(command)
              .directory(ROOT.toFile())
              .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
              .redirectOutput(out.toFile())
              .redirectError(err.toFile());
      pb.environment().putAll(env);
      Process p = pb.start();
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        throw new AssertionError("timed out after " + timeout + ": " + command);
      }
      return new Proc(p.exitValue(), Files.readString(out), Files.readString(err));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  static Proc run(List<String> command) throws IOException, InterruptedException {
    return run(Duration.ofSeconds(60), Map.of(), command);
  }

  static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }
}
