package io.kmesos.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import io.kmesos.api.registry.v1.AdmitAgent;
import io.kmesos.api.registry.v1.Agent;
import io.kmesos.api.registry.v1.AgentInfo;
import io.kmesos.api.registry.v1.MasterInfo;
import io.kmesos.api.registry.v1.Operation;
import io.kmesos.api.registry.v1.Registry;
import io.kmesos.api.registry.v1.UpdateWeights;
import io.kmesos.api.registry.v1.Weight;
import io.kmesos.api.text.ReadableProto;
import io.kmesos.api.tls.Identity;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.local.LocalReplicas;
import io.kmesos.replica.state.State;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The registrar on a 3-replica log of separate JVMs with RocksDB: a registrar process killed with
 * kill -9 mid-batch, two registrars racing, snapshots and truncation, and the readable contents
 * ({@code kmesos-registry show}, {@code kmesos-log read --decode}).
 */
class RegistrarIT {
  /**
   * How long a test waits for what only takes time: generous, the machine may be small and busy.
   */
  static final Duration PATIENCE = Duration.ofMinutes(2);

  @TempDir Path dir;
  LocalReplicas replicas;
  Log log;
  final List<Process> tools = new ArrayList<>();

  @BeforeEach
  void start() throws Exception {
    replicas =
        new LocalReplicas(dir.resolve("log"), 3, List.of("-Xmx256m", "-XX:TieredStopAtLevel=1"))
            .startAll();
    replicas.initialize("registry-it", PATIENCE);
    log = replicas.client();
  }

  @AfterEach
  void stop() throws Exception {
    tools.forEach(Process::destroyForcibly);
    if (log != null) {
      log.close();
    }
    replicas.close();
  }

  static MasterInfo master(String id) {
    return MasterInfo.newBuilder().setId(id).setHostname("localhost").build();
  }

  static Operation admit(String id) {
    return Operation.newBuilder()
        .setAdmitAgent(
            AdmitAgent.newBuilder()
                .setInfo(
                    AgentInfo.newBuilder()
                        .setId(id)
                        .setHostname(id + ".example.com")
                        .putResources("cpus", 8)))
        .build();
  }

