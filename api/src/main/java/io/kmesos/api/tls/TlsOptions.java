package io.kmesos.api.tls;

import io.kmesos.api.cli.Durations;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The TLS options every kmesos command that speaks gRPC takes (a picocli mixin). There is no
 * plaintext mode: every connection is mutual TLS.
 */
public final class TlsOptions {
  @Spec(Spec.Target.MIXEE)
  CommandSpec command;

  @Option(
      names = "--tls-dir",
      paramLabel = "DIR",
      defaultValue = "${env:KMESOS_TLS_DIR}",
      description =
          "A directory holding ca.crt (the cluster's CA), tls.crt and tls.key (this process's certificate and "
              + "PKCS#8 key): a mounted Kubernetes TLS Secret, or one made by kmesos-certs. Also read from $KMESOS_TLS_DIR.")
  Path dir;

  @Option(
      names = "--tls-ca",
      paramLabel = "FILE",
      description = "The CA certificate(s) to trust, instead of DIR/ca.crt.")
  Path ca;

  @Option(
      names = "--tls-cert",
      paramLabel = "FILE",
      description = "This process's certificate (chain), instead of DIR/tls.crt.")
  Path cert;

  @Option(
      names = "--tls-key",
      paramLabel = "FILE",
      description = "This process's private key, instead of DIR/tls.key.")
  Path key;

  @Option(
      names = "--tls-reload",
      paramLabel = "DURATION",
      defaultValue = "1m",
      converter = Durations.class,
      description =
          "How often the files are read again, so rotated certificates are used without a restart "
              + "(default: ${DEFAULT-VALUE}).")
  Duration reload;

  /** The validated settings; a one-line parameter error if they are missing or unreadable. */
  public TlsSettings settings() {
    try {
      if (dir != null && dir.toString().isBlank()) {
        dir = null; // an empty $KMESOS_TLS_DIR is no directory (not the current one)
      }
      if (dir == null && (ca == null || cert == null || key == null)) {
        throw new IllegalArgumentException(
            "--tls-dir is missing: every kmesos connection is mutual TLS; name the directory "
                + "of this process's ca.crt, tls.crt and tls.key (or set $KMESOS_TLS_DIR, or give --tls-ca, --tls-cert and --tls-key)");
      }
      TlsSettings.Paths base = dir == null ? null : TlsSettings.fromDirectoryUnchecked(dir);
      return new TlsSettings(
          ca != null ? ca : base.caFile(),
          cert != null ? cert : base.certFile(),
          key != null ? key : base.keyFile(),
          reload);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(command.commandLine(), e.getMessage());
    }
  }

  /** Loads them (a one-line parameter error if the files are unusable). */
  public MutualTls load() {
    TlsSettings settings = settings();
    try {
      return MutualTls.load(settings);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(command.commandLine(), e.getMessage());
    }
  }
}
