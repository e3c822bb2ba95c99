package io.kmesos.registry.tool;

import com.google.protobuf.Timestamp;
import io.kmesos.api.cli.Failures;
import io.kmesos.api.cli.VersionProvider;
import io.kmesos.api.registry.v1.AdmitAgent;
import io.kmesos.api.registry.v1.AgentInfo;
import io.kmesos.api.registry.v1.MarkAgentReachable;
import io.kmesos.api.registry.v1.MarkAgentUnreachable;
import io.kmesos.api.registry.v1.MasterInfo;
import io.kmesos.api.registry.v1.Operation;
import io.kmesos.api.registry.v1.Quota;
import io.kmesos.api.registry.v1.UpdateAgent;
import io.kmesos.api.registry.v1.UpdateQuota;
import io.kmesos.registry.Registrar;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.local.LocalReplicas;
import io.kmesos.replica.state.State;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The registrar benchmark, in the spirit of Mesos's registrar benchmarks, side by side with the way
 * Mesos stores its registry (the whole registry on every change, then a truncate), on the same log
 * implementation and machine. For each size and each way, on a fresh 3-replica log of its own:
 * admit the agents (many in flight, so that they share batches, as after a master failover), then
 * time single operations one after another, count the bytes each appends to the log, and time a new
 * registrar's recovery.
 */
@Command(
    name = "benchmark",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = {
      "Benchmarks the registrar against the whole-registry-per-change baseline (Mesos's way).",
      "Starts its own 3-replica logs (separate JVMs on 127.0.0.1) under --work-dir; prints one line per run."
    })
final class BenchmarkCommand implements Callable<Integer> {
  @Option(
      names = "--agents",
      defaultValue = "10000,50000",
      split = ",",
      description = "Registry sizes, in admitted agents (default: ${DEFAULT-VALUE}).")
  int[] sizes;

  @Option(
      names = "--ops",
      defaultValue = "1000",
      description = "Single operations timed per run, kmesos (default: ${DEFAULT-VALUE}).")
  int ops;

  @Option(
      names = "--baseline-ops",
      defaultValue = "100",
      description =
          "Single operations timed per run, whole-registry baseline (default: ${DEFAULT-VALUE}).")
  int baselineOps;

  @Option(
      names = "--warmup-ops",
      defaultValue = "500",
      description =
          "Single operations run before the timed ones, kmesos; the baseline runs a tenth as many "
              + "(default: ${DEFAULT-VALUE}). Fresh replica JVMs compile as they go: without these, the first timed "
              + "operations measure the JIT.")
  int warmupOps;

  @Option(
      names = "--in-flight",
      defaultValue = "500",
      description = "Admissions in flight while filling the registry (default: ${DEFAULT-VALUE}).")
  int inFlight;

  @Option(
      names = "--repeats",
      defaultValue = "2",
      description = "Runs of each point (default: ${DEFAULT-VALUE}).")
  int repeats;

  @Option(
      names = "--modes",
      defaultValue = "kmesos,whole-registry",
      split = ",",
      description = "kmesos and/or whole-registry (default: ${DEFAULT-VALUE}).")
  List<String> modes;

  @Option(
      names = "--work-dir",
      description = "Where the replicas keep their data (default: a new temporary directory).")
  Path workDir;

  @Override
  public Integer call() throws Exception {
    for (String m : modes) {
      if (!m.equals("kmesos") && !m.equals("whole-registry")) {
        throw new IllegalArgumentException(
            "--modes takes kmesos and whole-registry, not '" + m + "'");
      }
    }
    Path root =
        workDir != null
            ? Files.createDirectories(workDir)
            : Files.createTempDirectory("kmesos-registry-bench");
    int run = 0;
    for (int rep = 1; rep <= repeats; rep++) {
      for (int size : sizes) {
        // Alternate which way goes first, so that neither always runs on a warmer machine.
        List<String> order = new ArrayList<>(modes);
        if ((rep + run) % 2 == 1) {
          Collections.reverse(order);
        }
        for (String mode : order) {
          System.out.println(point(root.resolve("run-" + (++run)), mode, size));
          System.out.flush();
        }
      }
    }
    return 0;
  }

