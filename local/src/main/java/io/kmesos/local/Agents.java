package io.kmesos.local;

import io.kmesos.api.cli.EnvironmentDefaults;
import io.kmesos.replica.local.LocalReplicas;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Agent processes on this machine ({@code kmesos-agent --master ...}), run from this JVM's class
 * path, output to a file each. Several share the host: each has a node name, a work directory and a
 * token of its own.
 */
final class Agents {
  private Agents() {}

  /**
   * Starts {@code kmesos-agent} for {@code nodeName}: it registers its Agent through {@code
   * kubeconfig} (the admin's: the agents' ValidatingAdmissionPolicy is not installed locally), and
   * shows the master {@code tokenFile}, a token bound to a pod on its node, with the agent
   * certificate in {@code tlsDir}. It dies with the launching thread where the system allows it.
   */
  static Process start(
      String nodeName,
      List<String> masters,
      Path kubeconfig,
      Path tlsDir,
      Path tokenFile,
      Path workDir,
      Path output)
      throws IOException {
    return start(nodeName, masters, kubeconfig, tlsDir, tokenFile, workDir, output, Map.of());
  }

  /** As above, with {@code environment} added to the agent's (a test's crash point). */
  static Process start(
      String nodeName,
      List<String> masters,
      Path kubeconfig,
      Path tlsDir,
      Path tokenFile,
      Path workDir,
      Path output,
      Map<String, String> environment)
      throws IOException {
    Files.createDirectories(workDir);
    List<String> cmd =
        List.of(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-Xmx192m",
            "-cp",
            System.getProperty("java.class.path"),
            "io.kmesos.agent.AgentMain",
            "--node-name",
            nodeName,
            "--master",
            String.join(",", masters),
            "--kubeconfig",
            kubeconfig.toString(),
            "--tls-dir",
            tlsDir.toString(),
            "--token-file",
            tokenFile.toString(),
            "--work-dir",
            workDir.toString(),
            "--metrics-port",
            "0");
    ProcessBuilder agent =
        new ProcessBuilder(LocalReplicas.tiedToLauncher(cmd))
            .redirectErrorStream(true)
            .redirectOutput(output.toFile());
    EnvironmentDefaults.removeOptions(agent.environment()); // its options are all above
    agent.environment().putAll(environment);
    return agent.start();
  }
}
