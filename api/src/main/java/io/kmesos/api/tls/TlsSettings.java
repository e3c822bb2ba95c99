package io.kmesos.api.tls;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Where a process finds its TLS material, validated: the cluster's CA certificate (whom to trust),
 * its own certificate chain and private key (PEM, the key PKCS#8). The usual form is one directory
 * holding {@code ca.crt}, {@code tls.crt} and {@code tls.key}: the layout of a Kubernetes TLS
 * Secret mounted as a volume and of cert-manager's Secrets. The files are read again every {@code
 * reload} period, so a rotated certificate is used without a restart.
 */
public record TlsSettings(Path caFile, Path certFile, Path keyFile, Duration reload) {
  /**
   * How often the files are read again by default: a Secret volume itself updates within about a
   * minute.
   */
  public static final Duration DEFAULT_RELOAD = Duration.ofMinutes(1);

  public static final String CA_FILE = "ca.crt";
  public static final String CERT_FILE = "tls.crt";
  public static final String KEY_FILE = "tls.key";

  public TlsSettings {
    if (reload == null || reload.isNegative() || reload.isZero()) {
      throw new IllegalArgumentException("the TLS reload period must be positive, not " + reload);
    }
    for (Path p : new Path[] {caFile, certFile, keyFile}) {
      if (p == null) {
        throw new IllegalArgumentException(
            "TLS needs a CA certificate, a certificate and a private key");
      }
      if (!Files.isRegularFile(p) || !Files.isReadable(p)) {
        throw new IllegalArgumentException(
            "TLS: cannot read " + p + (Files.exists(p) ? "" : ": no such file"));
      }
    }
  }

  /** {@code dir}/ca.crt, tls.crt and tls.key, reloaded every minute. */
  public static TlsSettings fromDirectory(Path dir) {
    Paths p = fromDirectoryUnchecked(dir);
    return new TlsSettings(p.caFile(), p.certFile(), p.keyFile(), DEFAULT_RELOAD);
  }

  /**
   * The three file paths of {@code dir}, checked only when the settings are made (some may be given
   * explicitly).
   */
  static Paths fromDirectoryUnchecked(Path dir) {
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException(
          "TLS: "
              + dir
              + " is not a directory (it must hold "
              + CA_FILE
              + ", "
              + CERT_FILE
              + " and "
              + KEY_FILE
              + ")");
    }
    return new Paths(dir.resolve(CA_FILE), dir.resolve(CERT_FILE), dir.resolve(KEY_FILE));
  }

  record Paths(Path caFile, Path certFile, Path keyFile) {}

  public TlsSettings withReload(Duration period) {
    return new TlsSettings(caFile, certFile, keyFile, period);
  }
}