  private String point(Path dir, String mode, int size) throws Exception {
    try (LocalReplicas replicas = new LocalReplicas(dir, 3, List.of("-Xmx1g")).startAll();
        Log log = replicas.client()) {
      replicas.initialize("bench", Duration.ofSeconds(60));
      Registrar registrar = start(mode, log, "master-1");
      long fillStart = System.nanoTime();
      fill(registrar, size);
      double fillSeconds = (System.nanoTime() - fillStart) / 1e9;

      int n = mode.equals("kmesos") ? ops : baselineOps;
      int warmup = mode.equals("kmesos") ? warmupOps : warmupOps / 10;
      warmup -=
          warmup % 4; // whole rounds of the four operations: every agent marked unreachable is back
      for (int i = 0; i < warmup; i++) {
        registrar.apply(operation(n + i, size)).get(60, TimeUnit.SECONDS);
      }
      long[] latencies = new long[n];
      long bytesBefore = registrar.appendedBytes();
      for (int i = 0; i < n; i++) {
        Operation op = operation(i, size);
        long s = System.nanoTime();
        registrar.apply(op).get(60, TimeUnit.SECONDS);
        latencies[i] = System.nanoTime() - s;
      }
      long bytesPerOp = (registrar.appendedBytes() - bytesBefore) / n;
      long version = registrar.version();
      registrar.close();

      // A new master's whole start, the same for both ways: election, reading the log, decoding,
      // and recording itself as the leading master.
      long recoveryStarted = System.nanoTime();
      Registrar recovered = start(mode, log, "master-2");
      long recoveryMillis = (System.nanoTime() - recoveryStarted) / 1_000_000;
      long readMillis = recovered.recoveryMillis();
      int entries = recovered.size();
      recovered.close();
      if (recovered.version() != version + 1) {
        throw new IllegalStateException(
            "recovered version " + recovered.version() + ", expected " + (version + 1));
      }
      Arrays.sort(latencies);
      return String.format(
          "mode=%s agents=%d entries=%d fill_s=%.1f ops=%d op_p50_ms=%.3f op_p99_ms=%.3f "
              + "bytes_per_op=%d recovery_ms=%d read_ms=%d",
          mode,
          size,
          entries,
          fillSeconds,
          n,
          latencies[n / 2] / 1e6,
          latencies[Math.min(n - 1, (int) (n * 0.99))] / 1e6,
          bytesPerOp,
          recoveryMillis,
          readMillis);
    } finally {
      delete(dir);
    }
  }

  private static Registrar start(String mode, Log log, String masterId) throws Exception {
    MasterInfo master = MasterInfo.newBuilder().setId(masterId).setHostname("localhost").build();
    return mode.equals("kmesos")
        ? Registrar.start(log, master, State.Settings.DEFAULT)
        : Registrar.startWholeRegistry(log, master, Duration.ofSeconds(120));
  }

  /** Admits {@code size} agents, {@code inFlight} at a time. */
  private void fill(Registrar registrar, int size) throws Exception {
    Semaphore window = new Semaphore(inFlight);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    for (int i = 0; i < size && failure.get() == null; i++) {
      window.acquire();
      registrar
          .apply(
              Operation.newBuilder()
                  .setAdmitAgent(AdmitAgent.newBuilder().setInfo(agent(i, 32)))
                  .build())
          .whenComplete(
              (ok, e) -> {
                if (e != null) {
                  failure.compareAndSet(null, e);
                }
                window.release();
              });
    }
    window.acquire(inFlight);
    if (failure.get() != null) {
      throw new IllegalStateException(
          "admitting failed: " + Failures.oneLine(failure.get()), failure.get());
    }
  }

  /** A realistic agent: the resources and attributes a Mesos agent registers with. */
  static AgentInfo agent(int i, int cpus) {
    return AgentInfo.newBuilder()
        .setId(String.format("5f0e7c2a-9b1d-4d3e-8a6f-%012d-S%d", i, i))
        .setHostname(String.format("node-%05d.rack-%03d.dc1.example.com", i, i / 40))
        .setPort(5051)
        .putResources("cpus", cpus)
        .putResources("mem", 257_024)
        .putResources("disk", 1_887_436)
        .putResources("gpus", 0)
        .putAttributes("rack", "rack-" + i / 40)
        .putAttributes("zone", "zone-" + i % 3)
        .putAttributes("os", "debian-12")
        .build();
  }

  /** The i-th timed operation: a mix of what a master does day to day. */
  private static Operation operation(int i, int size) {
    int a = (i * 7919) % size;
    Timestamp now = Timestamp.newBuilder().setSeconds(1_800_000_000L + i).build();
    return switch (i % 4) {
      case 0 ->
          Operation.newBuilder()
              .setMarkAgentUnreachable(
                  MarkAgentUnreachable.newBuilder().setId(agent(a, 32).getId()).setAt(now))
              .build();
      case 1 ->
          Operation.newBuilder()
              .setMarkAgentReachable(
                  MarkAgentReachable.newBuilder().setInfo(agent((((i - 1) * 7919) % size), 32)))
              .build();
      case 2 ->
          Operation.newBuilder()
              .setUpdateAgent(UpdateAgent.newBuilder().setInfo(agent(a, 33 + (i / 4) % 7)))
              .build();
      default ->
          Operation.newBuilder()
              .setUpdateQuota(
                  UpdateQuota.newBuilder()
                      .setQuota(
                          Quota.newBuilder()
                              .setRole("team-" + i % 10)
                              .putGuarantees("cpus", i % 100)
                              .putLimits("cpus", 1000)))
              .build();
    };
  }

  private static void delete(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (var files = Files.walk(dir)) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
