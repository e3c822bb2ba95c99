package io.kmesos.master.core;

import java.util.List;
import java.util.Objects;

/**
 * Why the core refused a scheduler call, for the shell to answer it with the gRPC status {@link
 * #code()} (named as grpc-java's {@code Status.Code}: {@code Status.Code.valueOf(code().name())})
 * and {@link #message()} as its description. The codes follow the Scheduler service's comment in
 * scheduler.proto.
 *
 * <p>A refusal means the call changed nothing, except {@link InvalidOffers}: an Accept that names
 * an offer it may not use still gives back the valid offers it named and ends the tasks it tried to
 * launch (their updates are in the same {@link Effects}), as Mesos does.
 */
public sealed interface Refusal {
  /** The gRPC status codes a refusal maps to. */
  enum Code {
    INVALID_ARGUMENT,
    PERMISSION_DENIED,
    FAILED_PRECONDITION
  }

  Code code();

  /** One line for the caller, naming what was wrong. */
  String message();

  /** A malformed request (an ID or uuid missing, an invalid FrameworkInfo or role). */
  record InvalidArgument(String message) implements Refusal {
    public InvalidArgument {
      Objects.requireNonNull(message, "message");
    }

    @Override
    public Code code() {
      return Code.INVALID_ARGUMENT;
    }
  }

  /**
   * The caller may not act for the framework: another principal registered it, or the stream ID is
   * another framework's subscription.
   */
  record PermissionDenied(String message) implements Refusal {
    public PermissionDenied {
      Objects.requireNonNull(message, "message");
    }

    @Override
    public Code code() {
      return Code.PERMISSION_DENIED;
    }
  }

  /**
   * The stream ID is not the framework's current subscription (an earlier one, one the master
   * ended, one of an earlier master), or the framework was torn down: it must subscribe again.
   */
  record FailedPrecondition(String message) implements Refusal {
    public FailedPrecondition {
      Objects.requireNonNull(message, "message");
    }

    @Override
    public Code code() {
      return Code.FAILED_PRECONDITION;
    }
  }

  /**
   * An Accept named offers it may not use (unknown, rescinded, already used, another framework's,
   * of several agents or roles): no operation was applied. {@code offerIds} are the offending ones,
   * in the order the call named them. INVALID_ARGUMENT, so a scheduler does not take it for a
   * reason to subscribe again. (Mesos answers such an Accept 202 and says it only with the tasks'
   * updates, which the core sends too; the Scheduler service's comment in scheduler.proto says the
   * same and should name this refusal if it stays.)
   */
  record InvalidOffers(List<String> offerIds, String message) implements Refusal {
    public InvalidOffers {
      offerIds = List.copyOf(offerIds);
      Objects.requireNonNull(message, "message");
    }

    @Override
    public Code code() {
      return Code.INVALID_ARGUMENT;
    }
  }
}
