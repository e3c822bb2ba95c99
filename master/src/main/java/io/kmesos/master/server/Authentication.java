package io.kmesos.master.server;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.kmesos.api.tls.Identity;
import io.kmesos.master.auth.Authenticator;
import io.kmesos.master.auth.Caller;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * Who calls: reads {@code authorization: Bearer <token>}, asks the {@link Authenticator} (it may
 * block on the API server: gRPC runs interceptors on its call executor, never on the master's event
 * loop) and puts the {@link Caller} in the call's {@link Context} ({@link #CALLER}). Refuses with
 * UNAUTHENTICATED when the token is missing or refused, UNAVAILABLE when the cluster cannot answer
 * (the client retries). The operator API also takes an admin client certificate instead ({@link
 * #ADMIN}).
 */
final class Authentication implements ServerInterceptor {
  static final Context.Key<Caller> CALLER = Context.key("kmesos-caller");
  static final Context.Key<Boolean> ADMIN = Context.key("kmesos-admin");
  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  private static final String BEARER = "Bearer ";

  private final Authenticator authenticator;
  private final boolean acceptAdminCertificate;

  Authentication(Authenticator authenticator, boolean acceptAdminCertificate) {
    this.authenticator = authenticator;
    this.acceptAdminCertificate = acceptAdminCertificate;
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
    String service = call.getMethodDescriptor().getServiceName();
    if (acceptAdminCertificate && hasIdentity(call, Identity.ADMIN)) {
      return Contexts.interceptCall(
          Context.current().withValue(ADMIN, Boolean.TRUE), call, headers, next);
    }
    String header = headers.get(AUTHORIZATION);
    if (header == null
        || !header.regionMatches(true, 0, BEARER, 0, BEARER.length())
        || header.substring(BEARER.length()).isBlank()) {
      return refuse(
          call,
          Status.UNAUTHENTICATED.withDescription(
              service
                  + " needs a ServiceAccount token: send metadata 'authorization: Bearer <token>'"
                  + (acceptAdminCertificate ? " (or use an admin client certificate)" : "")));
    }
    Caller caller;
    try {
      caller = authenticator.authenticate(header.substring(BEARER.length()).trim());
    } catch (Authenticator.Unauthenticated e) {
      return refuse(
          call,
          Status.UNAUTHENTICATED.withDescription(
              "the bearer token was not accepted: " + e.getMessage()));
    } catch (Authenticator.Unavailable e) {
      return refuse(
          call,
          Status.UNAVAILABLE.withDescription(
              "cannot authenticate the caller now (retry): " + e.getMessage()));
    } catch (RuntimeException e) {
      return refuse(
          call,
          Status.UNAVAILABLE.withDescription("cannot authenticate the caller now (retry): " + e));
    }
    return Contexts.interceptCall(Context.current().withValue(CALLER, caller), call, headers, next);
  }

  static <Q, A> ServerCall.Listener<Q> refuse(ServerCall<Q, A> call, Status status) {
    call.close(status, new Metadata());
    return new ServerCall.Listener<>() {};
  }

  /** Whether the client presented a certificate of the cluster's CA carrying {@code identity}. */
  static boolean hasIdentity(ServerCall<?, ?> call, Identity identity) {
    SSLSession session = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
    if (session == null) {
      return false;
    }
    try {
      Certificate[] chain = session.getPeerCertificates();
      return chain.length > 0
          && chain[0] instanceof X509Certificate cert
          && Identity.of(cert).contains(identity);
    } catch (SSLPeerUnverifiedException e) {
      return false;
    }
  }
}
