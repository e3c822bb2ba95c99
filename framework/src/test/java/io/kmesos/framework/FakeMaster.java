package io.kmesos.framework;

import com.google.protobuf.util.Durations;
import io.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.TlsServerCredentials;
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
import io.kmesos.api.v1.MasterInfo;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A stand-in for the master's Scheduler service, for the client's unit tests only: real gRPC over
 * TLS on 127.0.0.1 with a spiffe://kmesos/controller certificate, no client certificate asked. It
 * records every request with the token it came with, and the test drives the event stream.
 */
public final class FakeMaster implements AutoCloseable {
  /** A request as it arrived, with its authorization header. */
  public record Received(Object request, String authorization) {}

  public final List<SubscribeRequest> subscribes = new CopyOnWriteArrayList<>();
  public final List<Received> calls = new CopyOnWriteArrayList<>();
  public final List<String> subscribeTokens = new CopyOnWriteArrayList<>();
  private final AtomicInteger streams = new AtomicInteger();
  private final Server server;

  /** When set, every Subscribe is answered UNAVAILABLE naming this leader (a standby). */
  public volatile String leaderHint;

  /** When set, every Subscribe is refused with this status. */
  public volatile Status refuse;

  /** When set, every unary call is refused with this status. */
  public volatile Status callRefusal;

  public volatile Duration heartbeat = Duration.ofSeconds(15);
  public volatile String assignedId = "fw-1";
  private volatile StreamObserver<Event> stream;

  private static final ThreadLocalAuthorization AUTH = new ThreadLocalAuthorization();

  public FakeMaster(Path cert, Path key) throws IOException {
    server =
        Grpc.newServerBuilderForPort(
                0,
                TlsServerCredentials.newBuilder()
                    .keyManager(cert.toFile(), key.toFile())
                    .clientAuth(TlsServerCredentials.ClientAuth.NONE)
                    .build())
            .addService(ServerInterceptors.intercept(new Service(), AUTH))
            .directExecutor()
            .build()
            .start();
  }

  public String address() {
    return "127.0.0.1:" + server.getPort();
  }

  /** The stream ID of the n-th subscription (1-based). */
  public static String streamId(int n) {
    return "stream-" + n;
  }

  public void send(Event event) {
    StreamObserver<Event> s = stream;
    if (s == null) {
      throw new IllegalStateException("no subscription");
    }
    synchronized (s) {
      s.onNext(event);
    }
  }

  /** Breaks the current subscription as a master that went away would. */
  public void breakStream() {
    StreamObserver<Event> s = stream;
    stream = null;
    if (s != null) {
      synchronized (s) {
        s.onError(Status.UNAVAILABLE.withDescription("master going away").asRuntimeException());
      }
    }
  }

  public <T> List<T> received(Class<T> type) {
    return calls.stream().map(Received::request).filter(type::isInstance).map(type::cast).toList();
  }

  @Override
  public void close() {
    server.shutdownNow();
  }

  /** Keeps the authorization header of the call being handled (direct executor: same thread). */
  private static final class ThreadLocalAuthorization implements ServerInterceptor {
    final ThreadLocal<String> current = new ThreadLocal<>();

    @Override
    public <Q, A> ServerCall.Listener<Q> interceptCall(
        ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
      String auth = headers.get(BearerToken.AUTHORIZATION);
      ServerCall.Listener<Q> delegate = next.startCall(call, headers);
      return new SimpleForwardingServerCallListener<>(delegate) {
        @Override
        public void onMessage(Q message) {
          current.set(auth);
          try {
            super.onMessage(message);
          } finally {
            current.remove();
          }
        }

        @Override
        public void onHalfClose() {
          current.set(auth);
          try {
            super.onHalfClose();
          } finally {
            current.remove();
          }
        }
      };
    }
  }

  private final class Service extends SchedulerGrpc.SchedulerImplBase {
    @Override
    public void subscribe(SubscribeRequest request, StreamObserver<Event> observer) {
      subscribes.add(request);
      subscribeTokens.add(String.valueOf(AUTH.current.get()));
      if (refuse != null) {
        observer.onError(refuse.asRuntimeException());
        return;
      }
      if (leaderHint != null) {
        Metadata trailers = new Metadata();
        trailers.put(LeaderHint.KEY, leaderHint);
        observer.onError(
            Status.UNAVAILABLE
                .withDescription("not the leading master; the leader is " + leaderHint)
                .asRuntimeException(trailers));
        return;
      }
      String id =
          request.getFrameworkInfo().getId().isEmpty()
              ? assignedId
              : request.getFrameworkInfo().getId();
      ((ServerCallStreamObserver<Event>) observer).setOnCancelHandler(() -> {});
      stream = observer;
      send(
          Event.newBuilder()
              .setSubscribed(
                  Event.Subscribed.newBuilder()
                      .setFrameworkId(id)
                      .setStreamId(streamId(streams.incrementAndGet()))
                      .setHeartbeatInterval(Durations.fromMillis(heartbeat.toMillis()))
                      .setMasterInfo(
                          MasterInfo.newBuilder().setId("master-1").setAddress(address())))
              .build());
    }

    private <A> void ok(Object request, StreamObserver<A> observer, A response) {
      calls.add(new Received(request, String.valueOf(AUTH.current.get())));
      if (callRefusal != null) {
        observer.onError(callRefusal.asRuntimeException());
        return;
      }
      observer.onNext(response);
      observer.onCompleted();
    }

    @Override
    public void accept(AcceptRequest r, StreamObserver<AcceptResponse> o) {
      ok(r, o, AcceptResponse.getDefaultInstance());
    }

    @Override
    public void decline(DeclineRequest r, StreamObserver<DeclineResponse> o) {
      ok(r, o, DeclineResponse.getDefaultInstance());
    }

    @Override
    public void kill(KillRequest r, StreamObserver<KillResponse> o) {
      ok(r, o, KillResponse.getDefaultInstance());
    }

    @Override
    public void acknowledge(AcknowledgeRequest r, StreamObserver<AcknowledgeResponse> o) {
      ok(r, o, AcknowledgeResponse.getDefaultInstance());
    }

    @Override
    public void reconcile(ReconcileRequest r, StreamObserver<ReconcileResponse> o) {
      ok(r, o, ReconcileResponse.getDefaultInstance());
    }

    @Override
    public void suppress(SuppressRequest r, StreamObserver<SuppressResponse> o) {
      ok(r, o, SuppressResponse.getDefaultInstance());
    }

    @Override
    public void revive(ReviveRequest r, StreamObserver<ReviveResponse> o) {
      ok(r, o, ReviveResponse.getDefaultInstance());
    }
  }
}
