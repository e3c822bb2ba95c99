package io.kmesos.local;

import static org.assertj.core.api.Assertions.assertThat;

import io.kmesos.api.KmesosVersion;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Every process kmesos ships runs from its built jar and answers --version, --help and bad flags. */
class RunnableArtifactsIT {

  @ParameterizedTest
  @CsvSource({
      "controller/target/kmesos-controller.jar, kmesos-controller",
      "replica/target/kmesos-replica.jar,       kmesos-log",
      "registry/target/kmesos-registry.jar,     kmesos-registry",
      "agent/target/kmesos-agent.jar,           kmesos-agent",
      "local/target/kmesos-local.jar,           kmesos-local"})
  void jarRunsAndDescribesItself(String jar, String command) throws Exception {
    Proc version = Proc.run(List.of(Proc.java(), "-jar", jar, "--version"));
    assertThat(version.exitCode()).isZero();
    assertThat(version.stdout().strip()).startsWith(command + " " + KmesosVersion.version() + " (Java ");

    Proc help = Proc.run(List.of(Proc.java(), "-jar", jar, "--help"));
    assertThat(help.exitCode()).isZero();
    assertThat(help.stdout()).startsWith("Usage: " + command).contains("--version");

    Proc bad = Proc.run(List.of(Proc.java(), "-jar", jar, "--no-such-flag"));
    assertThat(bad.exitCode()).isEqualTo(2);
    assertThat(bad.stderr()).as("one line naming the command, the problem and where help is")
        .isEqualTo(command + ": Unknown option: '--no-such-flag' (see " + command + " --help)\n");
  }
}
