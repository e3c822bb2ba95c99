package io.kmesos.api.grpc;

import io.grpc.BindableService;
import io.grpc.ServerBuilder;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.kmesos.api.InfoService;
import java.util.ArrayList;
import java.util.List;

/**
 * What every kmesos gRPC server offers besides its own services: {@code kmesos.v1.Info}, the
 * standard health service ({@code grpc.health.v1.Health}, which Kubernetes' {@code grpc} probes
 * call), server reflection ({@code grpc.reflection.v1.ServerReflection}, so {@code grpcurl} works
 * without .proto files), and {@link DisabledEndpoints} in front of all of them.
 *
 * <p>Health starts NOT_SERVING; the server says {@link #serving} once it can answer, and {@link
 * #notServing} when it stops or fails, for the whole server (service {@code ""}, what a probe
 * without {@code service} asks) and for each of its own services.
 */
public final class StandardServices {
  private final HealthStatusManager health = new HealthStatusManager();
  private final List<String> ownServiceNames = new ArrayList<>();

  private StandardServices() {}

  /**
   * Adds {@code own} services and the standard ones to {@code builder}, each behind {@code
   * disabled}, whose names must all exist among them.
   *
   * @param component what {@code kmesos.v1.Info} reports (e.g. "replica")
   * @throws IllegalArgumentException naming a disabled endpoint that no service has
   */
  public static StandardServices addTo(
      ServerBuilder<?> builder,
      String component,
      DisabledEndpoints disabled,
      BindableService... own) {
    StandardServices standard = new StandardServices();
    List<ServerServiceDefinition> services = new ArrayList<>();
    for (BindableService service : own) {
      ServerServiceDefinition definition = service.bindService();
      standard.ownServiceNames.add(definition.getServiceDescriptor().getName());
      services.add(definition);
    }
    services.add(new InfoService(component).bindService());
    services.add(standard.health.getHealthService().bindService());
    services.add(ProtoReflectionServiceV1.newInstance().bindService());
    disabled.checkKnown(services);
    for (ServerServiceDefinition service : services) {
      builder.addService(ServerInterceptors.intercept(service, disabled));
    }
    standard.set(ServingStatus.NOT_SERVING);
    return standard;
  }

  /**
   * The health service alone, with the statuses this object sets: for a second, plaintext server
   * that only Kubernetes' {@code grpc} probes call (they cannot present a client certificate).
   */
  public BindableService healthService() {
    return health.getHealthService();
  }

  /** Health: SERVING. */
  public void serving() {
    set(ServingStatus.SERVING);
  }

  /** Health: NOT_SERVING (stopping, or failed: a probe then fails and Kubernetes acts). */
  public void notServing() {
    set(ServingStatus.NOT_SERVING);
  }

  private void set(ServingStatus status) {
    health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, status);
    for (String name : ownServiceNames) {
      health.setStatus(name, status);
    }
  }
}
