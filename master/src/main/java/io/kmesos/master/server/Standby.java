package io.kmesos.master.server;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Answers every call UNAVAILABLE while this controller is not the master with a recovered registry
 * (a standby, or a master still recovering), naming the leader when known, in the description and
 * in the trailer {@link #LEADER}: clients follow that hint instead of trying every address. Runs
 * before authentication: a standby never asks the cluster about callers it will not serve.
 */
final class Standby implements ServerInterceptor {
  static final Metadata.Key<String> LEADER =
      Metadata.Key.of("kmesos-leader", Metadata.ASCII_STRING_MARSHALLER);

  private final BooleanSupplier serving;
  private final Supplier<Optional<String>> leader;

  Standby(BooleanSupplier serving, Supplier<Optional<String>> leader) {
    this.serving = serving;
    this.leader = leader;
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
    if (serving.getAsBoolean()) {
      return next.startCall(call, headers);
    }
    Optional<String> known;
    try {
      known = leader.get();
    } catch (RuntimeException e) {
      known = Optional.empty();
    }
    Metadata trailers = new Metadata();
    known.ifPresent(address -> trailers.put(LEADER, address));
    call.close(
        Status.UNAVAILABLE.withDescription(
            known
                .map(address -> "not the leading master; the leader is " + address)
                .orElse("not the leading master; no leader is known")),
        trailers);
    return new ServerCall.Listener<>() {};
  }
}
