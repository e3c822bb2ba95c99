package io.kmesos.api.tls;

import io.grpc.ChannelCredentials;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptor;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import io.grpc.util.AdvancedTlsX509KeyManager;
import io.grpc.util.AdvancedTlsX509TrustManager;
import io.grpc.util.AdvancedTlsX509TrustManager.SslSocketAndEnginePeerVerifier;
import io.grpc.util.AdvancedTlsX509TrustManager.Verification;
import java.io.Closeable;
import java.io.IOException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLEngine;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Mutual TLS for every gRPC server and channel of one process, from one {@link TlsSettings}: the
 * process's certificate and key, and the cluster's CA, each read again from their files every
 * {@link TlsSettings#reload()} (a rotated certificate is presented, a new CA trusted, on the next
 * handshake, without a restart; connections already open keep the certificate they began with).
 *
 * <p>Servers require a client certificate that chains to the CA and is valid now (checked by the
 * TLS layer: a plaintext client, a foreign CA's certificate or an expired one never completes a
 * handshake), then {@link IdentityCheck} admits only the kmesos identities the server names, with a
 * status that says why. Clients check the server's certificate the same way and that it carries the
 * identity they meant to reach (not its host name: replicas are reached by pod DNS names in
 * Kubernetes and by 127.0.0.1 locally, and an identity is what a stolen DNS name cannot fake).
 */
