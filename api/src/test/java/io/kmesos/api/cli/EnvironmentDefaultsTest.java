package io.kmesos.api.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** KMESOS_* variables as the defaults of every option, under the command line. */
class EnvironmentDefaultsTest {
  @Command(name = "tool", mixinStandardHelpOptions = true, subcommands = Serve.class)
  static final class Tool implements Runnable {
    @Override
    public void run() {}
  }

  static final class Shared {
    @Option(names = "--peers", split = ",", required = true)
    List<String> peers;
  }

  @Command(name = "serve", mixinStandardHelpOptions = true)
  static final class Serve implements Callable<Integer> {
    static Serve last;

    @Mixin Shared shared;

    @Option(names = "--data-dir", required = true)
    String dataDir;

    @Option(names = "--id", defaultValue = "0")
    int id;

    @Option(names = "--tick", converter = Durations.class, defaultValue = "10ms")
    Duration tick;

    @Option(names = {"-v", "--verbose"})
    boolean verbose;

    @Parameters(arity = "0..1")
    String what;

    @Override
    public Integer call() {
      last = this;
      return 0;
    }
  }

  record Run(int exit, String out, String err) {}

  static Run run(Map<String, String> env, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = OneLineErrors.commandLine(new Tool(), env::get);
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    Serve.last = null;
    return new Run(cl.execute(args), out.toString(), err.toString());
  }

  @Test
  void everyOptionComesFromItsVariable() {
    Run r =
        run(
            Map.of(
                "KMESOS_PEERS",
                "a:1,b:2",
                "KMESOS_DATA_DIR",
                "/data",
                "KMESOS_ID",
                "1",
                "KMESOS_TICK",
                "20ms",
                "KMESOS_VERBOSE",
                "true"),
            "serve");
    assertThat(r.err()).isEmpty();
    assertThat(r.exit()).isZero();
    assertThat(Serve.last.shared.peers).containsExactly("a:1", "b:2");
    assertThat(Serve.last.dataDir).isEqualTo("/data");
    assertThat(Serve.last.id).isEqualTo(1);
    assertThat(Serve.last.tick).isEqualTo(Duration.ofMillis(20));
    assertThat(Serve.last.verbose).isTrue();
  }

  @Test
  void theCommandLineWinsOverTheEnvironment() {
    Run r =
        run(
            Map.of("KMESOS_PEERS", "a:1", "KMESOS_DATA_DIR", "/data", "KMESOS_ID", "1"),
            "serve",
            "--data-dir=/other",
            "--id",
            "2",
            "--peers",
            "c:3");
    assertThat(r.exit()).isZero();
    assertThat(Serve.last.dataDir).isEqualTo("/other");
    assertThat(Serve.last.id).isEqualTo(2);
    assertThat(Serve.last.shared.peers).containsExactly("c:3");
  }

  @Test
  void withoutTheVariableTheBuiltInDefaultHolds() {
    Run r = run(Map.of(), "serve", "--peers", "a:1", "--data-dir", "/d");
    assertThat(r.exit()).isZero();
    assertThat(Serve.last.id).isZero();
    assertThat(Serve.last.tick).isEqualTo(Duration.ofMillis(10));
    assertThat(Serve.last.verbose).isFalse();
  }

  @Test
  void aRequiredOptionMissingEverywhereIsStillRequired() {
    Run r = run(Map.of("KMESOS_PEERS", "a:1"), "serve");
    assertThat(r.exit()).isEqualTo(2);
    assertThat(r.err())
        .isEqualTo(
            "tool serve: Missing required option: '--data-dir=<dataDir>' (see tool serve --help)"
                + System.lineSeparator());
  }

  @Test
  void aMalformedVariableIsNamed() {
    Run r =
        run(Map.of("KMESOS_PEERS", "a:1", "KMESOS_DATA_DIR", "/d", "KMESOS_TICK", "soon"), "serve");
    assertThat(r.exit()).isEqualTo(2);
    assertThat(r.err())
        .startsWith("tool serve: environment variable KMESOS_TICK: ")
        .contains("'soon' is not a duration")
        .endsWith("(see tool serve --help)" + System.lineSeparator())
        .hasLineCount(1);
  }

