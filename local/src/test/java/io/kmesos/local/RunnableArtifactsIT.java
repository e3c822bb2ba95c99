package io.kmesos.local;

import static org.assertj.core.api.Assertions.assertThat;

import io.kmesos.api.KmesosVersion;
import io.kmesos.api.tls.CertificateDirectory;
import io.kmesos.api.tls.Identity;
import io.kmesos.replica.local.LocalReplicas;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every process kmesos ships runs from its built jar and answers --version, --help and bad flags.
 */
class RunnableArtifactsIT {

  @ParameterizedTest
  @CsvSource({
    "controller/target/kmesos-controller.jar, kmesos-controller",
    "replica/target/kmesos-replica.jar,       kmesos-log",
    "registry/target/kmesos-registry.jar,     kmesos-registry",
    "agent/target/kmesos-agent.jar,           kmesos-agent",
    "local/target/kmesos-local.jar,           kmesos-local"
  })
  void jarRunsAndDescribesItself(String jar, String command) throws Exception {
    Proc version = Proc.run(List.of(Proc.java(), "-jar", jar, "--version"));
    assertThat(version.exitCode()).isZero();
    assertThat(version.stdout().strip())
        .startsWith(command + " " + KmesosVersion.version() + " (Java ");

    Proc help = Proc.run(List.of(Proc.java(), "-jar", jar, "--help"));
    assertThat(help.exitCode()).isZero();
    assertThat(help.stdout()).startsWith("Usage: " + command).contains("--version");
    assertThat(help.stdout().replaceAll("\\s+", " "))
        .as("--help names the environment variables")
        .contains("Every option can also be set with an environment variable: KMESOS_");

    Proc bad = Proc.run(List.of(Proc.java(), "-jar", jar, "--no-such-flag"));
    assertThat(bad.exitCode()).isEqualTo(2);
    assertThat(bad.stderr())
        .as("one line naming the command, the problem and where help is")
        .isEqualTo(command + ": Unknown option: '--no-such-flag' (see " + command + " --help)\n");
  }

  /** An option from the environment reaches the command; a malformed one is named, in one line. */
  @Test
  void optionsComeFromKmesosVariables(@TempDir Path tmp) throws Exception {
    String jar = "replica/target/kmesos-replica.jar";
    CertificateDirectory certificates = new CertificateDirectory(tmp.resolve("tls"));
    LocalReplicas.issueCertificates(certificates);
    String tls = certificates.dir(Identity.ADMIN).toString();
    int closed;
    try (ServerSocket s = new ServerSocket(0, 0, InetAddress.getLoopbackAddress())) {
      closed = s.getLocalPort();
    }
    String nobody = "127.0.0.1:" + closed;
    Proc status =
        Proc.run(
            Duration.ofSeconds(120),
            Map.of("KMESOS_PEERS", nobody, "KMESOS_REQUEST_TIMEOUT", "5s", "KMESOS_TLS_DIR", tls),
            List.of(Proc.java(), "-jar", jar, "status"));
    assertThat(status.exitCode()).as("no replica answered").isEqualTo(2);
    assertThat(status.stdout())
        .as("the replica named by KMESOS_PEERS was asked")
        .contains(nobody + "  ");
    assertThat(status.stderr()).isEmpty();

    Proc malformed =
        Proc.run(
            Duration.ofSeconds(120),
            Map.of("KMESOS_PEERS", nobody, "KMESOS_REQUEST_TIMEOUT", "soon", "KMESOS_TLS_DIR", tls),
            List.of(Proc.java(), "-jar", jar, "status"));
    assertThat(malformed.exitCode()).isEqualTo(2);
    assertThat(malformed.stderr())
        .isEqualTo(
            "kmesos-log status: environment variable KMESOS_REQUEST_TIMEOUT: Invalid value "
                + "for option '--request-timeout': 'soon' is not a duration like 500ms, 15s, 2m, 1h or 7d (see kmesos-log status --help)\n");

    Proc overridden =
        Proc.run(
            Duration.ofSeconds(120),
            Map.of("KMESOS_PEERS", nobody, "KMESOS_REQUEST_TIMEOUT", "soon", "KMESOS_TLS_DIR", tls),
            List.of(Proc.java(), "-jar", jar, "status", "--request-timeout", "5s"));
    assertThat(overridden.stderr()).as("the command line wins").isEmpty();
    assertThat(overridden.stdout()).contains(nobody + "  ");

    Proc badFormat =
        Proc.run(
            Duration.ofSeconds(120),
            Map.of("KMESOS_LOG_FORMAT", "xml"),
            List.of(Proc.java(), "-jar", "controller/target/kmesos-controller.jar", "--help"));
    assertThat(badFormat.exitCode()).isEqualTo(2);
    assertThat(badFormat.stderr())
        .isEqualTo(
            "kmesos-controller: KMESOS_LOG_FORMAT is 'xml'; it must be text or json "
                + "(see kmesos-controller --help)\n");
  }
}