public final class MutualTls implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(MutualTls.class);
  private static final ScheduledExecutorService RELOADS =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "tls-reload");
            t.setDaemon(true);
            return t;
          });

  private final TlsSettings settings;
  private final AdvancedTlsX509KeyManager keys = new AdvancedTlsX509KeyManager();
  private final AdvancedTlsX509TrustManager clientCertificates;
  private final Map<Identity, AdvancedTlsX509TrustManager> serverCertificates =
      new ConcurrentHashMap<>();
  private final List<Closeable> reloads = new ArrayList<>();

  private MutualTls(TlsSettings settings) {
    this.settings = settings;
    checkOwnCertificate(settings);
    try {
      keys.updateIdentityCredentials(settings.certFile().toFile(), settings.keyFile().toFile());
      reloads.add(
          whenChanged(
              List.of(settings.certFile(), settings.keyFile()),
              () ->
                  keys.updateIdentityCredentials(
                      settings.certFile().toFile(), settings.keyFile().toFile())));
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalArgumentException(
          "TLS: cannot load "
              + settings.certFile()
              + " with "
              + settings.keyFile()
              + ": "
              + message(e));
    }
    this.clientCertificates = trustManager(null);
  }

  /**
   * Loads the files of {@code settings} (a one-line IllegalArgumentException if they are unusable)
   * and reloads them.
   */
  public static MutualTls load(TlsSettings settings) {
    return new MutualTls(settings);
  }

  public TlsSettings settings() {
    return settings;
  }

  /**
   * For a server: present our certificate, require one from every client (checked with {@link
   * #identityCheck}).
   */
  public ServerCredentials serverCredentials() {
    return TlsServerCredentials.newBuilder()
        .keyManager(keys)
        .trustManager(clientCertificates)
        .clientAuth(TlsServerCredentials.ClientAuth.REQUIRE)
        .build();
  }

  /**
   * For a server whose clients may present a certificate but need not: the master's port, where
   * frameworks authenticate with a bearer token alone while agents and admins also present their
   * certificate. A certificate that is presented must still chain to the CA and be valid (the TLS
   * layer refuses it otherwise); each service then checks the identity it requires itself.
   */
  public ServerCredentials serverCredentialsClientCertificateOptional() {
    return TlsServerCredentials.newBuilder()
        .keyManager(keys)
        .trustManager(clientCertificates)
        .clientAuth(TlsServerCredentials.ClientAuth.OPTIONAL)
        .build();
  }

  /**
   * The interceptor every server of this process adds: only {@code accepted} identities may call
   * it.
   */
  public static ServerInterceptor identityCheck(Set<Identity> accepted) {
    return new IdentityCheck(accepted);
  }

  /**
   * For a channel to a server that must present {@code server}'s identity; we present our own
   * certificate.
   */
  public ChannelCredentials channelCredentials(Identity server) {
    return TlsChannelCredentials.newBuilder()
        .keyManager(keys)
        .trustManager(serverCertificates.computeIfAbsent(server, this::trustManager))
        .build();
  }

  /**
   * A trust manager of the CA file; with {@code server} set, it also requires that identity of the
   * peer.
   */
  private AdvancedTlsX509TrustManager trustManager(Identity server) {
    try {
      AdvancedTlsX509TrustManager.Builder builder =
          AdvancedTlsX509TrustManager.newBuilder()
              .setVerification(Verification.CERTIFICATE_ONLY_VERIFICATION);
      if (server != null) {
        builder.setSslSocketAndEnginePeerVerifier(new ServerIdentity(server));
      }
      AdvancedTlsX509TrustManager trust = builder.build();
      trust.updateTrustCredentials(settings.caFile().toFile());
      Closeable reload =
          whenChanged(
              List.of(settings.caFile()),
              () -> trust.updateTrustCredentials(settings.caFile().toFile()));
      synchronized (reloads) {
        reloads.add(reload);
      }
      return trust;
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalArgumentException(
          "TLS: cannot load the CA certificate " + settings.caFile() + ": " + message(e));
    }
  }

  /**
   * Refuses at start what would only fail every handshake later: an expired certificate, or a key
   * of another certificate.
   */
  private static void checkOwnCertificate(TlsSettings settings) {
    X509Certificate cert;
    PrivateKey key;
    try {
      cert = Pem.certificates(Files.readString(settings.certFile())).get(0);
      key = Pem.privateKey(Files.readString(settings.keyFile()));
      Pem.certificates(Files.readString(settings.caFile()));
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException("TLS: " + message(e));
    }
    Instant now = Instant.now();
    if (cert.getNotAfter().toInstant().isBefore(now)) {
      throw new IllegalArgumentException(
          "TLS: the certificate in "
              + settings.certFile()
              + " expired at "
              + cert.getNotAfter().toInstant()
              + "; issue a new one (kmesos-certs)");
    }
    try {
      String algorithm =
          key.getAlgorithm().equals("EC") ? "SHA256withECDSA" : "SHA256with" + key.getAlgorithm();
      Signature sign = Signature.getInstance(algorithm);
      sign.initSign(key);
      sign.update(new byte[] {1, 2, 3});
      byte[] signature = sign.sign();
      Signature verify = Signature.getInstance(algorithm);
      verify.initVerify(cert.getPublicKey());
      verify.update(new byte[] {1, 2, 3});
      if (!verify.verify(signature)) {
        throw new GeneralSecurityException("mismatch");
      }
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException(
          "TLS: the private key in "
              + settings.keyFile()
              + " is not the key of the certificate in "
              + settings.certFile());
    }
  }

  /** What a reload does: read the files again into a key or trust manager. */
  private interface Reload {
    void run() throws IOException, GeneralSecurityException;
  }

  /**
   * Every {@link TlsSettings#reload()}, runs {@code reload} if one of {@code files} changed (its
   * modification time or size). Scheduled here rather than by gRPC's periodic reloaders, which
   * silently stretch any period under one minute to a minute. A reload that fails (e.g. the
   * certificate written and its key not yet) keeps the previous credentials and is tried again on
   * the next change or period.
   */
  private Closeable whenChanged(List<Path> files, Reload reload) {
    long period = settings.reload().toMillis();
    Object[] seen = {stamp(files)};
    boolean[] failed = {false};
    ScheduledFuture<?> task =
        RELOADS.scheduleWithFixedDelay(
            () -> {
              List<String> now = stamp(files);
              if (now.equals(seen[0]) && !failed[0]) {
                return;
              }
              try {
                reload.run();
                seen[0] = now;
                if (failed[0]) {
                  LOG.info("TLS: {} read again", files);
                }
                failed[0] = false;
              } catch (IOException | GeneralSecurityException | RuntimeException e) {
                if (!failed[0]) {
                  LOG.warn(
                      "TLS: cannot read {} again (keeping the previous): {}", files, message(e));
                }
                failed[0] = true;
              }
            },
            period,
            period,
            TimeUnit.MILLISECONDS);
    return () -> task.cancel(false);
  }

  /**
   * Each file's identity (inode: a Secret volume swaps in new files), modification time and size
   * ("missing" if it cannot be read).
   */
  private static List<String> stamp(List<Path> files) {
    List<String> stamps = new ArrayList<>();
    for (Path f : files) {
      try {
        BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class);
        stamps.add(a.fileKey() + "/" + a.lastModifiedTime().toInstant() + "/" + a.size());
      } catch (IOException e) {
        stamps.add("missing");
      }
    }
    return stamps;
  }

  private static String message(Throwable e) {
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }

  /** Stops reloading the files. */
  @Override
  public void close() {
    synchronized (reloads) {
      for (Closeable c : reloads) {
        try {
          c.close();
        } catch (IOException e) {
          // only cancels a scheduled task
        }
      }
      reloads.clear();
    }
  }

  /**
   * A client's check of the server it reached: the certificate (already chained to the CA) carries
   * {@code expected}.
   */
  record ServerIdentity(Identity expected) implements SslSocketAndEnginePeerVerifier {
    @Override
    public void verifyPeerCertificate(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      check(chain);
    }

    @Override
    public void verifyPeerCertificate(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      check(chain);
    }

    private void check(X509Certificate[] chain) throws CertificateException {
      if (chain == null || chain.length == 0 || !Identity.of(chain[0]).contains(expected)) {
        throw new CertificateException(
            "the server's certificate "
                + (chain == null || chain.length == 0 ? "is missing" : Identity.describe(chain[0]))
                + " is not a kmesos "
                + expected.component()
                + "'s ("
                + expected.uri()
                + ")");
      }
    }
  }
}
