package io.kmesos.api.tls;

import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * Admits a call only from a client whose certificate (already verified against the cluster's CA by
 * the TLS layer) carries one of the kmesos identities this server accepts. Refusals say what was
 * wrong: UNAUTHENTICATED when the client proved no kmesos identity, PERMISSION_DENIED when it is a
 * kmesos component this server does not serve.
 */
final class IdentityCheck implements ServerInterceptor {
  private final Set<Identity> accepted;

  IdentityCheck(Set<Identity> accepted) {
    if (accepted.isEmpty()) {
      throw new IllegalArgumentException("a server must accept at least one identity");
    }
    this.accepted = EnumSet.copyOf(accepted);
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
    Status refusal =
        check(
            peerCertificates(call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION)),
            accepted,
            call.getMethodDescriptor().getServiceName());
    if (refusal != null) {
      call.close(refusal, new Metadata());
      return new ServerCall.Listener<>() {};
    }
    return next.startCall(call, headers);
  }

  private static Certificate[] peerCertificates(SSLSession session) {
    if (session == null) {
      return null;
    }
    try {
      return session.getPeerCertificates();
    } catch (SSLPeerUnverifiedException e) {
      return new Certificate[0];
    }
  }

  /** Why a client presenting {@code chain} may not call {@code service}; null if it may. */
  static Status check(Certificate[] chain, Set<Identity> accepted, String service) {
    String wanted = String.join(", ", accepted.stream().map(Identity::uri).toList());
    if (chain == null) {
      return Status.UNAUTHENTICATED.withDescription(
          service + " accepts only mutual TLS clients (" + wanted + ")");
    }
    if (chain.length == 0 || !(chain[0] instanceof X509Certificate cert)) {
      return Status.UNAUTHENTICATED.withDescription(
          service + " needs a client certificate of the cluster's CA (" + wanted + ")");
    }
    List<Identity> identities = Identity.of(cert);
    if (identities.isEmpty()) {
      return Status.UNAUTHENTICATED.withDescription(
          "the client certificate "
              + Identity.describe(cert)
              + " carries no kmesos identity; "
              + service
              + " accepts "
              + wanted);
    }
    for (Identity i : identities) {
      if (accepted.contains(i)) {
        return null;
      }
    }
    return Status.PERMISSION_DENIED.withDescription(
        "a kmesos "
            + identities.get(0).component()
            + " ("
            + identities.get(0).uri()
            + ") may not call "
            + service
            + "; it accepts "
            + wanted);
  }
}
