package io.kmesos.master.server;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.kmesos.api.operator.v1.GetStateRequest;
import io.kmesos.api.operator.v1.GetStateResponse;
import io.kmesos.api.operator.v1.OperatorGrpc;
import io.kmesos.master.auth.Authenticator;
import io.kmesos.master.auth.Caller;

/**
 * The Operator service (operator.proto): the core's state, for an admin certificate or a caller the
 * cluster lets read it ({@link Authenticator#mayViewState}, asked here on gRPC's thread).
 */
final class OperatorService extends OperatorGrpc.OperatorImplBase {
  private final MasterLoop loop;
  private final Authenticator authenticator;

  OperatorService(MasterLoop loop, Authenticator authenticator) {
    this.loop = loop;
    this.authenticator = authenticator;
  }

  @Override
  public void getState(GetStateRequest request, StreamObserver<GetStateResponse> answer) {
    if (!Boolean.TRUE.equals(Authentication.ADMIN.get())) {
      Caller caller = Authentication.CALLER.get();
      try {
        if (!authenticator.mayViewState(caller)) {
          answer.onError(
              Status.PERMISSION_DENIED
                  .withDescription(
                      caller.principal()
                          + " may not read the master's state (needs verb 'get' on"
                          + " state.kmesos.io)")
                  .asRuntimeException());
          return;
        }
      } catch (Authenticator.Unavailable e) {
        answer.onError(
            Status.UNAVAILABLE
                .withDescription("cannot check the caller's access now (retry): " + e.getMessage())
                .asRuntimeException());
        return;
      }
    }
    loop.state()
        .whenComplete(
            (state, failure) -> {
              if (failure != null) {
                answer.onError(
                    Status.INTERNAL.withDescription(failure.toString()).asRuntimeException());
              } else {
                answer.onNext(state);
                answer.onCompleted();
              }
            });
  }
}
