package io.kmesos.controller;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.kmesos.api.operator.v1.GetStateRequest;
import io.kmesos.api.operator.v1.GetStateResponse;
import io.kmesos.api.operator.v1.OperatorGrpc;
import io.kmesos.api.scheduler.v1.ReconcileRequest;
import io.kmesos.api.scheduler.v1.SchedulerGrpc;
import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.MutualTls;
import io.kmesos.devcluster.LocalKubeApiServer;
import io.kmesos.devcluster.WithKubeApiServer;
import io.kmesos.replica.local.LocalReplicas;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The master's gRPC port in real controller processes (a real kube-apiserver, a 3-replica log): the
 * leader serves once it recovered the registry, the standby answers UNAVAILABLE naming the leader's
 * address (read from the Lease), both over the controller's TLS.
 */
@WithKubeApiServer
class MasterPortIT {
  static final Duration PATIENCE = Duration.ofMinutes(2);
  static KubernetesClient client;
  static Path kubeconfig;

  @TempDir Path dir;
  LocalReplicas replicas;
  MutualTls admin;
  final List<Process> controllers = new ArrayList<>();
  final List<ManagedChannel> channels = new ArrayList<>();

  @BeforeAll
  static void cluster(LocalKubeApiServer server, KubernetesClient k8s, @TempDir Path tmp)
      throws Exception {
    client = k8s;
    kubeconfig = ControllerProcesses.prepare(server, client, tmp, PATIENCE);
  }

  @AfterEach
  void stop() throws Exception {
    channels.forEach(ManagedChannel::shutdownNow);
    ControllerProcesses.killAll(controllers, client);
    if (admin != null) {
      admin.close();
    }
    if (replicas != null) {
      replicas.close();
    }
  }

  static int freePort() throws Exception {
    try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return free.getLocalPort();
    }
  }

  ManagedChannel channel(int port) {
    ManagedChannel c =
        Grpc.newChannelBuilderForAddress(
                "127.0.0.1", port, admin.channelCredentials(Identity.CONTROLLER))
            .build();
    channels.add(c);
    return c;
  }

  static Metadata bearer(String token) {
    Metadata m = new Metadata();
    m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
    return m;
  }

  @Test
  void theLeaderServesTheMasterPortAndTheStandbyNamesIt() throws Exception {
    replicas =
        new LocalReplicas(dir.resolve("log"), 3, List.of("-Xmx256m", "-XX:TieredStopAtLevel=1"))
            .startAll();
    replicas.initialize("master-port-it", PATIENCE);
    admin = MutualTls.load(replicas.certificates().settings(Identity.ADMIN));
    Map<String, Integer> ports = Map.of("c1", freePort(), "c2", freePort());
    for (var e : ports.entrySet()) {
      controllers.add(
          ControllerProcesses.start(
              kubeconfig,
              String.join(",", replicas.peers()),
              replicas.certificates().dir(Identity.CONTROLLER),
              dir,
              e.getKey(),
              0,
              "--master-port",
              e.getValue().toString(),
              "--advertise-address",
              "127.0.0.1:" + e.getValue()));
    }
    await().atMost(PATIENCE).until(() -> ControllerProcesses.leader(client) != null);
    String leader = ControllerProcesses.leader(client);
    String standby = leader.equals("c1") ? "c2" : "c1";
    String leaderAddress = "127.0.0.1:" + ports.get(leader);

    // The leader, once recovered: the operator API answers an admin certificate with its state.
    GetStateResponse state =
        await()
            .atMost(PATIENCE)
            .ignoreExceptions()
            .until(
                () ->
                    OperatorGrpc.newBlockingStub(channel(ports.get(leader)))
                        .withDeadlineAfter(10, TimeUnit.SECONDS)
                        .getState(GetStateRequest.getDefaultInstance()),
                s -> true);
    assertThat(state.getMasterInfo().getAddress()).isEqualTo(leaderAddress);
    assertThat(state.getMasterInfo().getLeaderIdentity()).isEqualTo(leader);

    // A scheduler's token reaches the authenticator (not a standby's answer).
    StatusRuntimeException refused =
        catchStatus(
            () ->
                SchedulerGrpc.newBlockingStub(channel(ports.get(leader)))
                    .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer("t")))
                    .withDeadlineAfter(10, TimeUnit.SECONDS)
                    .reconcile(ReconcileRequest.getDefaultInstance()));
    assertThat(refused.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);

    // The standby names the leader.
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () -> {
              StatusRuntimeException e =
                  catchStatus(
                      () ->
                          SchedulerGrpc.newBlockingStub(channel(ports.get(standby)))
                              .withDeadlineAfter(10, TimeUnit.SECONDS)
                              .reconcile(ReconcileRequest.getDefaultInstance()));
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
              assertThat(e.getStatus().getDescription())
                  .isEqualTo("not the leading master; the leader is " + leaderAddress);
              assertThat(
                      e.getTrailers()
                          .get(Metadata.Key.of("kmesos-leader", Metadata.ASCII_STRING_MARSHALLER)))
                  .isEqualTo(leaderAddress);
            });
  }

  static StatusRuntimeException catchStatus(Runnable call) {
    try {
      call.run();
    } catch (StatusRuntimeException e) {
      return e;
    }
    throw new AssertionError("the call succeeded");
  }
}
