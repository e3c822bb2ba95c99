package io.kmesos.replica.it;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.kmesos.api.tls.CertificateDirectory;
import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.MutualTls;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.local.LocalReplicas;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Replicas as separate JVMs on 127.0.0.1, each with its own RocksDB directory, started from the
 * built {@code kmesos-replica.jar} exactly as an operator would ({@code kmesos-log replica ...}).
 * Output goes to a file per replica, kept for the test report. Every connection is mutual TLS, with
 * certificates of a CA made for this run under {@code root/tls} by the code kmesos-certs uses.
 */
final class ReplicaProcesses implements AutoCloseable {
  static final Path JAR = Path.of("target/kmesos-replica.jar");

  final Path root;
  final List<String> peers = new ArrayList<>();
  private final Process[] processes;

  /**
   * JVM options of every process a test starts from the jar: C1 only. A test's replicas and tools
   * live seconds to minutes, and on a small busy machine the C2 compiler's work at start costs more
   * than its faster code ever gives back: a replica's start to serving took about a third less CPU
   * (2.0 s instead of 3.0 s of CPU, measured on a loaded 2-core machine).
   */
  static final List<String> TEST_JVM = List.of("-XX:TieredStopAtLevel=1");

  /** JVM options of replicas started from now on (e.g. -DKMESOS_LOG_LEVEL=DEBUG). */
  final List<String> jvmOptions = new ArrayList<>(List.of("-Xmx256m"));

  /**
   * What runs java for replicas started from now on (e.g. prlimit with its options); none by
   * default.
   */
  final List<String> launcher = new ArrayList<>();

  final CertificateDirectory certificates;
  private MutualTls admin;

  ReplicaProcesses(Path root, int n) throws IOException {
    this.root = root;
    this.processes = new Process[n];
    this.certificates = certificates(root);
    jvmOptions.addAll(TEST_JVM);
    for (int i = 0; i < n; i++) {
      peers.add("127.0.0.1:" + freePort());
    }
  }

  /**
   * A CA and certificates of a replica, a controller and an admin under {@code root}/tls (kept if
   * there).
   */
  static CertificateDirectory certificates(Path root) {
    CertificateDirectory certificates = new CertificateDirectory(root.resolve("tls"));
    LocalReplicas.issueCertificates(certificates);
    return certificates;
  }

  /** The --tls-dir of a client with {@code identity}. */
  String tlsDir(Identity identity) {
    return certificates.dir(identity).toString();
  }

  /** TLS with the admin certificate, as an operator's tool has it. */
  synchronized MutualTls adminTls() {
    if (admin == null) {
      admin = MutualTls.load(certificates.settings(Identity.ADMIN));
    }
    return admin;
  }

  /** A client of these replicas with the admin certificate. */
  Log client() {
    return new Log(peers, adminTls());
  }

  /** A raw channel to replica {@code i} with the admin certificate. */
  ManagedChannel channel(int i) {
    return NettyChannelBuilder.forTarget(
            peers.get(i), adminTls().channelCredentials(Identity.REPLICA))
        .maxInboundMessageSize(64 << 20)
        .build();
  }

  String peerList() {
    return String.join(",", peers);
  }

  Path dataDir(int i) {
    return root.resolve("replica-" + i);
  }

  Path logFile(int i) {
    return root.resolve("replica-" + i + ".log");
  }

  ReplicaProcesses startAll() throws IOException {
    for (int i = 0; i < processes.length; i++) {
      start(i);
    }
    return this;
  }

  /** Replica {@code i}'s process (null if it was never started or was killed). */
  Process process(int i) {
    return processes[i];
  }

  Process start(int i, String... extra) throws IOException {
    List<String> cmd = new ArrayList<>(launcher);
    cmd.add(java());
    cmd.addAll(jvmOptions);
    cmd.addAll(
        List.of(
            "-jar",
            JAR.toString(),
            "replica",
            "--id",
            Integer.toString(i),
            "--peers",
            peerList(),
            "--data-dir",
            dataDir(i).toString(),
            "--tls-dir",
            tlsDir(Identity.REPLICA)));
    cmd.addAll(List.of(extra));
    processes[i] =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile(i).toFile()))
            .start();
    return processes[i];
  }

  /**
   * Replica {@code i} configured through the environment only, as a pod can be: KMESOS_ID,
   * KMESOS_PEERS, KMESOS_DATA_DIR, KMESOS_TLS_DIR and {@code more} variables; no option on its
   * command line.
   */
  Process startFromEnvironment(int i, Map<String, String> more) throws IOException {
    List<String> cmd = new ArrayList<>(launcher);
    cmd.add(java());
    cmd.addAll(jvmOptions);
    cmd.addAll(List.of("-jar", JAR.toString(), "replica"));
    ProcessBuilder replica =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile(i).toFile()));
    replica
        .environment()
        .putAll(
            Map.of(
                "KMESOS_ID",
                Integer.toString(i),
                "KMESOS_PEERS",
                peerList(),
                "KMESOS_DATA_DIR",
                dataDir(i).toString(),
                "KMESOS_TLS_DIR",
                tlsDir(Identity.REPLICA)));
    replica.environment().putAll(more);
    processes[i] = replica.start();
    return processes[i];
  }

  /** kill -9, and wait until the process is gone (its port is free again). */
  void kill(int i) throws InterruptedException {
    if (processes[i] != null) {
      processes[i].destroyForcibly();
      if (!processes[i].waitFor(60, TimeUnit.SECONDS)) {
        throw new IllegalStateException("replica " + i + " did not die within 60 s of kill -9");
      }
      processes[i] = null;
    }
  }

  /** kill -STOP: the replica still accepts connections (the kernel does), but answers nothing. */
  void pause(int i) throws Exception {
    signal(i, "STOP");
  }

  /** kill -CONT. */
  void resume(int i) throws Exception {
    signal(i, "CONT");
  }

  private void signal(int i, String signal) throws Exception {
    Process kill =
        new ProcessBuilder("kill", "-" + signal, Long.toString(processes[i].pid()))
            .inheritIO()
            .start();
    if (!kill.waitFor(30, TimeUnit.SECONDS) || kill.exitValue() != 0) {
      throw new IllegalStateException("kill -" + signal + " of replica " + i + " failed");
    }
  }

  void wipe(int i) throws IOException {
    try (var files = Files.walk(dataDir(i))) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }

  String log(int i) throws IOException {
    return Files.exists(logFile(i)) ? Files.readString(logFile(i)) : "";
  }

  @Override
  public void close() throws InterruptedException {
    for (int i = 0; i < processes.length; i++) {
      kill(i);
    }
    synchronized (this) {
      if (admin != null) {
        admin.close();
        admin = null;
      }
    }
  }

  static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 0, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
