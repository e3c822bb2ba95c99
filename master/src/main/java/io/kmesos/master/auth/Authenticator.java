package io.kmesos.master.auth;

/**
 * How the master learns who calls it and what they may do: in a cluster, Kubernetes' TokenReview
 * and SubjectAccessReview for the ServiceAccount token a framework or agent sends as {@code
 * authorization: Bearer <token>} (on TLS, so the token never travels in clear).
 *
 * <p>Both methods may block on the API server; the master calls them outside its event loop.
 * Implementations cache answers briefly, so that a call per task does not cost a review per call.
 */
public interface Authenticator {

  /**
   * The caller a bearer token stands for.
   *
   * @throws Unauthenticated if the token is missing, expired, revoked or not the cluster's
   * @throws Unavailable if the cluster could not be asked (the caller should retry)
   */
  Caller authenticate(String bearerToken) throws Unauthenticated, Unavailable;

  /**
   * Whether a framework registered by {@code caller} may use {@code role}: the Kubernetes form of
   * Mesos's {@code register_frameworks} ACL (docs/frameworks.md says which verb on which resource).
   *
   * @throws Unavailable if the cluster could not be asked (the caller should retry)
   */
  boolean mayUseRole(Caller caller, String role) throws Unavailable;

  /**
   * Whether {@code caller} may read the master's state (the operator API's GetState): the
   * Kubernetes form of Mesos's {@code view_*} ACLs.
   *
   * @throws Unavailable if the cluster could not be asked (the caller should retry)
   */
  boolean mayViewState(Caller caller) throws Unavailable;

  /** The token does not identify anyone; the call is refused with UNAUTHENTICATED. */
  final class Unauthenticated extends Exception {
    public Unauthenticated(String message) {
      super(message);
    }
  }

  /** The cluster could not answer; the call is refused with UNAVAILABLE. */
  final class Unavailable extends Exception {
    public Unavailable(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
