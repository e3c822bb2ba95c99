package io.kmesos.examples.longrunning;

import static org.assertj.core.api.Assertions.assertThat;

import io.kmesos.api.cli.OneLineErrors;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
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
    assertThat(
            fails(
                "--instances",
                "2",
                "--command",
                "sleep 100",
                "--master",
                "m:5050",
                "--reconcile-every",
                "0s"))
        .contains("--reconcile-every must be positive");
  }

  @Test
  void checkpointsAndReconcilesByDefault() {
    LongRunningService service = new LongRunningService();
    OneLineErrors.commandLine(service, Map.<String, String>of()::get)
        .parseArgs("--instances", "2", "--command", "sleep 100", "--master", "m:5050");
    assertThat(service.checkpoint).isTrue();
    assertThat(service.reconcileEvery).isEqualTo(Duration.ofSeconds(30));
    LongRunningService without = new LongRunningService();
    OneLineErrors.commandLine(without, Map.<String, String>of()::get)
        .parseArgs(
            "--instances", "2", "--command", "sleep 100", "--master", "m:5050", "--no-checkpoint");
    assertThat(without.checkpoint).isFalse();
  }
}
