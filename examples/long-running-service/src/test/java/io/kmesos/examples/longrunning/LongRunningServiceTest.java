package io.kmesos.examples.longrunning;

import static org.assertj.core.api.Assertions.assertThat;

import io.kmesos.api.cli.OneLineErrors;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The example's options: bad ones are named. */
class LongRunningServiceTest {
  String fails(String... args) {
    StringWriter err = new StringWriter();
    CommandLine cl =
        OneLineErrors.commandLine(new LongRunningService(), Map.<String, String>of()::get);
    cl.setErr(new PrintWriter(err, true));
    assertThat(cl.execute(args)).isEqualTo(2);
    return err.toString();
  }

  @Test
  void badOptionsAreNamed() {
    assertThat(fails("--instances", "0", "--command", "sleep 100", "--master", "m:5050"))
        .contains("--instances must be at least 1");
    assertThat(
            fails(
                "--instances",
                "2",
                "--command",
                "sleep 100",
                "--master",
                "m:5050",
                "--resources",
                "cpus"))
        .contains("--resources: invalid resources 'cpus': 'cpus': expected name:value");
    assertThat(fails("--instances", "2", "--command", "sleep 100")).contains("--master is missing");
  }
}