  /** A kmesos tool as its own JVM, output to a file. */
  Process tool(String mainClass, Path output, String... args) throws Exception {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m",
                "-cp",
                System.getProperty("java.class.path"),
                mainClass));
    cmd.addAll(List.of(args));
    ProcessBuilder pb =
        new ProcessBuilder(cmd)
            .redirectOutput(output.toFile())
            .redirectError(Path.of(output + ".err").toFile());
    // An operator's certificate, as a user of the tools sets it (docs/security.md).
    pb.environment().put("KMESOS_TLS_DIR", replicas.certificates().dir(Identity.ADMIN).toString());
    Process p = pb.start();
    tools.add(p);
    return p;
  }

  String runTool(String mainClass, String... args) throws Exception {
    Path out = Files.createTempFile(dir, "tool", ".out");
    Process p = tool(mainClass, out, args);
    assertThat(p.waitFor(PATIENCE.toSeconds(), TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(Files.readString(Path.of(out + ".err"))).isZero();
    return Files.readString(out);
  }

  static Set<String> agentIds(Registry r) {
    Set<String> ids = new HashSet<>();
    for (Agent a : r.getAgentsList()) {
      ids.add(a.getInfo().getId());
    }
    return ids;
  }

  @Test
  void aNewRegistrarRecoversExactlyWhatTheKilledOneCommitted() throws Exception {
    int total = 6000;
    Path ops = dir.resolve("ops.jsonl");
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < total; i++) {
      lines.add(JsonFormat.printer().omittingInsignificantWhitespace().print(admit("agent-" + i)));
    }
    Files.write(ops, lines);
    Path out = dir.resolve("apply.out");
    Process registrar =
        tool(
            "io.kmesos.registry.tool.RegistryTool",
            out,
            "apply",
            "--peers",
            String.join(",", replicas.peers()),
            "--master-id",
            "doomed",
            "-f",
            ops.toString());
    await().atMost(PATIENCE).until(() -> Files.readAllLines(out).size() >= 1500);
    registrar.destroyForcibly(); // kill -9, batches in flight
    registrar.waitFor(10, TimeUnit.SECONDS);

    Set<String> acknowledged = new HashSet<>();
    for (int line : changedLines(out)) {
      acknowledged.add("agent-" + (line - 1));
    }
    assertThat(acknowledged).hasSizeGreaterThanOrEqualTo(1500);

    try (Registrar next = Registrar.start(log, master("survivor"))) {
      Registry r = next.registry();
      assertThat(agentIds(r)).as("every acknowledged admission is there").containsAll(acknowledged);
      assertThat(agentIds(r))
          .as("and nothing that was never submitted")
          .allMatch(id -> Integer.parseInt(id.substring("agent-".length())) < total);
      // Exactly what the log holds: read it as any reader would, beside the registrar. (A batch the
      // killed registrar had in flight is either in both or in neither: the new writer's election
      // decides it before recovery reads.)
      await()
          .atMost(PATIENCE)
          .untilAsserted(
              () -> {
                State.Contents committed = State.read(log, PATIENCE);
                Registry inLog =
                    RegistryContents.of(committed.variables(), committed.sequence()).toProto();
                assertThat(agentIds(r))
                    .as("the recovered registry is the log's")
                    .isEqualTo(agentIds(inLog));
                assertThat(r.getVersion()).isEqualTo(inLog.getVersion());
              });
      assertThat(r.getMaster().getId()).isEqualTo("survivor");

      // The new registrar goes on: admitting an agent the killed one already admitted is refused.
      String known = acknowledged.iterator().next();
      assertThat(next.apply(admit(known)))
          .failsWithin(PATIENCE)
          .withThrowableOfType(ExecutionException.class)
          .withCauseInstanceOf(OperationRefusedException.class);
      assertThat(next.apply(admit("after-failover")).get(PATIENCE.toSeconds(), TimeUnit.SECONDS))
          .isTrue();
    }
  }

  @Test
  void twoRegistrarsRacingNeverForkTheRegistry() throws Exception {
    // The first master is a process of its own (kmesos-registry apply), fed admissions one by one.
    Path out = dir.resolve("first.out");
    List<String> cmd =
        List.of(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-Xmx256m",
            "-cp",
            System.getProperty("java.class.path"),
            "io.kmesos.registry.tool.RegistryTool",
            "apply",
            "--peers",
            String.join(",", replicas.peers()),
            "--master-id",
            "first");
    ProcessBuilder firstMaster =
        new ProcessBuilder(cmd)
            .redirectOutput(out.toFile())
            .redirectError(Path.of(out + ".err").toFile());
    firstMaster
        .environment()
        .put("KMESOS_TLS_DIR", replicas.certificates().dir(Identity.ADMIN).toString());
    Process first = firstMaster.start();
    tools.add(first);
    Thread feeder =
        new Thread(
            () -> {
              try (var w =
                  new BufferedWriter(
                      new OutputStreamWriter(first.getOutputStream(), StandardCharsets.UTF_8))) {
                for (int i = 0; i < 100_000 && first.isAlive(); i++) {
                  w.write(
                      JsonFormat.printer()
                          .omittingInsignificantWhitespace()
                          .print(admit("first-" + i)));
                  w.newLine();
                  w.flush();
                  Thread.sleep(1);
                }
              } catch (IOException | InterruptedException e) {
                // the first registrar stopped reading: superseded
              }
            });
    feeder.setDaemon(true);
    feeder.start();
    await().atMost(PATIENCE).until(() -> changedLines(out).size() >= 200);

    // A second master takes over while the first is still writing.
    try (Log other = replicas.client();
        Registrar second = Registrar.start(other, master("second"))) {
      assertThat(first.waitFor(PATIENCE.toSeconds(), TimeUnit.SECONDS))
          .as("the first registrar stops once superseded")
          .isTrue();
      assertThat(first.exitValue()).isEqualTo(1);
      assertThat(Files.readString(Path.of(out + ".err"))).contains("superseded");
      Set<String> acknowledgedByFirst = new HashSet<>();
      for (int line : changedLines(out)) {
        acknowledgedByFirst.add("first-" + (line - 1));
      }

      List<CompletableFuture<Boolean>> more = new ArrayList<>();
      for (int i = 0; i < 300; i++) {
        more.add(second.apply(admit("second-" + i)));
      }
      CompletableFuture.allOf(more.toArray(CompletableFuture[]::new))
          .get(PATIENCE.toSeconds(), TimeUnit.SECONDS);

      Registry seenBySecond = second.registry();
      assertThat(agentIds(seenBySecond)).containsAll(acknowledgedByFirst);
      assertThat(seenBySecond.getMaster().getId()).isEqualTo("second");
      // Whoever reads the log now sees exactly the second registrar's registry: one history.
      await()
          .atMost(PATIENCE)
          .untilAsserted(
              () -> {
                State.Contents read = State.read(log, PATIENCE);
                assertThat(RegistryContents.of(read.variables(), read.sequence()).toProto())
                    .isEqualTo(seenBySecond);
              });
    }
  }

  /**
   * Line numbers (1-based, in the input) that {@code kmesos-registry apply} reported as changed.
   */
  static List<Integer> changedLines(Path out) throws IOException {
    List<Integer> lines = new ArrayList<>();
    for (String line : Files.readAllLines(out)) {
      String[] f = line.split("\t");
      if (f.length == 2 && f[1].equals("changed")) {
        lines.add(Integer.parseInt(f[0]));
      }
    }
    return lines;
  }

  @Test
  void snapshotsTruncateTheLogAndRecoveryReadsTheSnapshotPlusWhatFollows() throws Exception {
    State.Settings small = new State.Settings(32 << 10, 100_000, 8 << 10, Duration.ofSeconds(30));
    Registry before;
    long appended;
    try (Registrar r = Registrar.start(log, master("m1"), small)) {
      for (int round = 0; round < 20; round++) {
        List<CompletableFuture<Boolean>> batch = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
          batch.add(r.apply(admit("agent-" + round + "-" + i)));
        }
        CompletableFuture.allOf(batch.toArray(CompletableFuture[]::new))
            .get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
      }
      before = r.registry();
      appended = r.appendedBytes();
    }
    await().atMost(PATIENCE).until(() -> log.reader().beginning() > 1);
    try (Registrar r = Registrar.start(log, master("m2"), small)) {
      Registry after = r.registry();
      assertThat(after.toBuilder().clearMaster().setVersion(0).build())
          .isEqualTo(before.toBuilder().clearMaster().setVersion(0).build());
      assertThat(after.getAgentsCount()).isEqualTo(2000);
      assertThat(after.getVersion()).isEqualTo(before.getVersion() + 1);
      State.Contents read = State.read(log, PATIENCE);
      assertThat(read.recovered().snapshotAsOf())
          .as("recovery started from a snapshot")
          .isPositive();
      assertThat(read.recovered().bytesRead())
          .as("and read less than was ever written")
          .isLessThan(appended);
    }
  }

  @Test
  void theRegistryAndItsHistoryAreReadable() throws Exception {
    try (Registrar r = Registrar.start(log, master("m1"))) {
      r.apply(admit("a1")).get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
      r.apply(
              Operation.newBuilder()
                  .setUpdateWeights(
                      UpdateWeights.newBuilder()
                          .addWeights(Weight.newBuilder().setRole("eng").setWeight(2)))
                  .build())
          .get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
      r.apply(FrameworkOperationsTest.add(FrameworkOperationsTest.framework("m1-0000")))
          .get(PATIENCE.toSeconds(), TimeUnit.SECONDS);

      String peers = String.join(",", replicas.peers());
      Registry.Builder shown = Registry.newBuilder();
      String json =
          runTool(
              "io.kmesos.registry.tool.RegistryTool", "show", "--peers", peers, "--format", "json");
      try {
        JsonFormat.parser().merge(json, shown);
      } catch (InvalidProtocolBufferException e) {
        throw new AssertionError("show printed:\n" + json, e);
      }
      assertThat(shown.build()).isEqualTo(r.registry());
      String yaml = runTool("io.kmesos.registry.tool.RegistryTool", "show", "--peers", peers);
      assertThat(yaml).contains("id: a1", "hostname: a1.example.com", "role: eng", "weight: 2");
      // Frameworks, with what a later master needs to honour their failover timeouts.
      assertThat(yaml)
          .contains("frameworks:", "id: m1-0000", "failoverTimeout: 3600s", "registeredAt:");

      JsonNode history =
          ReadableProto.mapper()
              .readTree(
                  runTool(
                      "io.kmesos.replica.tool.LogTool",
                      "read",
                      "--peers",
                      peers,
                      "--decode",
                      "--format",
                      "json"));
      List<String> causes = new ArrayList<>();
      for (JsonNode entry : history) {
        for (JsonNode cause : entry.path("change").path("causes")) {
          assertThat(cause.path("@type").asText())
              .isEqualTo("type.googleapis.com/kmesos.registry.v1.Operation");
          causes.add(String.join(",", fieldNames(cause)));
        }
      }
      assertThat(causes)
          .containsExactly(
              "@type,recordMaster",
              "@type,admitAgent",
              "@type,updateWeights",
              "@type,addFramework");
      JsonNode admitted = history.get(history.size() - 3).path("change").path("stores").get(0);
      assertThat(admitted.path("name").asText()).isEqualTo("agents/a1");
      assertThat(admitted.path("value").path("state").asText()).isEqualTo("ADMITTED");
    }
  }

  private static List<String> fieldNames(JsonNode n) {
    List<String> out = new ArrayList<>();
    n.fieldNames().forEachRemaining(out::add);
    return out;
  }
}
