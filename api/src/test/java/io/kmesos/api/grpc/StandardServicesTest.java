package io.kmesos.api.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.StreamObserver;
import io.kmesos.api.log.v1.Envelope;
import io.kmesos.api.log.v1.ReplicaGrpc;
import io.kmesos.api.v1.GetBuildInfoRequest;
import io.kmesos.api.v1.InfoGrpc;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Health, reflection and disabled endpoints as a client of a kmesos server sees them. */
class StandardServicesTest {
  static final class Echo extends ReplicaGrpc.ReplicaImplBase {
    @Override
    public void call(Envelope request, StreamObserver<Envelope> answer) {
      answer.onNext(request);
      answer.onCompleted();
    }
  }

  private Server server;
  private ManagedChannel channel;

  private StandardServices start(DisabledEndpoints disabled) throws Exception {
    String name = InProcessServerBuilder.generateName();
    InProcessServerBuilder builder = InProcessServerBuilder.forName(name);
    StandardServices standard = StandardServices.addTo(builder, "test", disabled, new Echo());
    server = builder.build().start();
    channel = InProcessChannelBuilder.forName(name).build();
    return standard;
  }

  @AfterEach
  void stop() {
    if (channel != null) {
      channel.shutdownNow();
    }
    if (server != null) {
      server.shutdownNow();
    }
  }

  private ServingStatus health(String service) {
    return HealthGrpc.newBlockingStub(channel)
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .check(HealthCheckRequest.newBuilder().setService(service).build())
        .getStatus();
  }

  @Test
  void healthFollowsWhatTheServerSays() throws Exception {
    StandardServices standard = start(DisabledEndpoints.NONE);
    assertThat(health("")).isEqualTo(ServingStatus.NOT_SERVING);
    standard.serving();
    assertThat(health("")).isEqualTo(ServingStatus.SERVING);
    assertThat(health("kmesos.log.v1.Replica")).isEqualTo(ServingStatus.SERVING);
    standard.notServing();
    assertThat(health("")).isEqualTo(ServingStatus.NOT_SERVING);
    assertThat(health("kmesos.log.v1.Replica")).isEqualTo(ServingStatus.NOT_SERVING);
  }

  @Test
  void reflectionListsEveryService() throws Exception {
    start(DisabledEndpoints.NONE);
    CompletableFuture<ServerReflectionResponse> answer = new CompletableFuture<>();
    StreamObserver<ServerReflectionRequest> requests =
        ServerReflectionGrpc.newStub(channel)
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
    List<String> services =
        answer.get(30, TimeUnit.SECONDS).getListServicesResponse().getServiceList().stream()
            .map(ServiceResponse::getName)
            .toList();
    assertThat(services)
        .contains(
            "kmesos.log.v1.Replica",
            "kmesos.v1.Info",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection");
  }

  @Test
  void aDisabledEndpointIsRefusedAndTheOthersAnswer() throws Exception {
    StandardServices standard = start(DisabledEndpoints.of(List.of("kmesos.log.v1.Replica/Call")));
    standard.serving();
    assertThatThrownBy(
            () ->
                ReplicaGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(10, TimeUnit.SECONDS)
                    .call(Envelope.newBuilder().setFrom(1).build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
              assertThat(e.getStatus().getDescription())
                  .isEqualTo(
                      "kmesos.log.v1.Replica/Call is disabled on this server "
                          + "(--disabled-endpoints)");
            });
    assertThat(
            InfoGrpc.newBlockingStub(channel)
                .getBuildInfo(GetBuildInfoRequest.getDefaultInstance())
                .getComponent())
        .isEqualTo("test");
    assertThat(health("")).isEqualTo(ServingStatus.SERVING);
  }

  @Test
  void anUnknownEndpointIsAOneLineErrorListingTheKnownOnes() {
    assertThatThrownBy(() -> start(DisabledEndpoints.of(List.of("kmesos.log.v1.Replica/Truncate"))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(
            "--disabled-endpoints: this server has no method kmesos.log.v1.Replica/Truncate (it has ")
        .hasMessageContaining("kmesos.log.v1.Replica/Call")
        .hasMessageContaining("kmesos.v1.Info/GetBuildInfo")
        .hasMessageNotContaining("\n");
  }

  @Test
  void aMalformedNameIsRefused() {
    assertThatThrownBy(() -> DisabledEndpoints.of(List.of("Replica.Call")))
        .hasMessage("'Replica.Call' is not a gRPC method name like kmesos.log.v1.Replica/Call");
    assertThat(DisabledEndpoints.of(List.of(" kmesos.log.v1.Replica/Call ", "")).methods())
        .containsExactly("kmesos.log.v1.Replica/Call");
  }
}