  @Test
  void aMalformedValueOnTheCommandLineIsNotBlamedOnTheEnvironment() {
    Run r =
        run(
            Map.of("KMESOS_PEERS", "a:1", "KMESOS_DATA_DIR", "/d", "KMESOS_ID", "1"),
            "serve",
            "--id",
            "x");
    assertThat(r.exit()).isEqualTo(2);
    assertThat(r.err())
        .startsWith("tool serve: Invalid value for option '--id': 'x' is not an int");
  }

  @Test
  void helpAndVersionAndParametersIgnoreTheEnvironment() {
    Run r =
        run(
            Map.of(
                "KMESOS_PEERS",
                "a:1",
                "KMESOS_DATA_DIR",
                "/d",
                "KMESOS_HELP",
                "true",
                "KMESOS_WHAT",
                "x"),
            "serve");
    assertThat(r.exit()).isZero();
    assertThat(r.out()).isEmpty();
    assertThat(Serve.last.what).isNull();
  }

  @Test
  void helpSaysSo() {
    Run r = run(Map.of(), "serve", "--help");
    assertThat(r.exit()).isZero();
    assertThat(r.out().replaceAll("\\s+", " "))
        .contains("--data-dir=<dataDir>")
        .contains("environment variable: KMESOS_ and its name in capitals")
        .contains("KMESOS_DATA_DIR");
    assertThat(run(Map.of(), "--help").out().replaceAll("\\s+", " "))
        .contains("environment variable: KMESOS_");
  }

  @Test
  void aBadLogFormatOrLevelStopsEveryCommandWithOneLine() {
    Map<String, String> serve = Map.of("KMESOS_PEERS", "a:1", "KMESOS_DATA_DIR", "/d");
    Run format =
        run(
            Map.of("KMESOS_PEERS", "a:1", "KMESOS_DATA_DIR", "/d", "KMESOS_LOG_FORMAT", "xml"),
            "serve");
    assertThat(format.exit()).isEqualTo(2);
    assertThat(format.err())
        .isEqualTo(
            "tool serve: KMESOS_LOG_FORMAT is 'xml'; it must be text or json "
                + "(see tool serve --help)"
                + System.lineSeparator());
    Run level =
        run(
            Map.of("KMESOS_PEERS", "a:1", "KMESOS_DATA_DIR", "/d", "KMESOS_LOG_LEVEL", "loud"),
            "serve");
    assertThat(level.exit()).isEqualTo(2);
    assertThat(level.err())
        .startsWith("tool serve: KMESOS_LOG_LEVEL is 'loud'; it must be one of TRACE, DEBUG, INFO");
    Run json =
        run(
            Map.of(
                "KMESOS_PEERS",
                "a:1",
                "KMESOS_DATA_DIR",
                "/d",
                "KMESOS_LOG_FORMAT",
                "json",
                "KMESOS_LOG_LEVEL",
                "debug"),
            "serve");
    assertThat(json.exit()).as(json.err()).isZero();
    assertThat(run(serve, "serve").exit()).isZero();
  }

  @Test
  void aLaunchersChildrenGetOnlyTheLoggingVariables() {
    Map<String, String> child =
        new HashMap<>(
            Map.of(
                "KMESOS_PEERS",
                "a:1",
                "KMESOS_LOG_LEVEL",
                "DEBUG",
                "KMESOS_LOG_FORMAT",
                "json",
                "KMESOS_LOG_PEERS",
                "b:2",
                "PATH",
                "/bin"));
    EnvironmentDefaults.removeOptions(child);
    assertThat(child).containsOnlyKeys("KMESOS_LOG_LEVEL", "KMESOS_LOG_FORMAT", "PATH");
  }
}
