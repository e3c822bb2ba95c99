package io.kmesos.master.server;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.kmesos.api.scheduler.v1.AcceptRequest;
import io.kmesos.api.scheduler.v1.AcceptResponse;
import io.kmesos.api.scheduler.v1.AcknowledgeRequest;
import io.kmesos.api.scheduler.v1.AcknowledgeResponse;
import io.kmesos.api.scheduler.v1.DeclineRequest;
import io.kmesos.api.scheduler.v1.DeclineResponse;
import io.kmesos.api.scheduler.v1.Event;
import io.kmesos.api.scheduler.v1.KillRequest;
import io.kmesos.api.scheduler.v1.KillResponse;
import io.kmesos.api.scheduler.v1.ReconcileRequest;
import io.kmesos.api.scheduler.v1.ReconcileResponse;
import io.kmesos.api.scheduler.v1.ReviveRequest;
import io.kmesos.api.scheduler.v1.ReviveResponse;
import io.kmesos.api.scheduler.v1.SchedulerGrpc;
import io.kmesos.api.scheduler.v1.SubscribeRequest;
import io.kmesos.api.scheduler.v1.SuppressRequest;
import io.kmesos.api.scheduler.v1.SuppressResponse;
import io.kmesos.api.scheduler.v1.TeardownRequest;
import io.kmesos.api.scheduler.v1.TeardownResponse;
import io.kmesos.master.auth.Authenticator;
import io.kmesos.master.auth.Caller;
import io.kmesos.master.core.MasterCore;

/**
 * The Scheduler service (scheduler.proto): each call goes to the {@link MasterLoop} under the
 * authenticated caller's principal (the core checks it against the framework's). Subscribe first
 * asks the authenticator whether the caller may use each role the framework names (blocking, so on
 * gRPC's thread), then gets a bounded {@link Outbound} stream.
 */
final class SchedulerService extends SchedulerGrpc.SchedulerImplBase {
  private final MasterLoop loop;
  private final Authenticator authenticator;
  private final int queueLimit;

  SchedulerService(MasterLoop loop, Authenticator authenticator, int queueLimit) {
    this.loop = loop;
    this.authenticator = authenticator;
    this.queueLimit = queueLimit;
  }

  @Override
  public void subscribe(SubscribeRequest request, StreamObserver<Event> events) {
    ServerCallStreamObserver<Event> call = (ServerCallStreamObserver<Event>) events;
    String name = request.getFrameworkInfo().getName();
    MasterLoop.Subscription sub =
        new MasterLoop.Subscription(
            new Outbound<>(
                call,
                queueLimit,
                "framework "
                    + (request.getFrameworkInfo().getId().isEmpty()
                        ? "'" + name + "'"
                        : request.getFrameworkInfo().getId())));
    Caller caller = Authentication.CALLER.get();
    try {
      for (String role : request.getFrameworkInfo().getRolesList()) {
        if (!authenticator.mayUseRole(caller, role)) {
          sub.stream.close(
              Status.PERMISSION_DENIED.withDescription(
                  caller.principal()
                      + " may not use role '"
                      + role
                      + "' (needs verb 'use' on roles.kmesos.io '"
                      + role
                      + "')"));
          return;
        }
      }
    } catch (Authenticator.Unavailable e) {
      sub.stream.close(
          Status.UNAVAILABLE.withDescription(
              "cannot check the framework's roles now (retry): " + e.getMessage()));
      return;
    }
    sub.stream.onCancel(() -> loop.subscriptionGone(sub));
    loop.subscribe(request, caller.principal(), sub);
  }

  @Override
  public void accept(AcceptRequest request, StreamObserver<AcceptResponse> answer) {
    String p = principal();
    loop.call(answer, AcceptResponse.getDefaultInstance(), now -> core().accept(request, p, now));
  }

  @Override
  public void decline(DeclineRequest request, StreamObserver<DeclineResponse> answer) {
    String p = principal();
    loop.call(answer, DeclineResponse.getDefaultInstance(), now -> core().decline(request, p, now));
  }

  @Override
  public void kill(KillRequest request, StreamObserver<KillResponse> answer) {
    String p = principal();
    loop.call(answer, KillResponse.getDefaultInstance(), now -> core().kill(request, p, now));
  }

  @Override
  public void acknowledge(AcknowledgeRequest request, StreamObserver<AcknowledgeResponse> answer) {
    String p = principal();
    loop.call(
        answer,
        AcknowledgeResponse.getDefaultInstance(),
        now -> core().acknowledge(request, p, now));
  }

  @Override
  public void reconcile(ReconcileRequest request, StreamObserver<ReconcileResponse> answer) {
    String p = principal();
    loop.call(
        answer, ReconcileResponse.getDefaultInstance(), now -> core().reconcile(request, p, now));
  }

  @Override
  public void suppress(SuppressRequest request, StreamObserver<SuppressResponse> answer) {
    String p = principal();
    loop.call(
        answer, SuppressResponse.getDefaultInstance(), now -> core().suppress(request, p, now));
  }

  @Override
  public void revive(ReviveRequest request, StreamObserver<ReviveResponse> answer) {
    String p = principal();
    loop.call(answer, ReviveResponse.getDefaultInstance(), now -> core().revive(request, p, now));
  }

  @Override
  public void teardown(TeardownRequest request, StreamObserver<TeardownResponse> answer) {
    String p = principal();
    loop.call(
        answer, TeardownResponse.getDefaultInstance(), now -> core().teardown(request, p, now));
  }

  private static String principal() {
    return Authentication.CALLER.get().principal();
  }

  private MasterCore core() {
    return loop.core();
  }
}
