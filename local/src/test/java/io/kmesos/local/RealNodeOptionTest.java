package io.kmesos.local;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code bin/kmesos-local --real-node} as a user meets it before anything runs: without root it
 * fails at once with one line saying so (no build, no node), bad options get one line, and the help
 * of both bin/kmesos-local and its --real-node mode names it. The real run (root, a node) is
 * docs/real-node.md's {@code bin/kmesos-local --real-node --exit-when-ready}.
 */
class RealNodeOptionTest {
  record Result(int status, List<String> lines) {}

  /**
   * Runs a copy of bin/kmesos-local (in a directory anyone may read: a checkout under /root may not
   * be) as the user nobody when this test runs as root, else as this user.
   */
  static Result run(Path dir, boolean asNobody, String... args)
      throws IOException, InterruptedException {
    Path bin = Files.createDirectories(dir.resolve("bin"));
    Path script =
        Files.copy(
            Proc.ROOT.resolve("bin/kmesos-local"),
            bin.resolve("kmesos-local"),
            StandardCopyOption.REPLACE_EXISTING);
    for (Path p : List.of(dir, bin, script)) {
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
    List<String> cmd = new ArrayList<>();
    if (asNobody) {
      cmd.addAll(
          List.of(
              "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"));
    }
    cmd.add(script.toString());
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("%s finished", cmd).isTrue();
    return new Result(p.exitValue(), out.lines().toList());
  }

  static boolean root() throws IOException, InterruptedException {
    Process p = new ProcessBuilder("id", "-u").start();
    String uid = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    p.waitFor();
    return "0".equals(uid);
  }

  @Test
  void withoutRootItFailsWithOneLine(@TempDir Path dir) throws Exception {
    Result r = run(dir, root(), "--real-node", "--exit-when-ready");

    assertThat(r.status()).isEqualTo(1);
    assertThat(r.lines())
        .singleElement()
        .satisfies(
            l ->
                assertThat(l)
                    .startsWith("kmesos-local: --real-node needs root")
                    .contains("without --real-node"));
  }

  @Test
  void anUnknownOptionGetsOneLine(@TempDir Path dir) throws Exception {
    Result r = run(dir, false, "--real-node", "--no-examples");

    assertThat(r.status()).isEqualTo(2);
    assertThat(r.lines())
        .singleElement()
        .satisfies(
            l ->
                assertThat(l)
                    .startsWith("kmesos-local: --real-node takes only")
                    .contains("'--no-examples'"));
  }

  @Test
  void itsHelpSaysWhatItDoes(@TempDir Path dir) throws Exception {
    Result r = run(dir, false, "--real-node", "--help");

    assertThat(r.status()).isZero();
    assertThat(String.join("\n", r.lines()))
        .startsWith("Usage: bin/kmesos-local --real-node [--state-dir DIR] [--exit-when-ready]")
        .contains("--state-dir DIR", "--exit-when-ready", "root");
  }

  @Test
  void theHelpOfBinKmesosLocalNamesIt() {
    ByteArrayOutputStream help = new ByteArrayOutputStream();
    CommandLine cl = new CommandLine(new LocalCluster(new PrintStream(help)));
    cl.usage(new PrintStream(help, true, StandardCharsets.UTF_8));

    assertThat(help.toString(StandardCharsets.UTF_8))
        .contains("bin/kmesos-local --real-node [--state-dir DIR] [--exit-when-ready]")
        .contains("docs/real-node.md");
  }
}
