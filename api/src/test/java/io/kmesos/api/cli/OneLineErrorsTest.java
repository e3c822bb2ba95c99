package io.kmesos.api.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** What every kmesos tool prints when it fails: one line, the subcommand's name, no class names. */
class OneLineErrorsTest {
  @Command(
      name = "tool",
      subcommands = {Sub.class, NativeLibrary.class})
  static final class Tool implements Runnable {
    @Override
    public void run() {}
  }

  @Command(name = "sub")
  static final class Sub implements Callable<Integer> {
    @Option(names = "--timeout", converter = Durations.class, defaultValue = "1s")
    Duration timeout;

    @Override
    public Integer call() throws Exception {
      // As kmesos-log append waits for its election: the failure arrives wrapped in an
      // ExecutionException.
      CompletableFuture<Long> election =
          CompletableFuture.failedFuture(
              new IllegalStateException(
                  "election failed: no quorum of voting replicas answered within 2 s (127.0.0.1:7001: connection refused)"));
      return election.get(timeout.toMillis(), TimeUnit.MILLISECONDS).intValue();
    }
  }

  @Command(name = "native")
  static final class NativeLibrary implements Runnable {
    @Override
    public void run() {
      // As RocksDB's loader fails when it cannot unpack its library.
      throw new UnsatisfiedLinkError(
          "/tmp/librocksdbjni-linux64.so: failed to map segment from shared object");
    }
  }

  record Run(int exit, String err) {}

  static Run run(String... args) {
    StringWriter err = new StringWriter();
    CommandLine cl = OneLineErrors.commandLine(new Tool());
    cl.setErr(new PrintWriter(err, true));
    cl.setOut(new PrintWriter(new StringWriter(), true));
    return new Run(cl.execute(args), err.toString());
  }

  @Test
  void aFailureIsOneLineWithoutClassNames() {
    Run r = run("sub");
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err())
        .isEqualTo(
            "tool sub: election failed: no quorum of voting replicas answered within 2 s "
                + "(127.0.0.1:7001: connection refused)"
                + System.lineSeparator());
  }

  @Test
  void aBadFlagIsOneLinePointingAtHelp() {
    Run unknown = run("sub", "--bogus");
    assertThat(unknown.exit()).isEqualTo(2);
    assertThat(unknown.err())
        .isEqualTo(
            "tool sub: Unknown option: '--bogus' (see tool sub --help)" + System.lineSeparator());

    Run badDuration = run("sub", "--timeout", "5x");
    assertThat(badDuration.exit()).isEqualTo(2);
    assertThat(badDuration.err())
        .isEqualTo(
            "tool sub: Invalid value for option '--timeout': '5x' is not a duration like "
                + "500ms, 15s, 2m, 1h or 7d (see tool sub --help)"
                + System.lineSeparator());
  }

  @Test
  void aLibraryThatCannotBeLoadedIsOneLineNotAStackTrace() {
    Run r = run("native");
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err())
        .isEqualTo(
            "tool native: /tmp/librocksdbjni-linux64.so: failed to map segment from shared object"
                + System.lineSeparator());
  }
}
