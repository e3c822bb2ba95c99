package io.kmesos.api.grpc;

import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * gRPC methods a server refuses with PERMISSION_DENIED, as Mesos's firewall rule for disabled
 * endpoints: e.g. {@code kmesos.log.v1.Replica/Call} to take a replica out of the protocol, or a
 * future operator call that a cluster does not want. Names are full method names ({@code
 * package.Service/Method}), checked against the server's services when it starts: a typo would
 * otherwise leave the endpoint open without a word.
 */
public final class DisabledEndpoints implements ServerInterceptor {
  public static final DisabledEndpoints NONE = new DisabledEndpoints(Set.of());

  private static final Pattern FULL_METHOD_NAME =
      Pattern.compile("[A-Za-z_][\\w.]*\\.[A-Za-z_]\\w*/[A-Za-z_]\\w*|[A-Za-z_]\\w*/[A-Za-z_]\\w*");

  private final Set<String> methods;

  private DisabledEndpoints(Set<String> methods) {
    this.methods = methods;
  }

  /**
   * The given full method names; a name not shaped like {@code package.Service/Method} is refused.
   */
  public static DisabledEndpoints of(Collection<String> names) {
    Set<String> methods = new LinkedHashSet<>();
    for (String name : names) {
      String n = name.strip();
      if (n.isEmpty()) {
        continue;
      }
      if (!FULL_METHOD_NAME.matcher(n).matches()) {
        throw new IllegalArgumentException(
            "'" + n + "' is not a gRPC method name like kmesos.log.v1.Replica/Call");
      }
      methods.add(n);
    }
    return new DisabledEndpoints(Set.copyOf(methods));
  }

  public Set<String> methods() {
    return methods;
  }

  /** Refuses a name that none of {@code services} has: one line, listing the methods there are. */
  public void checkKnown(List<ServerServiceDefinition> services) {
    Set<String> known = new TreeSet<>();
    for (ServerServiceDefinition service : services) {
      for (var method : service.getMethods()) {
        known.add(method.getMethodDescriptor().getFullMethodName());
      }
    }
    for (String method : methods) {
      if (!known.contains(method)) {
        throw new IllegalArgumentException(
            "--disabled-endpoints: this server has no method "
                + method
                + " (it has "
                + String.join(", ", known)
                + ")");
      }
    }
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
    MethodDescriptor<Q, A> method = call.getMethodDescriptor();
    if (methods.contains(method.getFullMethodName())) {
      call.close(
          Status.PERMISSION_DENIED.withDescription(
              method.getFullMethodName() + " is disabled on this server (--disabled-endpoints)"),
          new Metadata());
      return new ServerCall.Listener<>() {};
    }
    return next.startCall(call, headers);
  }
}
