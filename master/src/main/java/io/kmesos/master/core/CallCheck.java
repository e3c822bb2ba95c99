package io.kmesos.master.core;

/**
 * Decides whether a scheduler call (other than Subscribe) may act for the framework it names, from
 * its {@code framework_id}, {@code stream_id} and the caller's authenticated principal, as the
 * Scheduler service's comment in scheduler.proto says.
 *
 * <p>Guarantees, checked in this order: a missing ID is INVALID_ARGUMENT; a stream ID handed to
 * another framework is PERMISSION_DENIED; a framework torn down, or not known to this master, is
 * FAILED_PRECONDITION; a principal other than the framework's is PERMISSION_DENIED; a stream ID
 * that is not the framework's current subscription is FAILED_PRECONDITION. Only a call that passes
 * all of them reaches the framework.
 */
final class CallCheck {
  private final FrameworkRegistry frameworks;

  CallCheck(FrameworkRegistry frameworks) {
    this.frameworks = frameworks;
  }

  /** The framework the call acts for, or null with the refusal in {@code out}. */
  FrameworkState check(String frameworkId, String streamId, String principal, Outbox out) {
    if (frameworkId.isEmpty()) {
      out.refuse(new Refusal.InvalidArgument("framework_id is missing"));
      return null;
    }
    if (streamId.isEmpty()) {
      out.refuse(new Refusal.InvalidArgument("stream_id is missing"));
      return null;
    }
    String owner = frameworks.streamOwner(streamId);
    if (owner != null && !owner.equals(frameworkId)) {
      out.refuse(
          new Refusal.PermissionDenied(
              "stream '"
                  + streamId
                  + "' is not a subscription of framework '"
                  + frameworkId
                  + "'"));
      return null;
    }
    if (frameworks.isRemoved(frameworkId)) {
      out.refuse(
          new Refusal.FailedPrecondition(
              "framework '" + frameworkId + "' was torn down; it cannot subscribe again"));
      return null;
    }
    FrameworkState framework = frameworks.get(frameworkId);
    if (framework == null || framework.recovered) {
      out.refuse(
          new Refusal.FailedPrecondition(
              "framework '"
                  + frameworkId
                  + "' is not subscribed to this master: subscribe again and use the new stream"
                  + " ID"));
      return null;
    }
    String registeredBy = framework.info.getPrincipal();
    if (!registeredBy.equals(principal)) {
      out.refuse(
          new Refusal.PermissionDenied(
              "principal '"
                  + principal
                  + "' may not act for framework '"
                  + frameworkId
                  + "', registered by '"
                  + registeredBy
                  + "'"));
      return null;
    }
    if (!streamId.equals(framework.streamId)) {
      out.refuse(
          new Refusal.FailedPrecondition(
              "stream '"
                  + streamId
                  + "' is not the current subscription of framework '"
                  + frameworkId
                  + "': subscribe again and use the new stream ID"));
      return null;
    }
    return framework;
  }
}
