package io.kmesos.api.tls;

import io.grpc.ChannelCredentials;
import io.grpc.TlsChannelCredentials;
import io.grpc.util.AdvancedTlsX509TrustManager;
import io.grpc.util.AdvancedTlsX509TrustManager.Verification;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * TLS for a client that has no certificate of its own: a framework (scheduler), or an operator's
 * tool that authenticates with a bearer token instead. It verifies the server exactly as {@link
 * MutualTls} does (its certificate chains to the cluster's CA, read again every {@code reload}, and
 * carries the identity the client meant to reach), but presents nothing, so the server sees a TLS
 * client without a certificate, which the master's port allows (its callers prove who they are with
 * a token).
 */
public final class ServerTrust implements AutoCloseable {
  private static final ScheduledExecutorService RELOADS =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "tls-trust-reload");
            t.setDaemon(true);
            return t;
          });

  private final Path caFile;
  private final AdvancedTlsX509TrustManager trust;
  private final Closeable reload;
  private final Identity server;

  private ServerTrust(Path caFile, Identity server, Duration reload) {
    if (reload == null || reload.isNegative() || reload.isZero()) {
      throw new IllegalArgumentException("the TLS reload period must be positive, not " + reload);
    }
    if (!Files.isRegularFile(caFile) || !Files.isReadable(caFile)) {
      throw new IllegalArgumentException(
          "TLS: cannot read " + caFile + (Files.exists(caFile) ? "" : ": no such file"));
    }
    try {
      Pem.certificates(Files.readString(caFile));
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException("TLS: " + caFile + ": " + e.getMessage());
    }
    this.caFile = caFile;
    this.server = server;
    try {
      this.trust =
          AdvancedTlsX509TrustManager.newBuilder()
              .setVerification(Verification.CERTIFICATE_ONLY_VERIFICATION)
              .setSslSocketAndEnginePeerVerifier(new MutualTls.ServerIdentity(server))
              .build();
      this.reload =
          trust.updateTrustCredentials(
                  caFile.toFile(), reload.toMillis(), TimeUnit.MILLISECONDS, RELOADS)
              ::close;
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalArgumentException(
          "TLS: cannot load the CA certificate " + caFile + ": " + e.getMessage());
    }
  }

  /**
   * Trusts servers whose certificate chains to the CA in {@code caFile} and carries {@code
   * server}'s identity; a one-line IllegalArgumentException if the file is unusable.
   */
  public static ServerTrust load(Path caFile, Identity server, Duration reload) {
    return new ServerTrust(caFile, server, reload);
  }

  public Path caFile() {
    return caFile;
  }

  public Identity server() {
    return server;
  }

  /** For a channel to the server: verify it, present no certificate. */
  public ChannelCredentials channelCredentials() {
    return TlsChannelCredentials.newBuilder().trustManager(trust).build();
  }

  /** Stops reloading the CA file. */
  @Override
  public void close() {
    try {
      reload.close();
    } catch (IOException e) {
      // only cancels a scheduled task
    }
  }
}
