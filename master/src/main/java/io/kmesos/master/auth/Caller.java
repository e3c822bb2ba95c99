package io.kmesos.master.auth;

import java.util.List;
import java.util.Optional;

/**
 * Who made a call to the master, as the cluster's authentication said.
 *
 * @param principal the Kubernetes user name (a ServiceAccount's is {@code
 *     system:serviceaccount:<namespace>:<name>}); frameworks are registered under it
 * @param uid the user's UID, for SubjectAccessReviews
 * @param groups the user's groups, for SubjectAccessReviews
 * @param nodeName the node a pod-bound token's pod runs on (TokenReview's {@code
 *     authentication.kubernetes.io/node-name} extra, Kubernetes 1.30 and later); empty for other
 *     tokens
 */
public record Caller(String principal, String uid, List<String> groups, Optional<String> nodeName) {
  public Caller {
    if (principal == null || principal.isBlank()) {
      throw new IllegalArgumentException("a caller needs a principal");
    }
    groups = List.copyOf(groups);
  }
}
