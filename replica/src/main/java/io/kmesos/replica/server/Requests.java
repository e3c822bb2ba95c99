package io.kmesos.replica.server;

import io.kmesos.api.log.v1.Action;
import io.kmesos.api.log.v1.ActionType;
import io.kmesos.api.log.v1.Envelope;

/** What a replica accepts from the network: requests only, well formed, addressed to it. */
final class Requests {
  private Requests() {}

  /**
   * Null when {@code e} is a well-formed request for replica {@code id}, else why not (for
   * INVALID_ARGUMENT).
   */
  static String problem(Envelope e, int id) {
    if (e.getTo() != id) {
      return "addressed to replica " + e.getTo() + ", but this is replica " + id;
    }
    switch (e.getBodyCase()) {
      case PROMISE_REQUEST -> {
        if (e.getPromiseRequest().getBallot().getRound() == 0) {
          return "promise_request.ballot.round must be at least 1";
        }
      }
      case WRITE_REQUEST -> {
        if (e.getWriteRequest().getBallot().getRound() == 0) {
          return "write_request.ballot.round must be at least 1";
        }
        for (Action a : e.getWriteRequest().getActionsList()) {
          if (a.getPosition() == 0) {
            return "write_request.actions: positions start at 1";
          }
          if (a.getType() == ActionType.ACTION_TYPE_UNSPECIFIED
              || a.getType() == ActionType.UNRECOGNIZED) {
            return "write_request.actions[position "
                + a.getPosition()
                + "].type must be NOP, APPEND or TRUNCATE";
          }
        }
      }
      case LEARNED_REQUEST, STATUS_REQUEST, FETCH_REQUEST -> {}
      case INITIALIZE_REQUEST -> {
        if (e.getInitializeRequest().getClusterId().isBlank()) {
          return "initialize_request.cluster_id must not be empty";
        }
      }
      case BODY_NOT_SET -> {
        return "the envelope carries no message";
      }
      default -> {
        return e.getBodyCase() + " is not a request a replica answers";
      }
    }
    return null;
  }

  /** Whether {@code e}, sent by a replica to the sender of a request, is the answer to it. */
  static boolean isReply(Envelope e) {
    return switch (e.getBodyCase()) {
      case PROMISE_RESPONSE, WRITE_RESPONSE, STATUS_RESPONSE, FETCH_RESPONSE, INITIALIZE_RESPONSE ->
          true;
      default -> false;
    };
  }
}
