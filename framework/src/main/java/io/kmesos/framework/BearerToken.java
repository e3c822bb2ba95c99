package io.kmesos.framework;

import io.grpc.CallCredentials;
import io.grpc.Metadata;
import io.grpc.Status;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Executor;

/**
 * The {@code authorization: Bearer <token>} a kmesos client sends with every call: a Kubernetes
 * ServiceAccount token, read from its file. Projected tokens rotate, so clients read the file again
 * on every (re)connection ({@link #read}) rather than once at start.
 */
public final class BearerToken extends CallCredentials {
  public static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  /** Where a pod finds its ServiceAccount token. */
  public static final Path DEFAULT_FILE =
      Path.of("/var/run/secrets/kubernetes.io/serviceaccount/token");

  private final String token;

  private BearerToken(String token) {
    this.token = token;
  }

  /**
   * The token now in {@code file}.
   *
   * @throws IllegalArgumentException naming the file when it cannot be read or is empty
   */
  public static BearerToken read(Path file) {
    String token;
    try {
      token = Files.readString(file).strip();
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "cannot read the token file "
              + file
              + (Files.exists(file) ? "" : ": no such file")
              + " (--token-file: a ServiceAccount token the master accepts)");
    }
    if (token.isEmpty()) {
      throw new IllegalArgumentException("the token file " + file + " is empty");
    }
    return new BearerToken(token);
  }

  /** The token itself (for tests and diagnostics; never printed by kmesos). */
  public String token() {
    return token;
  }

  @Override
  public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
    try {
      Metadata headers = new Metadata();
      headers.put(AUTHORIZATION, "Bearer " + token);
      applier.apply(headers);
    } catch (RuntimeException e) {
      applier.fail(Status.UNAUTHENTICATED.withDescription("cannot attach the token").withCause(e));
    }
  }
}
