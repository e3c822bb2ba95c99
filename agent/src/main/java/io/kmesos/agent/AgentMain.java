package io.kmesos.agent;

import com.sun.management.OperatingSystemMXBean;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.kmesos.api.admin.AdminServer;
import io.kmesos.api.admin.ProcessMetrics;
import io.kmesos.api.cli.Failures;
import io.kmesos.api.cli.OneLineErrors;
import io.kmesos.api.cli.VersionProvider;
import io.kmesos.crds.v1alpha1.Agent;
import io.kmesos.crds.v1alpha1.AgentSpec;
import io.micrometer.core.instrument.Gauge;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kmesos-agent}: the node daemon of a kmesos cluster (one per node, from a DaemonSet). So
 * far it registers its node: it server-side applies the Agent named after the node, with the
 * resources it finds, which the master admits into the registry; then it follows its Agent's
 * status. Running tasks, checkpointing and recovering them come next.
 */
@Command(
    name = "kmesos-agent",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description =
        "The kmesos agent: registers its node's Agent, runs tasks, checkpoints them under its work directory "
            + "and recovers them after a restart. (So far: registration.)")
public final class AgentMain implements Callable<Integer> {
  static final String FIELD_MANAGER = "kmesos-agent";

  @Option(
      names = "--node-name",
      defaultValue = "${env:NODE_NAME}",
      description =
          "The node this agent runs on; its Agent has this name (default: $NODE_NAME, from spec.nodeName).")
  String nodeName;

  @Option(
      names = "--work-dir",
      defaultValue = "/var/lib/kmesos-agent",
      description = "Where the agent keeps its checkpoints (default: ${DEFAULT-VALUE}).")
  Path workDir;

  @Option(
      names = "--kubeconfig",
      description = "Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster).")
  Path kubeconfig;

  @Option(names = "--register-only", description = "Register the Agent and exit.")
  boolean registerOnly;

  @Option(
      names = "--metrics-port",
      defaultValue = "8081",
      paramLabel = "PORT",
      description =
          "Serve Prometheus metrics at http://<any address>:PORT/metrics; 0 for none (default: ${DEFAULT-VALUE}).")
  int metricsPort;

  /**
   * Whether the registry holds this node's agent as admitted (Mesos slave/registered), from its
   * status.
   */
  private volatile boolean admitted;

  public static void main(String[] args) {
    System.exit(OneLineErrors.commandLine(new AgentMain()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    if (nodeName == null || nodeName.isBlank()) {
      throw new IllegalArgumentException(
          "--node-name is missing (in a pod: set $NODE_NAME from spec.nodeName)");
    }
    Files.createDirectories(workDir);
    if (!Files.isWritable(workDir)) {
      throw new IllegalArgumentException("--work-dir " + workDir + " is not writable");
    }
    if (metricsPort < 0 || metricsPort > 65535) {
      throw new IllegalArgumentException(
          "--metrics-port must be a port number (0 for none), not " + metricsPort);
    }
    try (KubernetesClient client =
        kubeconfig != null
            ? new KubernetesClientBuilder()
                .withConfig(Config.fromKubeconfig(Files.readString(kubeconfig)))
                .build()
            : new KubernetesClientBuilder().build()) {
      Agent agent = new Agent();
      agent.getMetadata().setName(nodeName);
      agent.setSpec(new AgentSpec());
      agent.getSpec().setHostname(nodeName);
      agent.getSpec().setResources(resources(workDir));
      Agent registered =
          client.resource(agent).fieldManager(FIELD_MANAGER).forceConflicts().serverSideApply();
      System.out.println(
          "kmesos-agent: registered Agent/" + nodeName + " " + registered.getSpec().getResources());
      if (registerOnly) {
        return 0;
      }
      AdminServer admin = null;
      if (metricsPort != 0) {
        var metrics = ProcessMetrics.prometheus();
        Gauge.builder("kmesos.agent.registered", this, m -> m.admitted ? 1 : 0)
            .description(
                "1 while the registry holds this node's agent as admitted (Mesos slave/registered)")
            .register(metrics);
        admin = AdminServer.start(metricsPort, AdminServer.routes(metrics));
      }
      CountDownLatch stopped = new CountDownLatch(1);
      Runtime.getRuntime().addShutdownHook(new Thread(stopped::countDown));
      try (Watch ignored =
          client
              .resources(Agent.class)
              .withName(nodeName)
              .watch(
                  new Watcher<>() {
                    private String last;

                    @Override
                    public void eventReceived(Action action, Agent a) {
                      String now =
                          a.getStatus() == null
                              ? null
                              : a.getStatus().getState() + " as " + a.getStatus().getAgentId();
                      admitted =
                          action != Action.DELETED
                              && a.getStatus() != null
                              && "Admitted".equals(a.getStatus().getState());
                      if (now != null && !now.equals(last)) {
                        last = now;
                        System.out.println(
                            "kmesos-agent: the registry holds this node's agent: " + now);
                      }
                    }

                    @Override
                    public void onClose(WatcherException cause) {
                      System.out.println(
                          "kmesos-agent: lost the watch on Agent/"
                              + nodeName
                              + ": "
                              + Failures.oneLine(cause));
                      stopped.countDown();
                    }
                  })) {
        stopped.await();
      } finally {
        if (admin != null) {
          admin.close();
        }
      }
    }
    return 0;
  }

  /**
   * What this node offers: its processors, memory and the work directory's disk (MiB), as a Mesos
   * agent reports its machine's. In a pod the JVM's own figures are the container's limits
   * (cgroups), not the node's: /proc/cpuinfo and /proc/meminfo still show the machine's, so they
   * come first; the JVM's figures are the fallback off Linux.
   */
  static Map<String, Double> resources(Path workDir) throws IOException {
    Map<String, Double> r = new LinkedHashMap<>();
    r.put("cpus", (double) nodeCpus().orElse(Runtime.getRuntime().availableProcessors()));
    var os = (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    r.put("mem", (double) nodeMemoryMiB().orElse(os.getTotalMemorySize() >> 20));
    r.put("disk", (double) (Files.getFileStore(workDir).getTotalSpace() >> 20));
    return r;
  }

  static Optional<Integer> nodeCpus() {
    try (var lines = Files.lines(Path.of("/proc/cpuinfo"))) {
      long n = lines.filter(l -> l.startsWith("processor")).count();
      return n > 0 ? Optional.of((int) n) : Optional.empty();
    } catch (IOException | UncheckedIOException e) {
      return Optional.empty();
    }
  }

  static Optional<Long> nodeMemoryMiB() {
    try (var lines = Files.lines(Path.of("/proc/meminfo"))) {
      return lines
          .filter(l -> l.startsWith("MemTotal:"))
          .findFirst()
          .map(l -> Long.parseLong(l.replaceAll("[^0-9]", "")) >> 10); // kB
    } catch (IOException | UncheckedIOException | NumberFormatException e) {
      return Optional.empty();
    }
  }
}
