package io.kmesos.replica.local;

import io.kmesos.api.cli.EnvironmentDefaults;
import io.kmesos.api.tls.CertificateDirectory;
import io.kmesos.api.tls.ClusterCertificates;
import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.MutualTls;
import io.kmesos.replica.client.Log;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A replicated log of separate replica JVMs on 127.0.0.1, each with its own RocksDB directory under
 * one root: for the local demo, tests of the layers above the log, and benchmarks. Each replica
 * runs {@code kmesos-log replica} with this JVM's class path; its output goes to a file beside its
 * data. A replica dies with this JVM only if it is closed (or killed) first; {@link #close} kills
 * all. Everything speaks mutual TLS with certificates of a CA of its own ({@link #certificates()},
 * made on the first start and kept after).
 */
public final class LocalReplicas implements AutoCloseable {
  private final Path root;
  private final List<String> peers = new ArrayList<>();
  private final Process[] processes;
  private final List<String> jvmOptions;
  private final CertificateDirectory certificates;
  private final Map<Identity, MutualTls> clients = new EnumMap<>(Identity.class);
  private boolean dieWithLauncher;

  /**
   * Replicas under {@code root}, with certificates of the CA in {@code certificates} (created if
   * missing).
   */
  public LocalReplicas(Path root, int n, List<String> jvmOptions, CertificateDirectory certificates)
      throws IOException {
    this.root = root;
    this.processes = new Process[n];
    this.jvmOptions = List.copyOf(jvmOptions);
    this.certificates = certificates;
    issueCertificates(certificates);
    for (int i = 0; i < n; i++) {
      peers.add("127.0.0.1:" + freePort());
    }
  }

  /** Replicas under {@code root}, with a CA of their own in {@code root}/tls. */
  public LocalReplicas(Path root, int n, List<String> jvmOptions) throws IOException {
    this(root, n, jvmOptions, new CertificateDirectory(root.resolve("tls")));
  }

  public LocalReplicas(Path root, int n) throws IOException {
    this(root, n, List.of("-Xmx256m"));
  }

  /**
   * Replicas started from now on die when the thread that started them does (Linux {@code setpriv
   * --pdeathsig}, when available): for a long-lived launcher whose kill -9 must not leave them
   * behind.
   */
  public LocalReplicas dieWithLauncher() {
    this.dieWithLauncher = true;
    return this;
  }

  /**
   * {@code command}, made to die with the launching thread where the system allows it ({@code
   * setpriv --pdeathsig}), in a session of its own ({@code setsid}): Ctrl-C in a terminal then
   * reaches only the launcher, which stops its processes in order, instead of all of them at once.
   */
  public static List<String> tiedToLauncher(List<String> command) {
    List<String> tied = new ArrayList<>();
    executable("setsid").ifPresent(tied::add);
    executable("setpriv")
        .ifPresent(setpriv -> tied.addAll(List.of(setpriv, "--pdeathsig", "KILL")));
    tied.addAll(command);
    return tied;
  }

  private static Optional<String> executable(String name) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, name))) {
        return Optional.of(Path.of(dir, name).toString());
      }
    }
    return Optional.empty();
  }

  /**
   * Makes sure {@code certificates} holds a CA and valid certificates of a replica (reached at
   * 127.0.0.1 and localhost), a controller and an admin, as {@code kmesos-certs files} does.
   */
  public static void issueCertificates(CertificateDirectory certificates) {
    ClusterCertificates.ensure(
        certificates,
        new ClusterCertificates.Settings(
            List.of(Identity.REPLICA, Identity.CONTROLLER, Identity.ADMIN),
            Map.of(Identity.REPLICA, List.of("127.0.0.1", "localhost")),
            ClusterCertificates.Settings.DEFAULT_CA_VALIDITY,
            ClusterCertificates.Settings.DEFAULT_VALIDITY,
            false),
        Instant.now());
  }

  public List<String> peers() {
    return peers;
  }

  /** The CA and the certificates of the replicas and their clients. */
  public CertificateDirectory certificates() {
    return certificates;
  }

  /**
   * TLS of a client of these replicas with {@code identity} (a controller, an admin), loaded once.
   */
  public synchronized MutualTls tls(Identity identity) {
    return clients.computeIfAbsent(identity, i -> MutualTls.load(certificates.settings(i)));
  }

  /** A client of these replicas, with the admin certificate. */
  public Log client() {
    return new Log(peers, tls(Identity.ADMIN));
  }

  public Path dataDir(int i) {
    return root.resolve("replica-" + i);
  }

  /** Replica {@code i}'s process (null if it was never started or was killed). */
  public Process process(int i) {
    return processes[i];
  }

  public Path logFile(int i) {
    return root.resolve("replica-" + i + ".log");
  }

  public LocalReplicas startAll() throws IOException {
    for (int i = 0; i < processes.length; i++) {
      start(i);
    }
    return this;
  }

  public Process start(int i) throws IOException {
    List<String> cmd =
        new ArrayList<>(
            List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    cmd.addAll(jvmOptions);
    cmd.addAll(
        List.of(
            "-cp",
            System.getProperty("java.class.path"),
            "io.kmesos.replica.tool.LogTool",
            "replica",
            "--id",
            Integer.toString(i),
            "--peers",
            String.join(",", peers),
            "--data-dir",
            dataDir(i).toString(),
            "--tls-dir",
            certificates.dir(Identity.REPLICA).toString()));
    Files.createDirectories(root);
    ProcessBuilder replica =
        new ProcessBuilder(dieWithLauncher ? tiedToLauncher(cmd) : cmd)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile(i).toFile()));
    EnvironmentDefaults.removeOptions(replica.environment()); // its options are all above
    processes[i] = replica.start();
    return processes[i];
  }

  /** Initializes the log once every replica answers (they take a moment to start). */
  public void initialize(String clusterId, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    try (Log log = client()) {
      while (true) {
        try {
          log.initialize(clusterId);
          return;
        } catch (RuntimeException e) {
          if (System.nanoTime() > deadline) {
            throw new IllegalStateException(
                "the replicas did not all answer within "
                    + timeout.toSeconds()
                    + " s: "
                    + e.getMessage(),
                e);
          }
          Thread.sleep(100);
        }
      }
    }
  }

  /** kill -9. */
  public void kill(int i) throws InterruptedException {
    if (processes[i] != null) {
      processes[i].destroyForcibly();
      processes[i].waitFor(10, TimeUnit.SECONDS);
      processes[i] = null;
    }
  }

  /** Deletes replica {@code i}'s data (kill it first). */
  public void wipe(int i) throws IOException {
    if (!Files.exists(dataDir(i))) {
      return;
    }
    try (var files = Files.walk(dataDir(i))) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }

  @Override
  public void close() throws InterruptedException {
    for (int i = 0; i < processes.length; i++) {
      kill(i);
    }
    synchronized (this) {
      clients.values().forEach(MutualTls::close);
      clients.clear();
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 0, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
