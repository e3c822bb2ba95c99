package io.kmesos.local;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * Tells the user when something kmesos-local started dies while it runs (a replica, a controller,
 * or the API server), once, with where its output is: without it a dead process goes unnoticed
 * until something else fails for a reason that is hard to guess. Deaths during the stop are
 * expected and not reported.
 */
final class Supervisor implements AutoCloseable {
  private final PrintStream out;
  private volatile boolean stopping;
  private final Thread probe;

  Supervisor(PrintStream out, String probedName, BooleanSupplier probedAnswers) {
    this.out = out;
    this.probe =
        new Thread(
            () -> {
              boolean answering = true;
              while (!stopping) {
                try {
                  Thread.sleep(5000);
                } catch (InterruptedException e) {
                  return;
                }
                boolean now = probedAnswers.getAsBoolean();
                if (!stopping && now != answering) {
                  out.println(
                      "kmesos-local: "
                          + probedName
                          + (now ? " answers again" : " stopped answering"));
                  answering = now;
                }
              }
            },
            "kmesos-local-probe");
    probe.setDaemon(true);
  }

  void start() {
    probe.start();
  }

  /**
   * Reports {@code process}'s death, naming it and its output file (with the output's last lines).
   */
  void watch(String name, Process process, Path output) {
    process
        .onExit()
        .thenAccept(
            p -> {
              if (stopping) {
                return;
              }
              out.println(
                  "kmesos-local: "
                      + name
                      + " (pid "
                      + p.pid()
                      + ") exited with status "
                      + p.exitValue()
                      + "; its output is in "
                      + output.toAbsolutePath()
                      + lastLines(output));
            });
  }

  /** From now on deaths are expected. */
  void stopping() {
    stopping = true;
    probe.interrupt();
  }

  @Override
  public void close() {
    stopping();
  }

  /** The last lines of {@code output} (read from its last 4 KiB: the file may be large). */
  private static String lastLines(Path output) {
    try (FileChannel f = FileChannel.open(output)) {
      long from = Math.max(0, f.size() - 4096);
      ByteBuffer tail = ByteBuffer.allocate((int) (f.size() - from));
      f.read(tail, from);
      List<String> lines =
          new String(tail.array(), StandardCharsets.UTF_8)
              .lines()
              .skip(from > 0 ? 1 : 0)
              .toList(); // the first may be cut
      List<String> last = lines.subList(Math.max(0, lines.size() - 3), lines.size());
      return last.isEmpty() ? "" : ", ending:\n    " + String.join("\n    ", last);
    } catch (IOException | RuntimeException e) {
      return "";
    }
  }
}
