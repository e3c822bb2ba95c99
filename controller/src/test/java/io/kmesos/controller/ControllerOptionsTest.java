package io.kmesos.controller;

import static org.assertj.core.api.Assertions.assertThat;

import io.kmesos.api.cli.OneLineErrors;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The partition and failover options: each bad value is refused with one line naming it. */
class ControllerOptionsTest {
  /**
   * What the controller prints on stderr for these options (the options checked in its {@code
   * call()} report on the process's stderr, as a user sees them).
   */
  private static String refusal(String... options) {
    CommandLine cmd = OneLineErrors.commandLine(new ControllerMain(), name -> null);
    List<String> args = new ArrayList<>(List.of("--peers", "127.0.0.1:1"));
    args.addAll(List.of(options));
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream stderr = System.err;
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    int code;
    try {
      code = cmd.execute(args.toArray(String[]::new));
    } finally {
      System.setErr(stderr);
    }
    assertThat(code).isNotZero();
    return err.toString(StandardCharsets.UTF_8);
  }

  @Test
  void badPartitionAndFailoverOptionsAreNamed() {
    Map<List<String>, String> cases =
        Map.of(
            List.of("--max-agent-ping-timeouts", "0"),
            "the most agent ping timeouts must be at least 1, not 0",
            List.of("--agent-ping-interval", "20s", "--agent-ping-timeout", "10s"),
            "the agent ping timeout (PT10S) must not be shorter than the agent ping interval (PT20S)",
            List.of("--agent-recovery-factor", "1.5"),
            "the agent recovery factor must be between 0 and 1, not 1.5",
            List.of("--agent-reregister-timeout", "0s"),
            "the agent re-register timeout must be positive, not PT0S");
    cases.forEach(
        (options, message) ->
            assertThat(refusal(options.toArray(String[]::new)))
                .as("%s", options)
                .contains(message));
  }
}
