package io.kmesos.devcluster;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real single-node Kubernetes (kubelet, containerd, CNI, kube-proxy, CoreDNS) in a network
 * namespace of its own, started by {@code scripts/kube-node.sh up} (docs/real-node.md): Pods run
 * for real, from images {@link #importImage imported} into the node. Needs root and the binaries of
 * {@code scripts/kube-node-binaries.sh}.
 *
 * <p>The node goes down on {@link #close()}, and also when this JVM ends without closing it (the
 * script's watchdog watches this JVM's PID), so a test killed by SIGKILL leaves no node behind; the
 * directory is cleared of a crashed run's remains at {@link #up}. The script's own output goes to
 * {@code <dir>.log} beside the directory; the daemons' logs stay in {@code <dir>/logs} after {@code
 * down}.
 */
public final class RealNode implements AutoCloseable {
  /** The node's name (its kubelet's {@code --hostname-override}). */
  public static final String NODE_NAME = "kmesos-node";

  private static final Duration UP_TIMEOUT = Duration.ofMinutes(5);
  private static final Duration COMMAND_TIMEOUT = Duration.ofMinutes(3);

  /**
   * How long {@link #deploy} waits for each of its steps (the Pods, the agent, the examples):
   * generous, as seven JVMs start on a machine that may be busy.
   */
  private static final Duration DEPLOY_WAIT = Duration.ofMinutes(10);

  /** The whole of {@link #deploy}: its three waits and the import. */
  private static final Duration DEPLOY_TIMEOUT = DEPLOY_WAIT.multipliedBy(3).plusMinutes(5);

  private final Path script;
  private final Path dir;
  private final Path log;
  private final List<KubernetesClient> clients = new ArrayList<>();
  private boolean closed;

  private RealNode(Path script, Path dir, Path log) {
    this.script = script;
    this.dir = dir;
    this.log = log;
  }

  /**
   * Starts a node in {@code dir} (created; anything in it is removed) and returns once it is Ready
   * with CoreDNS serving and {@link #kubeconfig()} written.
   */
  public static RealNode up(Path dir) {
    Path abs = dir.toAbsolutePath().normalize();
    RealNode node = new RealNode(script(), abs, abs.resolveSibling(abs.getFileName() + ".log"));
    node.run(
        UP_TIMEOUT,
        "up",
        abs.toString(),
        "--owner-pid",
        Long.toString(ProcessHandle.current().pid()));
    return node;
  }

