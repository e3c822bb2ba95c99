package io.kmesos.api;

import io.grpc.stub.StreamObserver;
import io.kmesos.api.v1.BuildInfo;
import io.kmesos.api.v1.GetBuildInfoRequest;
import io.kmesos.api.v1.InfoGrpc;

/** The {@code kmesos.v1.Info} service: every kmesos gRPC server registers one. */
public final class InfoService extends InfoGrpc.InfoImplBase {
  private final BuildInfo info;

  public InfoService(String component) {
    this.info = KmesosVersion.buildInfo(component);
  }

  @Override
  public void getBuildInfo(GetBuildInfoRequest request, StreamObserver<BuildInfo> response) {
    response.onNext(info);
    response.onCompleted();
  }
}
