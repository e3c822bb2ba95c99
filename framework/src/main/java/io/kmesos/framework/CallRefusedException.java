package io.kmesos.framework;

import io.grpc.Status;
import io.kmesos.api.cli.Failures;

/**
 * A scheduler call the master did not take, with its status: PERMISSION_DENIED (not this
 * framework's principal), FAILED_PRECONDITION (a stale subscription: the client subscribes again by
 * itself), INVALID_ARGUMENT (a malformed request), UNAVAILABLE (no leading master reached), or
 * FAILED_PRECONDITION "not subscribed" when the client has no subscription at the moment.
 */
public final class CallRefusedException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String call;
  private final transient Status status;

  public CallRefusedException(String call, Status status) {
    super(call + " refused: " + describe(status));
    this.call = call;
    this.status = status;
  }

  private static String describe(Status status) {
    return status.getCode() + ": " + Failures.reason(status.asRuntimeException(), null);
  }

  /** The call, e.g. "Accept". */
  public String call() {
    return call;
  }

  public Status status() {
    return status;
  }
}