  /** {@code scripts/kube-node.sh} of this checkout, found from the working directory upwards. */
  public static Path script() {
    for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
      Path s = d.resolve("scripts").resolve("kube-node.sh");
      if (Files.isRegularFile(s)) {
        return s;
      }
    }
    throw new IllegalStateException(
        "No scripts/kube-node.sh in "
            + Path.of("").toAbsolutePath()
            + " or a directory above it: run the tests from the kmesos checkout");
  }

  /** The node's directory. */
  public Path directory() {
    return dir;
  }

  /**
   * A kubeconfig (admin, {@code system:masters}) that reaches the node's API server from this
   * machine, through a forwarded port of 127.0.0.1; for kubectl and other processes.
   */
  public Path kubeconfig() {
    return dir.resolve("admin-host.conf");
  }

  /** A client of the node's API server as admin; closed with the node. */
  public synchronized KubernetesClient client() {
    try {
      // kube-node.sh makes ECDSA keys (PKCS#8); fabric8 reads a key as RSA unless told.
      Config config =
          new ConfigBuilder(Config.fromKubeconfig(Files.readString(kubeconfig())))
              .withClientKeyAlgo("EC")
              .build();
      KubernetesClient c = new KubernetesClientBuilder().withConfig(config).build();
      clients.add(c);
      return c;
    } catch (IOException e) {
      throw new UncheckedIOException("reading " + kubeconfig(), e);
    }
  }

  /**
   * Loads a Docker or OCI image archive (e.g. one Jib's {@code buildTar} made) into the node's
   * containerd, under the names it carries; Pods then run it with {@code imagePullPolicy: Never}.
   */
  public void importImage(Path archive) {
    if (!Files.isRegularFile(archive)) {
      throw new IllegalArgumentException("No image archive " + archive.toAbsolutePath());
    }
    run(COMMAND_TIMEOUT, "import", dir.toString(), archive.toAbsolutePath().toString());
  }

  /**
   * Deploys kmesos on the node as an operator installs it, by {@code scripts/kube-node.sh deploy}
   * (the same path as {@code bin/kmesos-local --real-node}): imports {@code imageTar} (the kmesos
   * image, e.g. {@code image/target/kmesos-image.tar}), applies {@code
   * manifests/overlays/real-node}, waits until every kmesos Pod is Ready and its Jobs complete, the
   * node's own Agent is admitted and in session with the master, then applies the examples (agents,
   * quotas, weights, maintenance) and waits until each is {@code Ready: InRegistry}. A failure's
   * message carries what was not ready and why (conditions, events, the last log lines).
   */
  public void deploy(Path imageTar) {
    if (!Files.isRegularFile(imageTar)) {
      throw new IllegalArgumentException("No image archive " + imageTar.toAbsolutePath());
    }
    run(
        DEPLOY_TIMEOUT,
        "deploy",
        dir.toString(),
        "--timeout",
        Long.toString(DEPLOY_WAIT.toSeconds()),
        imageTar.toAbsolutePath().toString());
  }

  /**
   * Gives an image in the node's containerd another name, as {@code ctr images tag --force}: e.g. a
   * new tag of the image {@link #importImage imported}, to roll a workload to "another" image
   * without building or importing one. Runs ctr in the node's namespaces, as {@code kube-node.sh
   * import} does.
   */
  public void tagImage(String from, String to) {
    String holder;
    try {
      holder = Files.readString(dir.resolve("run").resolve("holder.pid")).strip();
    } catch (IOException e) {
      throw new IllegalStateException("No node is running in " + dir + " (no run/holder.pid)", e);
    }
    exec(
        COMMAND_TIMEOUT,
        List.of(
            "nsenter",
            "-t",
            holder,
            "-m",
            "-n",
            "--",
            "ctr",
            "--address",
            dir.resolve("containerd").resolve("containerd.sock").toString(),
            "-n",
            "k8s.io",
            "images",
            "tag",
            "--force",
            from,
            to),
        20);
  }

  /**
   * What of this node is still on the machine (processes, mounts, cgroups, its network namespace),
   * as {@code kube-node.sh leftovers} finds it; empty when nothing is. For a test's check after
   * {@link #close()}.
   */
  public String leftovers() {
    List<String> cmd = List.of("bash", script.toString(), "leftovers", dir.toString());
    try {
      Process p =
          new ProcessBuilder(cmd)
              .directory(script.getParent().getParent().toFile())
              .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
              .redirectErrorStream(true)
              .start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      if (!p.waitFor(COMMAND_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException("kube-node.sh leftovers did not finish: " + out);
      }
      return p.exitValue() == 0 ? "" : out;
    } catch (IOException e) {
      throw new UncheckedIOException("running " + cmd, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while running " + cmd, e);
    }
  }

  /** Takes the node down: every process, mount, cgroup and address of it; {@code dir} but logs/. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    clients.forEach(KubernetesClient::close);
    run(COMMAND_TIMEOUT, "down", dir.toString());
  }

  private void run(Duration timeout, String... args) {
    // deploy's report of what is not ready (conditions, events, log lines) is long.
    int tailLines = "deploy".equals(args[0]) ? 200 : 20;
    List<String> cmd = new ArrayList<>(List.of("bash", script.toString()));
    cmd.addAll(List.of(args));
    exec(timeout, cmd, tailLines);
  }

  /** Runs a command with its output appended to the script's log; fails unless it exits with 0. */
  private void exec(Duration timeout, List<String> cmd, int tailLines) {
    boolean viaScript = cmd.get(0).equals("bash");
    String what = viaScript ? "kube-node.sh " + cmd.get(2) : cmd.get(0);
    String shown =
        viaScript
            ? "kube-node.sh " + String.join(" ", cmd.subList(2, cmd.size()))
            : String.join(" ", cmd);
    try {
      Files.createDirectories(log.getParent());
      Process p =
          new ProcessBuilder(cmd)
              .directory(script.getParent().getParent().toFile())
              .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
              .start();
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException(
            what + " did not finish in " + timeout + ":\n" + tail(tailLines));
      }
      if (p.exitValue() != 0) {
        throw new IllegalStateException(
            shown
                + " failed with status "
                + p.exitValue()
                + " (root and scripts/kube-node-binaries.sh are needed; docs/real-node.md):\n"
                + tail(tailLines));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("running " + cmd, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while running " + cmd, e);
    }
  }

  /** The last {@code n} lines of the script's output, for a failure's message. */
  private String tail(int n) {
    try {
      List<String> lines = Files.readAllLines(log);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - n), lines.size()));
    } catch (IOException e) {
      return "(no output: " + e.getMessage() + ")";
    }
  }
}
