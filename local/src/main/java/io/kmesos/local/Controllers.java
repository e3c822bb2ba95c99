package io.kmesos.local;

import io.kmesos.api.cli.EnvironmentDefaults;
import io.kmesos.api.tls.Identity;
import io.kmesos.replica.local.LocalReplicas;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Controller processes on this machine, run from this JVM's class path, output to a file each. */
final class Controllers {
  private Controllers() {}

  /**
   * Starts {@code kmesos-controller} as {@code identity}, with the controller certificate of {@code
   * replicas}' CA; {@code lease} is {duration, renew deadline, retry period} (e.g. 15s, 10s, 2s).
   * It serves the master's API on {@code masterPort}. It dies with the launching thread where the
   * system allows it.
   */
  static Process start(
      String identity,
      LocalReplicas replicas,
      Path kubeconfig,
      String namespace,
      List<String> lease,
      int masterPort,
      Path output)
      throws IOException {
    return start(identity, replicas, kubeconfig, namespace, lease, masterPort, List.of(), output);
  }

  /**
   * As above, with {@code options} added to the controller's command line (e.g. {@code
   * --allocation-interval 50ms}).
   */
  static Process start(
      String identity,
      LocalReplicas replicas,
      Path kubeconfig,
      String namespace,
      List<String> lease,
      int masterPort,
      List<String> options,
      Path output)
      throws IOException {
    String peers = String.join(",", replicas.peers());
    List<String> cmd =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx384m",
                "-cp",
                System.getProperty("java.class.path"),
                "io.kmesos.controller.ControllerMain",
                "--peers",
                peers,
                "--kubeconfig",
                kubeconfig.toString(),
                "--lease-namespace",
                namespace,
                "--identity",
                identity,
                "--metrics-port",
                "0",
                "--tls-dir",
                replicas.certificates().dir(Identity.CONTROLLER).toString(),
                // Several controllers share this host: each has a port of its own for the master's
                // API, which agents and frameworks are given (0: a free one nobody is told of).
                "--master-port",
                Integer.toString(masterPort)));
    if (masterPort != 0) {
      cmd.addAll(List.of("--advertise-address", "127.0.0.1:" + masterPort));
    }
    if (!lease.isEmpty()) {
      cmd.addAll(
          List.of(
              "--lease-duration",
              lease.get(0),
              "--renew-deadline",
              lease.get(1),
              "--retry-period",
              lease.get(2)));
    }
    cmd.addAll(options);
    ProcessBuilder controller =
        new ProcessBuilder(LocalReplicas.tiedToLauncher(cmd))
            .redirectErrorStream(true)
            .redirectOutput(output.toFile());
    EnvironmentDefaults.removeOptions(controller.environment()); // its options are all above
    return controller.start();
  }
}
