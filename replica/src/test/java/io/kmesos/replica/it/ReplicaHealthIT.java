package io.kmesos.replica.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.StreamObserver;
import io.kmesos.api.log.v1.Envelope;
import io.kmesos.api.log.v1.ReplicaGrpc;
import io.kmesos.api.v1.GetBuildInfoRequest;
import io.kmesos.api.v1.InfoGrpc;
import io.kmesos.replica.client.Writer;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.rocksdb.RocksDB;
import org.rocksdb.util.Environment;

/**
 * What Kubernetes and an operator see of a replica process: the gRPC health service its probes
 * call, reflection for grpcurl, --disabled-endpoints, and a replica whose disk writes fail.
 */
class ReplicaHealthIT extends LogProcessesTest {
  private ManagedChannel channel;

  @AfterEach
  void closeChannel() {
    if (channel != null) {
      channel.shutdownNow();
    }
  }

  private ManagedChannel channelTo(int replica) {
    channel = replicas.channel(replica); // mutual TLS, with an operator's (admin) certificate
    return channel;
  }

  private ServingStatus health(ManagedChannel ch) {
    return HealthGrpc.newBlockingStub(ch)
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .check(HealthCheckRequest.getDefaultInstance())
        .getStatus();
  }

  @Test
  void aReplicaServesHealthAndReflectionAndRefusesItsDisabledEndpoints() throws Exception {
    replicas = new ReplicaProcesses(dir, 1);
    replicas.start(0, "--disabled-endpoints", "kmesos.log.v1.Replica/Call");
    ManagedChannel ch = channelTo(0);
    await().atMost(PATIENCE).ignoreExceptions().until(() -> health(ch) == ServingStatus.SERVING);

    assertThat(reflectedServices(ch))
        .contains(
            "kmesos.log.v1.Replica",
            "kmesos.v1.Info",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection");
    assertThatThrownBy(
            () ->
                ReplicaGrpc.newBlockingStub(ch)
                    .withDeadlineAfter(10, TimeUnit.SECONDS)
                    .call(Envelope.newBuilder().setFrom(-1).setTo(0).build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
              assertThat(e.getStatus().getDescription())
                  .contains("kmesos.log.v1.Replica/Call is disabled");
            });
    assertThat(
            InfoGrpc.newBlockingStub(ch)
                .withDeadlineAfter(10, TimeUnit.SECONDS)
                .getBuildInfo(GetBuildInfoRequest.getDefaultInstance())
                .getComponent())
        .isEqualTo("replica");
    assertThat(replicas.log(0)).contains("disabled endpoints: kmesos.log.v1.Replica/Call");
  }

  @Test
  void kubernetesGrpcProbesReachTheHealthServiceAloneOnAPlaintextPort() throws Exception {
    // Kubernetes' grpc probes speak plaintext gRPC and present no client certificate.
    replicas = new ReplicaProcesses(dir, 1);
    int probePort = ReplicaProcesses.freePort();
    replicas.start(0, "--probe-port", Integer.toString(probePort));
    ManagedChannel probe =
        NettyChannelBuilder.forAddress("127.0.0.1", probePort).usePlaintext().build();
    try {
      await()
          .atMost(PATIENCE)
          .ignoreExceptions()
          .until(() -> health(probe) == ServingStatus.SERVING);
      // Nothing else is served there: not the log, not even the build information.
      assertThatThrownBy(
              () ->
                  InfoGrpc.newBlockingStub(probe)
                      .withDeadlineAfter(10, TimeUnit.SECONDS)
                      .getBuildInfo(GetBuildInfoRequest.getDefaultInstance()))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNIMPLEMENTED));
      assertThatThrownBy(
              () ->
                  ReplicaGrpc.newBlockingStub(probe)
                      .withDeadlineAfter(10, TimeUnit.SECONDS)
                      .call(Envelope.newBuilder().setFrom(-1).setTo(0).build()))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNIMPLEMENTED));
      assertThat(replicas.log(0)).contains("health probes on :" + probePort);
    } finally {
      probe.shutdownNow();
    }
  }

  @Test
  void aReplicaConfiguredOnlyThroughTheEnvironmentServesAndLogsJson() throws Exception {
    replicas = new ReplicaProcesses(dir, 1);
    replicas.startFromEnvironment(
        0,
        Map.of(
            "KMESOS_DISABLED_ENDPOINTS",
            "kmesos.v1.Info/GetBuildInfo",
            "KMESOS_LOG_FORMAT",
            "json"));
    ManagedChannel ch = channelTo(0);
    await().atMost(PATIENCE).ignoreExceptions().until(() -> health(ch) == ServingStatus.SERVING);
    assertThatThrownBy(
            () ->
                InfoGrpc.newBlockingStub(ch)
                    .withDeadlineAfter(10, TimeUnit.SECONDS)
                    .getBuildInfo(GetBuildInfoRequest.getDefaultInstance()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED));
    ObjectMapper json = new ObjectMapper();
    List<JsonNode> lines = new ArrayList<>();
    for (String line : replicas.log(0).lines().toList()) {
      if (line.startsWith("{")) {
        lines.add(json.readTree(line)); // every log line is one JSON object
      }
    }
    assertThat(lines)
        .anySatisfy(
            l -> {
              assertThat(l.get("level").asText()).isEqualTo("INFO");
              assertThat(l.get("loggerName").asText())
                  .isEqualTo("io.kmesos.replica.server.ReplicaServer");
              assertThat(l.get("formattedMessage").asText())
                  .startsWith("replica 0 of 1 serving " + replicas.dataDir(0))
                  .endsWith("disabled endpoints: kmesos.v1.Info/GetBuildInfo");
            });
  }

  @Test
  void anUnknownDisabledEndpointStopsTheReplicaAtStartUpWithOneLine() throws Exception {
    replicas = new ReplicaProcesses(dir, 1);
    Process p = replicas.start(0, "--disabled-endpoints", "kmesos.log.v1.Replica/Truncate");
    assertThat(p.waitFor(PATIENCE.toSeconds(), TimeUnit.SECONDS)).as("the replica exits").isTrue();
    assertThat(p.exitValue()).isEqualTo(1);
    assertThat(replicas.log(0))
        .contains(
            "kmesos-log replica: --disabled-endpoints: this server has no method "
                + "kmesos.log.v1.Replica/Truncate (it has ")
        .doesNotContain("Exception");
  }

  /**
   * Its disk refuses writes past 1 MiB per file (a file-size limit on the process, as a full or
   * failing disk would): the replica stops serving, a watcher of its health sees NOT_SERVING, and
   * it exits with status 1 naming the cause, so that Kubernetes restarts it.
   */
  @Test
  void aReplicaWhoseWritesFailReportsNotServingAndExitsNamingTheCause() throws Exception {
    replicas = new ReplicaProcesses(dir, 1);
    // RocksDB's native library is written to a temporary file at start-up: load it from a directory
    // instead, so that the limit only hits the replica's own writes.
    replicas.jvmOptions.add("-Djava.library.path=" + rocksDbLibrary());
    replicas.launcher.addAll(List.of("prlimit", "--fsize=" + (1 << 20)));
    Process p = replicas.start(0);
    log = replicas.client();
    await()
        .atMost(PATIENCE)
        .ignoreExceptions()
        .until(
            () -> {
              log.initialize("it-log");
              return true;
            });
    ManagedChannel ch = channelTo(0);
    await().atMost(PATIENCE).ignoreExceptions().until(() -> health(ch) == ServingStatus.SERVING);
    assertThat(replicas.log(0)).contains("replica 0: EMPTY -> VOTING");
    List<ServingStatus> watched = watchHealth(ch);
    await().atMost(PATIENCE).until(() -> watched.contains(ServingStatus.SERVING));

    Writer writer = electedWriter();
    byte[] twoMiB = new byte[2 << 20];
    new Random(1).nextBytes(twoMiB);
    CompletableFuture<Long> append = writer.append(ByteString.copyFrom(twoMiB));

    assertThat(p.waitFor(PATIENCE.toSeconds(), TimeUnit.SECONDS)).as("the replica exits").isTrue();
    assertThat(p.exitValue()).isEqualTo(1);
    String output = replicas.log(0);
    assertThat(output)
        .contains(
            "ERROR [replica-0] i.k.r.s.ReplicaServer - replica 0 stopped serving: storage failed: ")
        .contains("File too large")
        .containsPattern(
            "kmesos-log replica: replica 0 stopped serving: storage failed: .*File too large");
    assertThat(watched).as("health seen by a watcher").endsWith(ServingStatus.NOT_SERVING);
    await().atMost(PATIENCE).until(append::isDone);
    assertThat(append).as("the append was never reported committed").isCompletedExceptionally();
    writer.close();
  }

  private Path rocksDbLibrary() throws Exception {
    Path lib = Files.createDirectories(dir.resolve("lib"));
    String name = Environment.getJniLibraryFileName("rocksdb");
    try (InputStream in = RocksDB.class.getClassLoader().getResourceAsStream(name)) {
      assertThat(in).as("RocksDB's native library %s on the class path", name).isNotNull();
      Files.copy(in, lib.resolve(name));
    }
    return lib;
  }

  /** Every status the replica's health Watch stream reports, as it reports them. */
  private static List<ServingStatus> watchHealth(ManagedChannel ch) {
    List<ServingStatus> seen = new CopyOnWriteArrayList<>();
    HealthGrpc.newStub(ch)
        .watch(
            HealthCheckRequest.getDefaultInstance(),
            new StreamObserver<>() {
              @Override
              public void onNext(HealthCheckResponse r) {
                seen.add(r.getStatus());
              }

              @Override
              public void onError(Throwable t) {}

              @Override
              public void onCompleted() {}
            });
    return seen;
  }

  private static List<String> reflectedServices(ManagedChannel ch) throws Exception {
    CompletableFuture<ServerReflectionResponse> answer = new CompletableFuture<>();
    StreamObserver<ServerReflectionRequest> requests =
        ServerReflectionGrpc.newStub(ch)
            .serverReflectionInfo(
                new StreamObserver<>() {
                  @Override
                  public void onNext(ServerReflectionResponse r) {
                    answer.complete(r);
                  }

                  @Override
                  public void onError(Throwable t) {
                    answer.completeExceptionally(t);
                  }

                  @Override
                  public void onCompleted() {}
                });
    requests.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
    requests.onCompleted();
    return answer
        .get(PATIENCE.toSeconds(), TimeUnit.SECONDS)
        .getListServicesResponse()
        .getServiceList()
        .stream()
        .map(ServiceResponse::getName)
        .toList();
  }
}
